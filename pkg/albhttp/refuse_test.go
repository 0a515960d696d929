package albhttp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// Events refused before the handler runs still leave one request line.
func TestFunctionLogsRefusedEvents(t *testing.T) {
	tests := []struct {
		name, payload, code string
	}{
		{"garbage JSON", `{"httpMethod":`, "BadRequest"},
		{"relative path", `{"httpMethod":"GET","path":"shotgun/a"}`, "InvalidURI"},
		{"bad base64", `{"httpMethod":"PUT","path":"/a","isBase64Encoded":true,"body":"!!"}`, "InvalidRequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			called := false
			fn := albhttp.NewFunction(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }),
				albhttp.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
			out, err := fn.Invoke(context.Background(), []byte(tc.payload))
			if err != nil || called {
				t.Fatalf("err %v, handler called %v", err, called)
			}
			if !strings.Contains(string(out), `"statusCode":400`) || !strings.Contains(string(out), tc.code) {
				t.Errorf("response %s", out)
			}
			if n := strings.Count(logs.String(), `"msg":"request"`); n != 1 || !strings.Contains(logs.String(), `"decision":"error"`) ||
				!strings.Contains(logs.String(), `"errorCode":"`+tc.code+`"`) {
				t.Errorf("log %q", logs.String())
			}
		})
	}
}

// WithRefused receives every answer the adapter makes itself, including a
// handler's answer the ALB would refuse, and the handler's logger is not
// used for them.
func TestFunctionHandsRefusalsToTheHook(t *testing.T) {
	big := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Amz-Meta-Big", strings.Repeat("a", albhttp.ResponseLimit))
		w.WriteHeader(http.StatusOK)
	})
	tests := []struct {
		name, payload string
		h             http.Handler
		code          string
		method        string
	}{
		{"garbage JSON", `{"httpMethod":`, http.NotFoundHandler(), "BadRequest", ""},
		{"relative path", `{"httpMethod":"GET","path":"shotgun/a"}`, http.NotFoundHandler(), "InvalidURI", "GET"},
		{"answer over the ALB limit", `{"httpMethod":"GET","path":"/a"}`, big, "InternalError", "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var got []string
			fn := albhttp.NewFunction(tc.h, albhttp.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
				albhttp.WithRefused(func(w http.ResponseWriter, r *http.Request, err error, _ time.Duration) {
					got = append(got, r.Method+" "+s3error.Classify(err).Code)
					w.Header().Set("X-Answered-By", "hook")
					s3error.Write(w, r, err, "")
				}))
			out, err := fn.Invoke(context.Background(), []byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.method + " " + tc.code; len(got) != 1 || got[0] != want {
				t.Errorf("hook got %q, want [%q]", got, want)
			}
			if !strings.Contains(string(out), `\u003cCode\u003e`+tc.code+`\u003c/Code\u003e`) {
				t.Errorf("response %.300s", out)
			}
			if !strings.Contains(string(out), `"X-Answered-By":["hook"]`) {
				t.Errorf("the hook's answer was not the one sent: %.300s", out)
			}
			if logs.Len() != 0 {
				t.Errorf("the adapter logged for itself: %s", logs.String())
			}
		})
	}
}
