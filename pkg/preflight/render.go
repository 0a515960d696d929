package preflight

import (
	"io"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// text is how preflight's report reads: durations to the millisecond, and
// every status counted, WARN too.
var text = stepreport.Text{Counted: []Status{Pass, Fail, Warn, Skip}}

// Line is a step's text line, as s3proxy check prints its own: status,
// name, duration, detail, and for FAIL, WARN and SKIP the hint after "—".
func Line(s Step) string { return text.Line(s) }

// Summary is the last text line.
func Summary(r Report) string { return text.Summary(r.OK, r.Steps) }

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r Report) error { return stepreport.WriteJSON(w, r) }
