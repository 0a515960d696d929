// Package emf writes the proxy's CloudWatch metrics as Embedded Metric
// Format log lines. Lambda ships stdout to CloudWatch Logs, which extracts
// the metrics asynchronously, so recording a request costs a line of output
// and no network call on the request path.
//
// Format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package emf

import (
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
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
	mu     sync.Mutex
	w      io.Writer
	bucket string
	now    func() time.Time
}

// New returns a writer for the proxy in front of bucket.
func New(w io.Writer, bucket string) *Writer {
	return &Writer{w: w, bucket: bucket, now: time.Now}
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Record writes s as one line. Errors writing are returned, never fatal.
func (w *Writer) Record(s Sample) error {
	directives := []directive{{
		Namespace:  Namespace,
		Dimensions: [][]string{{"Bucket", "Decision"}},
		Metrics: []metricDef{
			{Requests, "Count"}, {InlineBytes, "Bytes"},
		},
	}}
	doc := map[string]any{
		"Bucket":    w.bucket,
		"Decision":  s.Decision,
		Requests:    1,
		InlineBytes: s.InlineBytes,
	}
	if s.Upstream {
		directives[0].Metrics = append(directives[0].Metrics, metricDef{UpstreamLatency, "Milliseconds"})
		doc[UpstreamLatency] = float64(s.UpstreamLatency.Microseconds()) / 1000
		directives = append(directives, directive{
			Namespace:  Namespace,
			Dimensions: [][]string{{"Bucket", "UpstreamStatusClass"}},
			Metrics:    []metricDef{{UpstreamResponses, "Count"}, {UpstreamAttempts, "Count"}},
		})
		doc["UpstreamStatusClass"] = StatusClass(s.UpstreamStatus)
		doc[UpstreamResponses] = 1
		doc[UpstreamAttempts] = max(s.UpstreamAttempts, 1)
	}
	doc["_aws"] = metadata{Timestamp: w.now().UnixMilli(), CloudWatchMetrics: directives}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(append(line, '\n'))
	return err
}

// StatusClass buckets a status: "2xx" … "5xx", or "none" when S3 never
// answered.
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "none"
	}
	return strconv.Itoa(status/100) + "xx"
}
