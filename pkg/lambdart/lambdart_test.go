package lambdart_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mediaisolation/s3proxy/pkg/lambdart"
)

// fakeAPI is the runtime API as Lambda serves it: a queue of events, and
// the answers posted for them.
type fakeAPI struct {
	t              *testing.T
	mu             sync.Mutex
	events         []string
	posted         map[string]post
	served         int
	closeAfterNext bool // answer "next" with Connection: close
	conns          map[string]bool
	// withInvocationID sends Lambda-Runtime-Invocation-Id "inv-<n>" on next;
	// gone answers the posts of these request IDs 410, as the API does
	// once an invocation has timed out.
	withInvocationID bool
	gone             map[string]bool
}

type post struct {
	kind, contentType, body string
	length                  int64
	invocationID            string // the Lambda-Runtime-Invocation-Id it carried
}

func newFakeAPI(t *testing.T, events ...string) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, events: events, posted: map[string]post{}, conns: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns[r.RemoteAddr] = true
	const base = "/2018-06-01/runtime/invocation/"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == base+"next":
		if len(f.events) == 0 {
			w.WriteHeader(http.StatusGone) // ends the test's Serve
			return
		}
		f.served++
		id := "req-" + strconv.Itoa(f.served)
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-"+id)
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:proxy:live")
		if f.closeAfterNext {
			w.Header().Set("Connection", "close")
		}
		if f.withInvocationID {
			w.Header().Set("Lambda-Runtime-Invocation-Id", "inv-"+strconv.Itoa(f.served))
		}
		_, _ = io.WriteString(w, f.events[0])
		f.events = f.events[1:]
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, base):
		rest := strings.TrimPrefix(r.URL.Path, base)
		id, kind, _ := strings.Cut(rest, "/")
		body, _ := io.ReadAll(r.Body)
		if r.TransferEncoding != nil {
			f.t.Errorf("%s posted chunked; the length is known", id)
		}
		f.posted[id] = post{kind: kind, contentType: r.Header.Get("Content-Type"), body: string(body), length: r.ContentLength,
			invocationID: r.Header.Get("Lambda-Runtime-Invocation-Id")}
		if f.gone[id] {
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, `{"errorMessage":"Invoke timed out","errorType":"InvokeTimeout"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

type handlerFunc func(context.Context, []byte) ([]byte, error)

func (h handlerFunc) Invoke(ctx context.Context, p []byte) ([]byte, error) { return h(ctx, p) }

func addr(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestServeAnswersEachInvocation(t *testing.T) {
	for _, closing := range []bool{false, true} {
		t.Run("close="+strconv.FormatBool(closing), func(t *testing.T) {
			big := strings.Repeat("x", 300<<10)
			api, srv := newFakeAPI(t, `{"n":1}`, `{"n":2}`, big)
			api.mu.Lock() // the fake's handler runs on the server's goroutines
			api.closeAfterNext = closing
			api.mu.Unlock()
			var seen []string
			err := lambdart.Serve(addr(srv), handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
				lc, ok := lambdacontext.FromContext(ctx)
				if !ok || lc.AwsRequestID == "" || !strings.HasSuffix(lc.InvokedFunctionArn, ":live") {
					t.Errorf("invocation context %+v", lc)
				}
				if _, ok := ctx.Deadline(); !ok {
					t.Error("no deadline on the context")
				}
				if got := os.Getenv("_X_AMZN_TRACE_ID"); !strings.HasSuffix(got, lc.AwsRequestID) {
					t.Errorf("_X_AMZN_TRACE_ID = %q for %s", got, lc.AwsRequestID)
				}
				seen = append(seen, lc.AwsRequestID)
				return append([]byte("echo:"), p...), nil
			}))
			if err == nil || !strings.Contains(err.Error(), "410") {
				t.Fatalf("Serve ended with %v, want the fake's 410 at the end of its queue", err)
			}
			if len(seen) != 3 {
				t.Fatalf("handled %d invocations, want 3", len(seen))
			}
			want := map[string]string{seen[0]: `echo:{"n":1}`, seen[1]: `echo:{"n":2}`, seen[2]: "echo:" + big}
			for id, body := range want {
				p := api.posted[id]
				if p.kind != "response" || p.body != body || p.length != int64(len(body)) || p.contentType != "application/octet-stream" {
					t.Errorf("%s: posted %s, %d bytes (declared %d), %s", id, p.kind, len(p.body), p.length, p.contentType)
				}
			}
			if n := len(api.conns); !closing && n != 1 {
				t.Errorf("%d connections to the runtime API, want one kept alive", n)
			}
		})
	}
}

func TestServeReportsErrorsAndPanics(t *testing.T) {
	api, srv := newFakeAPI(t, "fail", "ok", "panic", "never")
	err := lambdart.Serve(addr(srv), handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		switch string(p) {
		case "fail":
			return nil, errors.New("no such thing")
		case "panic":
			panic("boom")
		}
		return nil, nil
	}))
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Serve ended with %v, want the panic", err)
	}
	var errs, oks int
	for id, p := range api.posted {
		var body struct{ ErrorMessage, ErrorType string }
		switch p.kind {
		case "error":
			errs++
			if json.Unmarshal([]byte(p.body), &body) != nil || p.contentType != "application/json" ||
				!(body.ErrorMessage == "no such thing" && body.ErrorType == "errorString" ||
					body.ErrorMessage == "boom" && body.ErrorType == "Runtime.Panic") {
				t.Errorf("%s: error posted as %q (%s)", id, p.body, p.contentType)
			}
		case "response":
			oks++
			if p.body != "" || p.length != 0 {
				t.Errorf("%s: a nil answer posted as %q", id, p.body)
			}
		}
	}
	if errs != 2 || oks != 1 || len(api.events) != 1 {
		t.Errorf("%d errors and %d answers posted, %d events left; want 2, 1 and 1 (nothing after the panic)", errs, oks, len(api.events))
	}
}

func TestStartNeedsTheAPI(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	if err := lambdart.Start(handlerFunc(nil)); err == nil {
		t.Fatal("Start without AWS_LAMBDA_RUNTIME_API did not fail")
	}
}

// releasingHandler reuses its answers' memory, as albhttp.Function does: it
// scribbles over each answer it is handed back.
type releasingHandler struct {
	api      *fakeAPI
	buf      []byte
	released int
	t        *testing.T
}

func (h *releasingHandler) Invoke(_ context.Context, p []byte) ([]byte, error) {
	h.buf = append(h.buf[:0], "echo:"...)
	return append(h.buf, p...), nil
}

func (h *releasingHandler) Release(out []byte) {
	h.api.mu.Lock()
	posted := len(h.api.posted)
	h.api.mu.Unlock()
	if posted != h.released+1 {
		h.t.Errorf("answer handed back with %d posted, want %d: before its POST", posted, h.released+1)
	}
	h.released++
	for i := range out {
		out[i] = '!'
	}
	h.buf = out[:0]
}

func TestReleaseAfterThePost(t *testing.T) {
	api, srv := newFakeAPI(t, `{"n":1}`, strings.Repeat("y", 100<<10), `{"n":3}`)
	h := &releasingHandler{api: api, t: t}
	if err := lambdart.Serve(addr(srv), h); err == nil || !strings.Contains(err.Error(), "410") {
		t.Fatalf("Serve ended with %v, want the fake's 410", err)
	}
	if h.released != 3 {
		t.Errorf("%d answers handed back, want 3", h.released)
	}
	for id, p := range api.posted {
		if !strings.HasPrefix(p.body, "echo:") || strings.Contains(p.body, "!") {
			t.Errorf("%s: posted %.40q, overwritten before it was sent", id, p.body)
		}
	}
}

// The invocation ID the API sends with an invocation goes back with its
// answer, and only then; an answer the API refuses as too late (410) ends
// that invocation, not the function.
func TestInvocationIDAndLateAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		withID bool
		gone   map[string]bool
	}{
		{"the API sends an invocation ID", true, nil},
		{"the API sends none", false, nil},
		{"an answer too late", true, map[string]bool{"req-1": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, srv := newFakeAPI(t, `{"n":1}`, `{"n":2}`)
			api.withInvocationID, api.gone = tc.withID, tc.gone
			err := lambdart.Serve(addr(srv), handlerFunc(func(_ context.Context, p []byte) ([]byte, error) { return p, nil }))
			if err == nil || !strings.Contains(err.Error(), "410") || !strings.Contains(err.Error(), "next") {
				t.Fatalf("Serve ended with %v, want the fake's 410 on next, after both invocations", err)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if len(api.posted) != 2 {
				t.Fatalf("%d answers posted, want 2", len(api.posted))
			}
			for i, id := range []string{"req-1", "req-2"} {
				want := ""
				if tc.withID {
					want = "inv-" + strconv.Itoa(i+1)
				}
				if got := api.posted[id].invocationID; got != want {
					t.Errorf("%s posted with Lambda-Runtime-Invocation-Id %q, want %q", id, got, want)
				}
			}
		})
	}
}
