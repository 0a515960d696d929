package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mediaisolation/s3proxy/pkg/emf"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
)

// The request's logging as it was before it became one write: the request
// line through Logger.LogAttrs, then the metric line from a map through
// encoding/json, each with its own Write. It is the baseline
// BenchmarkRecord measures record against.

type baselineEMF struct {
	mu     sync.Mutex
	w      io.Writer
	bucket string
}

type baselineMetricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type baselineDirective struct {
	Namespace  string              `json:"Namespace"`
	Dimensions [][]string          `json:"Dimensions"`
	Metrics    []baselineMetricDef `json:"Metrics"`
}

type baselineMetadata struct {
	Timestamp         int64               `json:"Timestamp"`
	CloudWatchMetrics []baselineDirective `json:"CloudWatchMetrics"`
}

func (w *baselineEMF) Record(s emf.Sample) error {
	directives := []baselineDirective{{
		Namespace:  emf.Namespace,
		Dimensions: [][]string{{"Bucket", "Decision"}},
		Metrics:    []baselineMetricDef{{emf.Requests, "Count"}, {emf.InlineBytes, "Bytes"}},
	}}
	doc := map[string]any{"Bucket": w.bucket, "Decision": s.Decision, emf.Requests: 1, emf.InlineBytes: s.InlineBytes}
	if s.Upstream {
		directives[0].Metrics = append(directives[0].Metrics, baselineMetricDef{emf.UpstreamLatency, "Milliseconds"})
		doc[emf.UpstreamLatency] = float64(s.UpstreamLatency.Microseconds()) / 1000
		directives = append(directives, baselineDirective{
			Namespace:  emf.Namespace,
			Dimensions: [][]string{{"Bucket", "UpstreamStatusClass"}},
			Metrics:    []baselineMetricDef{{emf.UpstreamResponses, "Count"}, {emf.UpstreamAttempts, "Count"}},
		})
		doc["UpstreamStatusClass"] = emf.StatusClass(s.UpstreamStatus)
		doc[emf.UpstreamResponses] = 1
		doc[emf.UpstreamAttempts] = max(s.UpstreamAttempts, 1)
	}
	doc["_aws"] = baselineMetadata{Timestamp: time.Now().UnixMilli(), CloudWatchMetrics: directives}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(append(line, '\n'))
	return err
}

func (x *exchange) recordBaseline(m *baselineEMF) {
	h, o := x.h, &x.o
	ctx := x.r.Context()
	level := slog.LevelInfo
	if o.decision == Error {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", x.r.Method),
		slog.String("key", o.key),
		slog.String("decision", string(o.decision)),
		slog.Int("status", o.status),
		slog.Int("upstreamStatus", o.upstreamStatus),
		slog.Int("upstreamAttempts", o.attempts),
		slog.Int("inlineBytes", o.inlineBytes),
		slog.Float64("durationMs", float64(h.now().Sub(x.start).Microseconds())/1000),
	}
	if o.code != "" {
		attrs = append(attrs, slog.String("errorCode", o.code))
	}
	h.log.LogAttrs(ctx, level, "request", attrs...)
	err := m.Record(emf.Sample{
		Decision: string(o.decision), InlineBytes: o.inlineBytes,
		UpstreamStatus: o.upstreamStatus, UpstreamLatency: o.upstreamLatency, Upstream: o.attempts > 0,
		UpstreamAttempts: o.attempts,
	})
	if err != nil {
		h.log.WarnContext(ctx, "writing metrics failed", "error", err.Error())
	}
}

// BenchmarkRecord measures a request's logging, as the function is wired:
// lambdalog and EMF on one file (/dev/null, so every Write is a real
// write(2)), for a ping and a 100 KB inline read. Compare the two
// sub-benchmarks of one run, never figures across runs.
func BenchmarkRecord(b *testing.B) {
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cfg := testConfig(b, nil)
	h := New(cfg, Deps{Logger: lambdalog.New(out, slog.LevelInfo), Metrics: emf.New(out, cfg.Bucket)})
	old := &baselineEMF{w: out, bucket: cfg.Bucket}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f507cfc-xmpl-4697-b07a-ac58fc914c95"})
	cases := []struct {
		name, method, target string
		o                    outcome
	}{
		{"ping", "GET", "/ping", outcome{decision: Ping, status: 200}},
		{"inline", "GET", "/shotgun/proj/v001/thumb.jpg", outcome{decision: Inline, key: "shotgun/proj/v001/thumb.jpg",
			upstreamStatus: 206, inlineBytes: 102400, status: 200, attempts: 1, upstreamLatency: 12500 * time.Microsecond}},
	}
	for _, c := range cases {
		x := &exchange{h: h, r: httptest.NewRequest(c.method, c.target, nil).WithContext(ctx), start: h.now(), o: c.o}
		b.Run(c.name+"/baseline=two-writes", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x.recordBaseline(old)
			}
		})
		b.Run(c.name+"/one-write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x.record()
			}
		})
	}
}
