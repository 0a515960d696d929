// Package emf writes the proxy's CloudWatch metrics as Embedded Metric
// Format log lines. Lambda ships stdout to CloudWatch Logs, which extracts
// the metrics asynchronously, so recording a request costs a line of output
// and no network call on the request path.
//
// Format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package emf

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Namespace is where the proxy's metrics live.
const Namespace = "S3Proxy"

// Metric names.
const (
	Requests          = "Requests"
	InlineBytes       = "InlineBytes"
	UpstreamLatency   = "UpstreamLatency"
	UpstreamResponses = "UpstreamResponses"
	UpstreamAttempts  = "UpstreamAttempts"
)

// Sample is what one request contributes.
type Sample struct {
	Decision    string
	InlineBytes int
	// UpstreamStatus is S3's status, 0 when no upstream request was made
	// or it failed before an answer.
	UpstreamStatus int
	// UpstreamLatency is the time to S3's response headers; zero with no
	// upstream request.
	UpstreamLatency time.Duration
	Upstream        bool // an upstream request was attempted
	// UpstreamAttempts counts the upstream requests made, retries
	// included.
	UpstreamAttempts int
}

// Writer emits one EMF line per Record. Dimensions are few and bounded so
// the metric count (and its cost) is predictable: Bucket × Decision (seven
// values) for requests, bytes and latency; Bucket × UpstreamStatusClass
// (2xx, 3xx, 4xx, 5xx, none) for upstream responses.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
	// buf is the line being written, kept between Records under mu so
	// that a request allocates nothing.
	buf    []byte
	bucket string
	now    func() time.Time
}

// New returns a writer for the proxy in front of bucket.
func New(w io.Writer, bucket string) *Writer {
	return &Writer{w: w, bucket: bucket, now: time.Now}
}

// Record writes line, unless it is empty, and then s's metric line, in one
// Write. line is the request's own log line (newline-terminated), so that a
// request costs one write to the log stream. Two lines in one write stay two
// log events: Lambda cuts what a function writes to stdout into events at
// newlines, and knows no other boundary (AWS, in
// https://github.com/aws/aws-lambda-dotnet/pull/1165); CloudWatch extracts
// the metrics of every log event that follows the format
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html).
// Errors writing are returned, never fatal.
func (w *Writer) Record(line []byte, s Sample) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = w.Append(append(w.buf[:0], line...), s)
	_, err := w.w.Write(w.buf)
	return err
}

// The parts of a line that do not vary. Keys are in encoding/json's order
// for a map (sorted), so a line reads as it did when it was one.
const (
	directiveRequests = `{"Namespace":"` + Namespace + `","Dimensions":[["Bucket","Decision"]],"Metrics":[{"Name":"` +
		Requests + `","Unit":"Count"},{"Name":"` + InlineBytes + `","Unit":"Bytes"}`
	directiveLatency  = `,{"Name":"` + UpstreamLatency + `","Unit":"Milliseconds"}`
	directiveUpstream = `,{"Namespace":"` + Namespace + `","Dimensions":[["Bucket","UpstreamStatusClass"]],"Metrics":[{"Name":"` +
		UpstreamResponses + `","Unit":"Count"},{"Name":"` + UpstreamAttempts + `","Unit":"Count"}]}`
)

// Append appends s's metric line, newline included, to b: the document
// encoding/json made of it before, written by hand because reflection cost
// more than the rest of a small request's logging.
func (w *Writer) Append(b []byte, s Sample) []byte {
	b = append(b, `{"Bucket":`...)
	b = appendString(b, w.bucket)
	b = append(b, `,"Decision":`...)
	b = appendString(b, s.Decision)
	b = append(b, `,"`+InlineBytes+`":`...)
	b = strconv.AppendInt(b, int64(s.InlineBytes), 10)
	b = append(b, `,"`+Requests+`":1`...)
	if s.Upstream {
		b = append(b, `,"`+UpstreamAttempts+`":`...)
		b = strconv.AppendInt(b, int64(max(s.UpstreamAttempts, 1)), 10)
		b = append(b, `,"`+UpstreamLatency+`":`...)
		// Microseconds/1000 is zero or at least 0.001 and far below 1e21,
		// where encoding/json writes a float as 'f' does.
		b = strconv.AppendFloat(b, float64(s.UpstreamLatency.Microseconds())/1000, 'f', -1, 64)
		b = append(b, `,"`+UpstreamResponses+`":1,"UpstreamStatusClass":"`...)
		b = appendStatusClass(b, s.UpstreamStatus)
		b = append(b, '"')
	}
	b = append(b, `,"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, w.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[`+directiveRequests...)
	if s.Upstream {
		b = append(b, directiveLatency+`]}`+directiveUpstream...)
	} else {
		b = append(b, `]}`...)
	}
	return append(b, "]}}\n"...)
}

// StatusClass buckets a status: "2xx" … "5xx", or "none" when S3 never
// answered.
func StatusClass(status int) string {
	return string(appendStatusClass(nil, status))
}

func appendStatusClass(b []byte, status int) []byte {
	if status < 100 || status > 599 {
		return append(b, "none"...)
	}
	return append(b, byte('0'+status/100), 'x', 'x')
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json escapes
// it: control characters (\b, \f, \n, \r and \t by name), quote and backslash; <, > and & as \u00XX;
// invalid UTF-8 as U+FFFD; U+2028 and U+2029.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
