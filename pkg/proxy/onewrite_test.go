package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mediaisolation/s3proxy/pkg/emf"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// writeCounter stands in for the function's stdout: it counts Write calls
// and keeps what each wrote. fail makes that many writes fail first.
type writeCounter struct {
	writes [][]byte
	fail   int
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	if c.fail > 0 {
		c.fail--
		return 0, errors.New("stdout closed")
	}
	return len(p), nil
}

// wiredAsLambda rebuilds f's handler as the function's main wires it: the
// lambdalog logger and the EMF writer on one stream.
func wiredAsLambda(f *fixture, out *writeCounter, level slog.Level) {
	f.h = New(f.h.cfg, Deps{
		Upstream: f.up, Signer: f.sig, Credentials: f.h.creds,
		Logger:  lambdalog.New(out, level),
		Metrics: emf.New(out, f.h.cfg.Bucket),
		Now:     f.h.now, RequestID: lambdalog.RequestID,
	})
}

func invocation(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = "s3-proxy.studio.test"
	return r.WithContext(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-7"}))
}

// lines splits one write into its JSON lines, failing unless each is
// newline-terminated JSON.
func lines(t *testing.T, w []byte) []map[string]any {
	t.Helper()
	if !bytes.HasSuffix(w, []byte("\n")) {
		t.Fatalf("write does not end a line: %q", w)
	}
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSuffix(w, []byte("\n")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// Each request costs one write to the log stream, carrying its request line
// then its metric line, and the write is made before ServeHTTP returns (in
// Lambda, before the answer is posted and the environment may freeze).
func TestOneWritePerRequest(t *testing.T) {
	tests := []struct {
		name, method, target string
		panics               bool
		level                slog.Level
		// writes before the record's: a panic logs its own line.
		before   int
		decision string
		logLevel string // "" when the level filters the request line out
	}{
		{name: "ping", method: "GET", target: "/ping", decision: "ping", logLevel: "INFO"},
		{name: "inline", method: "GET", target: "/shotgun/small.mov?" + presigned(), decision: "inline", logLevel: "INFO"},
		{name: "redirect", method: "GET", target: "/shotgun/large.mov?" + presigned(), decision: "redirect", logLevel: "INFO"},
		{name: "denied", method: "GET", target: "/shotgun/small.mov", decision: "denied", logLevel: "INFO"},
		{name: "error is a warning", method: "PATCH", target: "/shotgun/small.mov", decision: "error", logLevel: "WARN"},
		{name: "panic", method: "GET", target: "/shotgun/small.mov?" + presigned(), panics: true, before: 1, decision: "error", logLevel: "WARN"},
		{name: "request line filtered out, metrics still written", method: "GET", target: "/ping", level: slog.LevelError, decision: "ping"},
		{name: "error filtered out", method: "PATCH", target: "/shotgun/small.mov", level: slog.LevelError, decision: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.panics {
				f.up.do = func(*http.Request) (*http.Response, error) { panic("boom") }
			}
			out := &writeCounter{}
			wiredAsLambda(f, out, tc.level)
			f.h.ServeHTTP(httptest.NewRecorder(), invocation(tc.method, tc.target))

			if len(out.writes) != tc.before+1 {
				t.Fatalf("%d writes, want %d:\n%s", len(out.writes), tc.before+1, bytes.Join(out.writes, []byte("|")))
			}
			got := lines(t, out.writes[tc.before])
			want := 2
			if tc.logLevel == "" {
				want = 1
			}
			if len(got) != want {
				t.Fatalf("the record's write holds %d lines, want %d: %q", len(got), want, out.writes[tc.before])
			}
			if tc.logLevel != "" {
				req := got[0]
				if req["message"] != "request" || req["level"] != tc.logLevel || req["decision"] != tc.decision ||
					req["requestId"] != "req-7" || req["method"] != tc.method {
					t.Errorf("request line %v", req)
				}
			}
			m := got[len(got)-1]
			if _, ok := m["_aws"]; !ok || m["Decision"] != tc.decision || m["Bucket"] != f.h.cfg.Bucket {
				t.Errorf("metric line %v", m)
			}
			if _, ok := m["message"]; ok {
				t.Errorf("the metric line carries log fields: %v", m)
			}
		})
	}
}

// What the ALB adapter refuses is recorded the same way.
func TestOneWriteWhenRefused(t *testing.T) {
	f := newFixture(t, nil)
	out := &writeCounter{}
	wiredAsLambda(f, out, slog.LevelInfo)
	f.h.Refused(httptest.NewRecorder(), invocation("GET", "/"), s3error.ErrBadURI, time.Millisecond)
	if len(out.writes) != 1 {
		t.Fatalf("%d writes, want 1", len(out.writes))
	}
	if got := lines(t, out.writes[0]); len(got) != 2 || got[0]["errorCode"] != "InvalidURI" || got[1]["Decision"] != "error" {
		t.Errorf("lines %v", got)
	}
}

// A write that fails is warned about, on a write of its own, as before.
func TestFailedRecordWriteIsWarned(t *testing.T) {
	f := newFixture(t, nil)
	out := &writeCounter{fail: 1}
	wiredAsLambda(f, out, slog.LevelInfo)
	f.h.ServeHTTP(httptest.NewRecorder(), invocation("GET", "/ping"))
	if len(out.writes) != 2 {
		t.Fatalf("%d writes, want the failed one and the warning", len(out.writes))
	}
	w := lines(t, out.writes[1])
	if len(w) != 1 || w[0]["message"] != "writing metrics failed" || w[0]["level"] != "WARN" || w[0]["requestId"] != "req-7" ||
		!strings.Contains(w[0]["error"].(string), "stdout closed") {
		t.Errorf("warning %v", w)
	}
}

// Lines logged while a request is handled are written when they are
// logged, not held for the request's end.
func TestOtherLinesAreNotHeld(t *testing.T) {
	f := newFixture(t, nil)
	out := &writeCounter{}
	wiredAsLambda(f, out, slog.LevelInfo)
	f.h.retryBase = time.Millisecond
	var during int
	f.up.do = func(*http.Request) (*http.Response, error) {
		f.h.log.WarnContext(context.Background(), "during")
		during = len(out.writes)
		return nil, errors.New("refused")
	}
	f.h.ServeHTTP(httptest.NewRecorder(), invocation("GET", "/shotgun/small.mov?"+presigned()))
	if during == 0 {
		t.Fatal("a warning logged during the request was not written when logged")
	}
}
