package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Line is a step's text line, as s3proxy check prints its own: status,
// name, duration, detail, and for FAIL, WARN and SKIP the hint after "—".
func Line(s Step) string {
	d := s.Duration.Round(time.Millisecond)
	line := fmt.Sprintf("%s  %s  (%s)", s.Status, s.Name, d)
	if s.Detail != "" {
		line += "  " + s.Detail
	}
	if s.Hint != "" && s.Status != Pass {
		line += " — " + s.Hint
	}
	return line
}

// Summary is the last text line.
func Summary(r Report) string {
	n := map[Status]int{}
	for _, s := range r.Steps {
		n[s.Status]++
	}
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: %d passed, %d failed, %d warned, %d skipped", verdict, n[Pass], n[Fail], n[Warn], n[Skip])
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
