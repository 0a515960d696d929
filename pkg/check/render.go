package check

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Line is a step's text line: "PASS  ping  (12ms)  200 text/plain", and on
// failure the detail followed by the hint.
func Line(s Step) string {
	line := fmt.Sprintf("%s  %s  (%s)", s.Status, s.Name, roundDuration(s.Duration))
	switch {
	case s.Status == Fail && s.Hint != "":
		line += "  " + s.Detail + " — " + s.Hint
	case s.Detail != "":
		line += "  " + s.Detail
	}
	return line
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Summary is the last line of the text output.
func Summary(r Report) string {
	var pass, fail, skip int
	for _, s := range r.Steps {
		switch s.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			skip++
		}
	}
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped (objects under %s)", verdict, pass, fail, skip, r.Folder)
}

// WriteText writes every step's line and the summary.
func WriteText(w io.Writer, r Report) error {
	for _, s := range r.Steps {
		if _, err := fmt.Fprintln(w, Line(s)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, Summary(r))
	return err
}

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r Report) error {
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
