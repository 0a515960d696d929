package stepreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Text is how a report reads as text: a line a step, then a summary line.
type Text struct {
	// Round rounds a step's duration for its line; nil: to the millisecond.
	Round func(time.Duration) time.Duration
	// Counted are the statuses the summary counts, in its order.
	Counted []Status
}

// counted names each status in a summary.
var counted = map[Status]string{Pass: "passed", Fail: "failed", Warn: "warned", Skip: "skipped"}

// Line is a step's text line: status, name, duration, detail, and for
// anything but PASS the hint after "—":
// "FAIL  multipart-parts  (40ms)  UploadPart 1 answered 413 — <hint>".
func (t Text) Line(s Step) string {
	d := s.Duration.Round(time.Millisecond)
	if t.Round != nil {
		d = t.Round(s.Duration)
	}
	line := fmt.Sprintf("%s  %s  (%s)", s.Status, s.Name, d)
	if s.Detail != "" {
		line += "  " + s.Detail
	}
	if s.Hint != "" && s.Status != Pass {
		line += " — " + s.Hint
	}
	return line
}

// Summary is the last text line: "OK: 3 passed, 1 failed, 2 skipped",
// with FAILED for OK when ok is false, and a count for each of t.Counted.
func (t Text) Summary(ok bool, steps []Step) string {
	n := map[Status]int{}
	for _, s := range steps {
		n[s.Status]++
	}
	counts := make([]string, 0, len(t.Counted))
	for _, st := range t.Counted {
		counts = append(counts, fmt.Sprintf("%d %s", n[st], counted[st]))
	}
	verdict := "OK"
	if !ok {
		verdict = "FAILED"
	}
	return verdict + ": " + strings.Join(counts, ", ")
}

// WriteJSON writes r as one indented JSON document; a report of no steps
// lists them as [], not null.
func WriteJSON(w io.Writer, r Report) error {
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	return Encode(w, r)
}

// Encode writes v, a report, as one indented JSON document, with <, > and &
// left as they are (details quote URLs and policies): how a report that
// carries more than Report does is written.
func Encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
