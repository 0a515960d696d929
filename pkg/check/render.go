package check

import (
	"fmt"
	"io"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// text is how check's report reads: a step of a second or more to the
// hundredth of a second, and no WARN to count.
var text = stepreport.Text{Round: roundDuration, Counted: []Status{Pass, Fail, Skip}}

// Line is a step's text line: "PASS  ping  (12ms)  200 text/plain", and on
// failure the detail followed by the hint.
func Line(s Step) string { return text.Line(stepreport.Step(s)) }

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Summary is the last line of the text output.
func Summary(r Report) string {
	steps := make([]stepreport.Step, len(r.Steps))
	for i, s := range r.Steps {
		steps[i] = stepreport.Step(s)
	}
	return fmt.Sprintf("%s (objects under %s)", text.Summary(r.OK, steps), r.Folder)
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
	return stepreport.Encode(w, r)
}
