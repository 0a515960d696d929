package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-42"})
	log.InfoContext(ctx, "request", "decision", "inline")
	log.DebugContext(ctx, "hidden")
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	for k, want := range map[string]any{"requestId": "req-42", "message": "request", "decision": "inline", "level": "INFO"} {
		if rec[k] != want {
			t.Errorf("%s: got %v, want %v", k, rec[k], want)
		}
	}
	if _, ok := rec["timestamp"]; !ok {
		t.Error("no timestamp")
	}
	if got := RequestID(ctx); got != "req-42" {
		t.Errorf("RequestID: %q", got)
	}
	if got := RequestID(context.Background()); got != "" {
		t.Errorf("RequestID without Lambda context: %q", got)
	}
}

type lineAppender interface {
	AppendRecord(b []byte, ctx context.Context, r slog.Record) ([]byte, error)
}

// AppendRecord hands back exactly the line Handle writes, request ID and
// the logger's own attributes included, and writes nothing itself.
func TestAppendRecordIsTheLineHandleWrites(t *testing.T) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-42"})
	rec := slog.NewRecord(time.Unix(1795788000, 123456789), slog.LevelWarn, "request", 0)
	rec.AddAttrs(slog.String("key", "a\"b\n<c>"), slog.Int("status", 503), slog.Float64("durationMs", 1.5))
	tests := map[string]func(*slog.Logger) *slog.Logger{
		"root":       func(l *slog.Logger) *slog.Logger { return l },
		"with attrs": func(l *slog.Logger) *slog.Logger { return l.With("bucket", "media") },
		"with group": func(l *slog.Logger) *slog.Logger { return l.WithGroup("g").With("x", 1) },
	}
	for name, derive := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			h := derive(New(&out, slog.LevelInfo)).Handler()
			a, ok := h.(lineAppender)
			if !ok {
				t.Fatalf("%T cannot append a record", h)
			}
			prefix := []byte("kept|")
			got, err := a.AppendRecord(append([]byte(nil), prefix...), ctx, rec.Clone())
			if err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 {
				t.Fatalf("AppendRecord wrote %q", out.Bytes())
			}
			if err := h.Handle(ctx, rec.Clone()); err != nil {
				t.Fatal(err)
			}
			if want := append(prefix, out.Bytes()...); !bytes.Equal(got, want) {
				t.Errorf("AppendRecord\n got %s\nwant %s", got, want)
			}
			if !bytes.Contains(got, []byte(`"requestId":"req-42"`)) || !bytes.HasSuffix(got, []byte("\n")) {
				t.Errorf("line %s", got)
			}
		})
	}
}

// Records appended at once from many goroutines each come back whole.
func TestAppendRecordConcurrent(t *testing.T) {
	a := New(io.Discard, slog.LevelInfo).Handler().(lineAppender)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.Int("i", i), slog.Int("j", j))
				b, err := a.AppendRecord(nil, context.Background(), rec)
				var m map[string]any
				if err != nil || json.Unmarshal(b, &m) != nil || m["i"] != float64(i) || m["j"] != float64(j) {
					t.Errorf("goroutine %d record %d: %v %q", i, j, err, b)
					return
				}
			}
		})
	}
	wg.Wait()
}

// One record may be appended and then handled (the proxy falls back to
// Handle when it cannot append): adding the request ID must not touch the
// caller's record, whose attributes a copy shares.
func TestRecordHandledTwiceIsUnchanged(t *testing.T) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-7"})
	rec := slog.NewRecord(time.Unix(1795788000, 0), slog.LevelWarn, "request", 0)
	for i := range 8 { // past the record's five inline attributes, with spare room behind them
		rec.AddAttrs(slog.Int("a"+strconv.Itoa(i), i))
	}
	var out bytes.Buffer
	h := New(&out, slog.LevelInfo).Handler()
	first, err := h.(lineAppender).AppendRecord(nil, ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, out.Bytes()) || bytes.Count(out.Bytes(), []byte("requestId")) != 1 || bytes.Contains(out.Bytes(), []byte("!BUG")) {
		t.Fatalf("appended %s\nthen handled %s", first, out.Bytes())
	}
}
