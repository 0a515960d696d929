package twin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

func TestDecodeResponse(t *testing.T) {
	bin := samplePattern(3000, 3)
	big := `{"statusCode":200,"multiValueHeaders":{},"isBase64Encoded":false,"body":"` + strings.Repeat("a", twin.ResponseLimit) + `"}`
	tests := []struct {
		name    string
		payload string
		ok      bool
		status  int
		body    []byte
		header  map[string][]string
	}{
		{name: "minimal", payload: `{"statusCode":200,"statusDescription":"200 OK","multiValueHeaders":{},"body":"","isBase64Encoded":false}`,
			ok: true, status: 200, body: []byte{}},
		{name: "plain body and headers", payload: `{"statusCode":404,"multiValueHeaders":{"Content-Type":["application/xml"],"X-A":["1","2"]},"body":"<Error/>","isBase64Encoded":false}`,
			ok: true, status: 404, body: []byte("<Error/>"), header: map[string][]string{"Content-Type": {"application/xml"}, "X-A": {"1", "2"}}},
		{name: "base64 body", payload: `{"statusCode":206,"multiValueHeaders":{"Content-Type":["video/mp4"]},"body":"` + base64.StdEncoding.EncodeToString(bin) + `","isBase64Encoded":true}`,
			ok: true, status: 206, body: bin},
		{name: "no body key (the body is optional)", payload: `{"statusCode":204,"multiValueHeaders":{},"isBase64Encoded":false}`,
			ok: true, status: 204, body: []byte{}},

		{name: "null body", payload: `{"statusCode":200,"multiValueHeaders":{},"body":null,"isBase64Encoded":false}`},
		{name: "missing multiValueHeaders", payload: `{"statusCode":200,"body":"","isBase64Encoded":false}`},
		{name: "null multiValueHeaders", payload: `{"statusCode":200,"multiValueHeaders":null,"body":"","isBase64Encoded":false}`},
		{name: "headers next to multiValueHeaders", payload: `{"statusCode":200,"headers":{"A":"b"},"multiValueHeaders":{},"body":""}`},
		{name: "null headers next to multiValueHeaders", payload: `{"statusCode":200,"headers":null,"multiValueHeaders":{},"body":""}`},
		{name: "single-value headers only", payload: `{"statusCode":200,"headers":{"A":"b"},"body":""}`},
		{name: "header values not strings", payload: `{"statusCode":200,"multiValueHeaders":{"A":[1]},"body":""}`},
		{name: "header values not lists", payload: `{"statusCode":200,"multiValueHeaders":{"A":"b"},"body":""}`},
		{name: "body flagged base64 is not", payload: `{"statusCode":200,"multiValueHeaders":{},"body":"not base64!","isBase64Encoded":true}`},
		{name: "body not a string", payload: `{"statusCode":200,"multiValueHeaders":{},"body":42}`},
		{name: "missing statusCode", payload: `{"multiValueHeaders":{},"body":""}`},
		{name: "statusCode out of range", payload: `{"statusCode":600,"multiValueHeaders":{},"body":""}`},
		{name: "statusCode as a string", payload: `{"statusCode":"200","multiValueHeaders":{},"body":""}`},
		{name: "over 1 MB of JSON", payload: big},
		{name: "function error payload", payload: `{"errorMessage":"invalid configuration","errorType":"Runtime.ExitError"}`},
		{name: "handler error payload with a status", payload: `{"errorMessage":"boom","errorType":"errorString","statusCode":200,"multiValueHeaders":{},"body":""}`},
		{name: "not JSON", payload: `<html>`},
		{name: "JSON array", payload: `[]`},
		{name: "JSON null", payload: `null`},
		{name: "empty", payload: ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := twin.DecodeResponse([]byte(tc.payload))
			if !tc.ok {
				if err == nil {
					t.Fatalf("accepted %.120s as %+v; the ALB answers 502 to it", tc.payload, resp)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected a valid response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if !bytes.Equal(resp.Body(), tc.body) {
				t.Errorf("body = %q, want %q", sampleTrunc(resp.Body()), sampleTrunc(tc.body))
			}
			for k, want := range tc.header {
				if got := resp.MultiValueHeaders[k]; !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// The emulated load balancer over HTTP

// fakeInvoker stands in for the function: invoke answers, events records.
type fakeInvoker struct {
	invoke func(ctx context.Context, event []byte) ([]byte, error)

	mu     sync.Mutex
	events [][]byte
}

func (f *fakeInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	f.mu.Lock()
	f.events = append(f.events, event)
	f.mu.Unlock()
	return f.invoke(ctx, event)
}

func (f *fakeInvoker) calls() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// lambdaOK is a valid function answer that names its origin.
func lambdaOK(context.Context, []byte) ([]byte, error) {
	return []byte(`{"statusCode":200,"statusDescription":"200 OK","multiValueHeaders":{"Content-Type":["text/plain"],"X-Target":["lambda"]},"body":"from lambda","isBase64Encoded":false}`), nil
}

// target is an httptest server standing for the endpoint ENIs or S3.
type target struct {
	*httptest.Server
	name string

	mu    sync.Mutex
	calls []sampleCall
}

func newTarget(t *testing.T, name string) *target {
	tg := &target{name: name}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.calls = append(tg.calls, sampleCall{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: body})
		tg.mu.Unlock()
		w.Header().Set("X-Target", name)
		w.Header().Set("ETag", `"etag-from-`+name+`"`)
		// What S3 sends for an uploaded page: the ALB's listener
		// attributes must replace it.
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Security-Policy", "default-src *")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) recorded() []sampleCall {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return slices.Clone(tg.calls)
}

type albSetup struct {
	alb      *httptest.Server
	lb       *twin.ALB
	fn       *fakeInvoker
	upstream *target // S3PROXY_UPSTREAM_URL: passthrough target
	endpoint *target // S3PROXY_ENDPOINT_URL: /_direct target
}

func startALB(t *testing.T, passthrough bool, invoke func(context.Context, []byte) ([]byte, error), timeout time.Duration) *albSetup {
	t.Helper()
	s := &albSetup{fn: &fakeInvoker{invoke: invoke}, upstream: newTarget(t, "upstream"), endpoint: newTarget(t, "endpoint")}
	env := sampleEnv(s.upstream.URL)
	env["S3PROXY_ENDPOINT_URL"] = s.endpoint.URL
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	s.lb = twin.New(twin.Options{Config: cfg, Passthrough: passthrough, Invoker: s.fn, FunctionTimeout: timeout})
	s.alb = httptest.NewServer(s.lb)
	t.Cleanup(s.alb.Close)
	return s
}

// rawRequest sends a request line exactly as given (no client library
// normalises the target) and reads the answer.
func rawRequest(t *testing.T, srv *httptest.Server, method, target string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, got, err := peertest.RawRequest(srv.Listener.Addr().String(), "s3-proxy.studio.example.com", method, target, header, body, 10*time.Second)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp, got
}

func decodeEvent(t *testing.T, event []byte) events.ALBTargetGroupRequest {
	t.Helper()
	var ev events.ALBTargetGroupRequest
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatalf("event is not an ALB event: %v\n%s", err, event)
	}
	return ev
}

// checkALBError asserts an answer the load balancer made itself.
func checkALBError(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d from the load balancer; body %q", resp.StatusCode, status, sampleTrunc(body))
	}
	if resp.Header.Get("Server") != "awselb/2.0" || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("answer is not the load balancer's own: Server %q, Content-Type %q", resp.Header.Get("Server"), resp.Header.Get("Content-Type"))
	}
}

func TestALBRequestBodyLimit(t *testing.T) {
	s := startALB(t, false, lambdaOK, 5*time.Second)

	resp, body := rawRequest(t, s.alb, "PUT", "/shotgrid/big.bin?X-Amz-Signature=x", http.Header{"Content-Type": {"application/octet-stream"}}, make([]byte, twin.RequestBodyLimit+1))
	checkALBError(t, resp, body, http.StatusRequestEntityTooLarge)
	if n := len(s.fn.calls()); n != 0 {
		t.Errorf("the function was invoked %d times for an over-size body; the ALB never invokes it", n)
	}

	full := samplePattern(twin.RequestBodyLimit, 5)
	resp, body = rawRequest(t, s.alb, "PUT", "/shotgrid/max.bin?X-Amz-Signature=x", http.Header{"Content-Type": {"application/octet-stream"}}, full)
	if resp.StatusCode != 200 || string(body) != "from lambda" {
		t.Fatalf("a body of exactly %d bytes: %d %q, want the function's answer", twin.RequestBodyLimit, resp.StatusCode, body)
	}
	calls := s.fn.calls()
	if len(calls) != 1 {
		t.Fatalf("%d invocations, want 1", len(calls))
	}
	ev := decodeEvent(t, calls[0])
	got, err := base64.StdEncoding.DecodeString(ev.Body)
	if !ev.IsBase64Encoded || err != nil || !bytes.Equal(got, full) {
		t.Errorf("body not delivered intact as base64 (flag %v, err %v, %d bytes)", ev.IsBase64Encoded, err, len(got))
	}
}

func TestALBInvalidFunctionResponse(t *testing.T) {
	tests := []struct {
		name   string
		invoke func(context.Context, []byte) ([]byte, error)
	}{
		{"headers set", answer(`{"statusCode":200,"headers":{"A":"b"},"multiValueHeaders":{},"body":""}`)},
		{"null body", answer(`{"statusCode":200,"multiValueHeaders":{},"body":null}`)},
		{"null multiValueHeaders", answer(`{"statusCode":200,"multiValueHeaders":null,"body":""}`)},
		{"bad base64", answer(`{"statusCode":200,"multiValueHeaders":{},"body":"%%%","isBase64Encoded":true}`)},
		{"over 1 MB", answer(`{"statusCode":200,"multiValueHeaders":{},"body":"` + strings.Repeat("x", twin.ResponseLimit) + `"}`)},
		{"function error", answer(`{"errorMessage":"boom","errorType":"Runtime.ExitError"}`)},
		{"not JSON", answer(`Internal Server Error`)},
		{"invocation failed", func(context.Context, []byte) ([]byte, error) { return nil, fmt.Errorf("connection refused") }},
		{"function timed out", func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startALB(t, false, tc.invoke, 200*time.Millisecond)
			resp, body := rawRequest(t, s.alb, "GET", "/ping", nil, nil)
			checkALBError(t, resp, body, http.StatusBadGateway)
			if n := len(s.fn.calls()); n != 1 {
				t.Errorf("%d invocations, want 1", n)
			}
		})
	}
}

func answer(payload string) func(context.Context, []byte) ([]byte, error) {
	return func(context.Context, []byte) ([]byte, error) { return []byte(payload), nil }
}

func TestALBEvent(t *testing.T) {
	bin := samplePattern(1500, 9)
	tests := []struct {
		name     string
		method   string
		target   string
		header   http.Header
		body     []byte
		path     string
		query    map[string][]string
		base64   bool
		wantBody string // the event's body field, exactly
	}{
		{
			name:   "raw path and still-encoded query, repeated keys",
			method: "GET",
			target: "/shotgrid/a%20b/c%2Bd/%E2%9C%93+x.mov?X-Amz-Credential=AKID%2F20261120%2Fus-east-1%2Fs3%2Faws4_request&x=a+b&x=c%2Bd&flag&response-content-disposition=attachment%3B%20filename%3D%22a.mov%22&X-Amz-Signature=f00",
			header: http.Header{"X-Custom": {"1", "2"}, "Range": {"bytes=0-9"}, "Origin": {sampleOrigin}},
			path:   "/shotgrid/a%20b/c%2Bd/%E2%9C%93+x.mov",
			query: map[string][]string{
				"X-Amz-Credential":             {"AKID%2F20261120%2Fus-east-1%2Fs3%2Faws4_request"},
				"x":                            {"a+b", "c%2Bd"},
				"flag":                         {""},
				"response-content-disposition": {"attachment%3B%20filename%3D%22a.mov%22"},
				"X-Amz-Signature":              {"f00"},
			},
		},
		{
			name: "binary body is base64", method: "PUT", target: "/shotgrid/up.bin?Signature=f00",
			header: http.Header{"Content-Type": {"application/octet-stream"}}, body: bin,
			path: "/shotgrid/up.bin", query: map[string][]string{"Signature": {"f00"}},
			base64: true, wantBody: base64.StdEncoding.EncodeToString(bin),
		},
		{
			name: "no content type is base64", method: "PUT", target: "/shotgrid/up.bin?Signature=f00",
			body: []byte("plain words"), path: "/shotgrid/up.bin", query: map[string][]string{"Signature": {"f00"}},
			base64: true, wantBody: base64.StdEncoding.EncodeToString([]byte("plain words")),
		},
		{
			name: "text body is plain", method: "POST", target: "/shotgrid/up.txt?uploads&Signature=f00",
			header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: []byte("héllo\n"),
			path: "/shotgrid/up.txt", query: map[string][]string{"uploads": {""}, "Signature": {"f00"}},
			wantBody: "héllo\n",
		},
		{
			name: "XML body is plain", method: "POST", target: "/shotgrid/up.bin?uploadId=a%2Fb&Signature=f00",
			header: http.Header{"Content-Type": {"application/xml"}}, body: []byte("<CompleteMultipartUpload/>"),
			path: "/shotgrid/up.bin", query: map[string][]string{"uploadId": {"a%2Fb"}, "Signature": {"f00"}},
			wantBody: "<CompleteMultipartUpload/>",
		},
	}
	trace := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startALB(t, false, lambdaOK, 5*time.Second)
			resp, _ := rawRequest(t, s.alb, tc.method, tc.target, tc.header, tc.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			calls := s.fn.calls()
			if len(calls) != 1 {
				t.Fatalf("%d invocations, want 1", len(calls))
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(calls[0], &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"headers", "queryStringParameters"} {
				if v, ok := raw[k]; ok && string(v) != "null" {
					t.Errorf("event carries %q = %s; in multi-value mode only the multiValue* maps are sent", k, v)
				}
			}
			ev := decodeEvent(t, calls[0])
			if ev.HTTPMethod != tc.method {
				t.Errorf("httpMethod = %q", ev.HTTPMethod)
			}
			if ev.Path != tc.path {
				t.Errorf("path = %q, want the raw path %q", ev.Path, tc.path)
			}
			if len(ev.MultiValueQueryStringParameters) != len(tc.query) {
				t.Errorf("query = %q, want %q", ev.MultiValueQueryStringParameters, tc.query)
			}
			for k, want := range tc.query {
				if got := ev.MultiValueQueryStringParameters[k]; !slices.Equal(got, want) {
					t.Errorf("query %s = %q, want %q (still encoded)", k, got, want)
				}
			}
			if ev.IsBase64Encoded != tc.base64 || ev.Body != tc.wantBody {
				t.Errorf("body = %.60q (base64 %v), want %.60q (base64 %v)", ev.Body, ev.IsBase64Encoded, tc.wantBody, tc.base64)
			}
			if ev.RequestContext.ELB.TargetGroupArn == "" {
				t.Error("requestContext.elb.targetGroupArn is empty")
			}
			for k := range ev.MultiValueHeaders {
				if k != strings.ToLower(k) {
					t.Errorf("header name %q is not lower-case", k)
				}
			}
			for k, want := range tc.header {
				if got := ev.MultiValueHeaders[strings.ToLower(k)]; !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", strings.ToLower(k), got, want)
				}
			}
			_, port, _ := net.SplitHostPort(s.alb.Listener.Addr().String())
			want := map[string][]string{
				"host":              {"s3-proxy.studio.example.com"},
				"x-forwarded-for":   {"127.0.0.1"},
				"x-forwarded-proto": {"http"},
				"x-forwarded-port":  {port},
			}
			for k, w := range want {
				if got := ev.MultiValueHeaders[k]; !slices.Equal(got, w) {
					t.Errorf("header %s = %q, want %q", k, got, w)
				}
			}
			if tid := ev.MultiValueHeaders["x-amzn-trace-id"]; len(tid) != 1 || !trace.MatchString(tid[0]) {
				t.Errorf("x-amzn-trace-id = %q", tid)
			}
		})
	}
}

func TestALBDeliversFunctionResponse(t *testing.T) {
	bin := samplePattern(5000, 1)
	payload := `{"statusCode":206,"statusDescription":"206 Partial Content","multiValueHeaders":{"Content-Type":["video/mp4"],"Content-Length":["999"],"Content-Range":["bytes 0-4999/90000"],"X-Amz-Meta-A":["1","2"]},"body":"` +
		base64.StdEncoding.EncodeToString(bin) + `","isBase64Encoded":true}`
	s := startALB(t, false, answer(payload), 5*time.Second)
	resp, body := rawRequest(t, s.alb, "GET", "/shotgrid/v.mp4?"+sig, nil, nil)
	if resp.StatusCode != 206 || !bytes.Equal(body, bin) {
		t.Fatalf("got %d with %d bytes, want 206 with the decoded %d bytes", resp.StatusCode, len(body), len(bin))
	}
	if resp.ContentLength != int64(len(bin)) {
		t.Errorf("Content-Length = %d, want %d: the ALB computes it from the body", resp.ContentLength, len(bin))
	}
	if got := resp.Header.Values("X-Amz-Meta-A"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("X-Amz-Meta-A = %q", got)
	}
	if resp.Header.Get("Content-Range") != "bytes 0-4999/90000" {
		t.Errorf("Content-Range = %q", resp.Header.Get("Content-Range"))
	}

	head := `{"statusCode":200,"multiValueHeaders":{"Content-Type":["video/mp4"],"Content-Length":["5000000"]},"body":"","isBase64Encoded":false}`
	s = startALB(t, false, answer(head), 5*time.Second)
	resp, body = rawRequest(t, s.alb, "HEAD", "/shotgrid/v.mp4?"+sig, nil, nil)
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD: %d with %d bytes", resp.StatusCode, len(body))
	}
	if resp.Header.Get("Content-Length") != "5000000" {
		t.Errorf("HEAD Content-Length = %q, want the object's 5000000", resp.Header.Get("Content-Length"))
	}
}

// sig is the query of a presigned URL, as far as the listener rules look.
const sig = "X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc"

// preflight is what makes an OPTIONS a browser's CORS preflight.
var preflight = http.Header{"Origin": {sampleOrigin}, "Access-Control-Request-Method": {"GET"}}

func TestALBRules(t *testing.T) {
	big := samplePattern(1_500_000, 2)
	tests := []struct {
		name        string
		passthrough bool
		method      string
		target      string
		header      http.Header
		body        []byte
		// to is "lambda", "endpoint", "upstream", or "alb" for a fixed
		// response of status.
		to     string
		status int
		// uri is what the target must receive on its request line.
		uri string
	}{
		{name: "ping", passthrough: true, method: "GET", target: "/ping", to: "lambda"},
		{name: "ping is exact", passthrough: true, method: "GET", target: "/pingx", to: "alb", status: 403},
		{name: "signed GET", passthrough: true, method: "GET", target: "/shotgrid/a%20b.mov?X-Amz-Signature=abc", to: "lambda"},
		{name: "signed HEAD", passthrough: true, method: "HEAD", target: "/shotgrid/a.mov?" + sig, to: "lambda"},
		{name: "unsigned HEAD", passthrough: true, method: "HEAD", target: "/shotgrid/a.mov", to: "alb", status: 403},
		{name: "unsigned GET", passthrough: false, method: "GET", target: "/shotgrid/a.mov?X-Amz-Credential=AK", to: "alb", status: 403},
		{name: "preflight", passthrough: true, method: "OPTIONS", target: "/shotgrid/a.mov", header: preflight, to: "lambda"},
		{name: "OPTIONS that is no preflight", passthrough: true, method: "OPTIONS", target: "/shotgrid/a.mov", to: "alb", status: 405},
		{name: "a method never served", passthrough: true, method: "PATCH", target: "/shotgrid/a.mov?" + sig, to: "alb", status: 405},
		{name: "direct GET", passthrough: true, method: "GET",
			target: "/_direct/demo/shotgrid/a%20b%2Bc.mov?X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc",
			to:     "endpoint", uri: "/demo/shotgrid/a%20b%2Bc.mov?X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc"},
		{name: "direct without passthrough", passthrough: false, method: "GET", target: "/_direct/demo/shotgrid/k?x=%2F", to: "endpoint", uri: "/demo/shotgrid/k?x=%2F"},
		{name: "direct HEAD", passthrough: true, method: "HEAD", target: "/_direct/demo/shotgrid/k", to: "endpoint", uri: "/demo/shotgrid/k"},
		{name: "direct preflight goes to the function", passthrough: true, method: "OPTIONS", target: "/_direct/demo/shotgrid/k", header: preflight, to: "lambda"},
		{name: "direct PUT refused, not sent to the endpoint", passthrough: true, method: "PUT", target: "/_direct/demo/shotgrid/k?" + sig, body: []byte("x"), to: "alb", status: 405},
		{name: "direct DELETE refused", passthrough: true, method: "DELETE", target: "/_direct/demo/shotgrid/k", to: "alb", status: 405},
		{name: "direct POST refused", passthrough: false, method: "POST", target: "/_direct/demo/shotgrid/k?uploads&" + sig, body: []byte{}, to: "alb", status: 405},
		{name: "signed direct listing goes to the function", passthrough: true, method: "GET", target: "/_direct/demo/?list-type=2&" + sig, to: "lambda"},
		{name: "unsigned direct listing refused", passthrough: true, method: "GET", target: "/_direct/demo/?list-type=2", to: "alb", status: 403},
		{name: "direct outside the prefixes goes to the function", passthrough: true, method: "GET", target: "/_direct/demo/secret/k?" + sig, to: "lambda"},
		{name: "direct to another bucket goes to the function", passthrough: true, method: "GET", target: "/_direct/other/shotgrid/k?" + sig, to: "lambda"},
		{name: "PUT passthrough", passthrough: true, method: "PUT",
			target: "/shotgrid/frame%200001.exr?partNumber=2&uploadId=a%2Fb%2Bc&X-Amz-Signature=abc", body: []byte("part bytes"),
			to: "upstream", uri: "/shotgrid/frame%200001.exr?partNumber=2&uploadId=a%2Fb%2Bc&X-Amz-Signature=abc"},
		{name: "PUT passthrough over 1 MB", passthrough: true, method: "PUT", target: "/shotgrid/big.bin?X-Amz-Signature=abc", body: big,
			to: "upstream", uri: "/shotgrid/big.bin?X-Amz-Signature=abc"},
		{name: "POST passthrough", passthrough: true, method: "POST", target: "/shotgrid/up.bin?uploads", body: []byte{}, to: "upstream", uri: "/shotgrid/up.bin?uploads"},
		{name: "DELETE passthrough", passthrough: true, method: "DELETE", target: "/shotgrid/up.bin?uploadId=x", to: "upstream", uri: "/shotgrid/up.bin?uploadId=x"},
		{name: "PUT outside the prefixes refused", passthrough: true, method: "PUT", target: "/secret/a.bin?" + sig, body: []byte("x"), to: "alb", status: 403},
		{name: "PUT without passthrough", passthrough: false, method: "PUT", target: "/shotgrid/frame.exr?X-Amz-Signature=abc", body: []byte("x"), to: "lambda"},
		{name: "POST without passthrough", passthrough: false, method: "POST", target: "/shotgrid/up.bin?uploads&" + sig, body: []byte{}, to: "lambda"},
		{name: "DELETE without passthrough", passthrough: false, method: "DELETE", target: "/shotgrid/up.bin?" + sig, to: "lambda"},
		{name: "unsigned PUT without passthrough", passthrough: false, method: "PUT", target: "/shotgrid/up.bin", body: []byte("x"), to: "alb", status: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startALB(t, tc.passthrough, lambdaOK, 5*time.Second)
			resp, body := rawRequest(t, s.alb, tc.method, tc.target, tc.header, tc.body)
			up, ep, fn := s.upstream.recorded(), s.endpoint.recorded(), s.fn.calls()
			if tc.to == "alb" {
				checkFixed(t, tc.method, resp, body, tc.status)
				if len(fn)+len(up)+len(ep) != 0 || s.lb.Invocations() != 0 {
					t.Errorf("function %d, upstream %d, endpoint %d requests; want none: the load balancer answers", len(fn), len(up), len(ep))
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("X-Target"); got != tc.to {
				t.Errorf("served by %q, want %q", got, tc.to)
			}
			var got []sampleCall
			wantHost := ""
			switch tc.to {
			case "lambda":
				if len(fn) != 1 || len(up)+len(ep) != 0 || s.lb.Invocations() != 1 {
					t.Fatalf("function %d (counted %d), upstream %d, endpoint %d requests; want the function once", len(fn), s.lb.Invocations(), len(up), len(ep))
				}
				return
			case "endpoint":
				got, wantHost = ep, mustHost(t, s.endpoint.URL)
			case "upstream":
				got, wantHost = up, sampleSignedHost
			}
			if len(got) != 1 || len(fn) != 0 {
				t.Fatalf("%s got %d requests and the function %d; want the %s once and no invocation", tc.to, len(got), len(fn), tc.to)
			}
			c := got[0]
			if c.Method != tc.method {
				t.Errorf("method = %s", c.Method)
			}
			if c.RequestURI != tc.uri {
				t.Errorf("request target = %q, want %q byte for byte", c.RequestURI, tc.uri)
			}
			if c.Host != wantHost {
				t.Errorf("Host = %q, want %q", c.Host, wantHost)
			}
			if tc.body != nil && !bytes.Equal(c.Body, tc.body) {
				t.Errorf("body: %d bytes arrived, want %d intact", len(c.Body), len(tc.body))
			}
		})
	}
}

// checkFixed asserts a fixed response of the load balancer's: its status,
// text/plain, and S3's error document (no body for HEAD).
func checkFixed(t *testing.T, method string, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d from the load balancer; body %q", resp.StatusCode, status, sampleTrunc(body))
	}
	if resp.Header.Get("Server") != "awselb/2.0" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("answer is not a fixed response: Server %q, Content-Type %q", resp.Header.Get("Server"), resp.Header.Get("Content-Type"))
	}
	if method == http.MethodHead {
		if len(body) != 0 {
			t.Errorf("a HEAD answer with %d bytes of body", len(body))
		}
		return
	}
	code := map[int]string{403: "AccessDenied", 405: "MethodNotAllowed"}[status]
	if !bytes.HasPrefix(body, []byte("<?xml")) || !bytes.Contains(body, []byte("<Code>"+code+"</Code>")) {
		t.Errorf("body %q is not S3's %s error", sampleTrunc(body), code)
	}
}

// An unsigned scan, and methods the proxy never serves, are answered by the
// load balancer without one invocation; what the proxy serves still
// reaches the function.
func TestALBUnsignedScanNeverInvokesTheFunction(t *testing.T) {
	for _, passthrough := range []bool{true, false} {
		t.Run(fmt.Sprintf("passthrough %v", passthrough), func(t *testing.T) {
			s := startALB(t, passthrough, lambdaOK, 5*time.Second)
			methods := []string{"GET", "HEAD", "GET", "PATCH", "PROPFIND", "TRACE", "FOO", "OPTIONS"}
			dirs := []string{"shotgrid/", "", "_direct/demo/shotgrid/../../", "_direct/", "wp-admin/", ".env", "secret/"}
			for i := range 1000 {
				method := methods[i%len(methods)]
				target := fmt.Sprintf("/%s%d/index.php?id=%d&X-Amz-Credential=k&q=X-Amz-Signature", dirs[(i/len(methods))%len(dirs)], i, i)
				resp, _ := rawRequest(t, s.alb, method, target, nil, nil)
				// A read below /_direct that matches a prefix's pattern
				// goes to the endpoint, where S3 refuses it unsigned.
				if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusMethodNotAllowed && resp.Header.Get("X-Target") != "endpoint" {
					t.Fatalf("%s %s: status %d, want 403 or 405", method, target, resp.StatusCode)
				}
			}
			if n := s.lb.Invocations(); n != 0 || len(s.fn.calls()) != 0 {
				t.Fatalf("the scan invoked the function %d times, want 0", n)
			}
			if n := len(s.upstream.recorded()); n != 0 {
				t.Errorf("the scan wrote through the passthrough %d times", n)
			}
			for i, c := range []struct{ method, target string }{
				{"GET", "/shotgrid/a.mov?" + sig},
				{"HEAD", "/shotgrid/a.mov?AWSAccessKeyId=AK&Expires=1&Signature=abc"},
				{"GET", "/ping"},
				{"OPTIONS", "/shotgrid/a.mov"},
				{"OPTIONS", "/_direct/demo/shotgrid/a.mov"},
			} {
				rawRequest(t, s.alb, c.method, c.target, preflight, nil)
				if n := s.lb.Invocations(); n != int64(i+1) {
					t.Errorf("%s %s: %d invocations so far, want %d", c.method, c.target, n, i+1)
				}
			}
		})
	}
}

// Bucket-level calls (policy, CORS, lifecycle, ACL, deletion of the
// bucket) never reach the endpoint, however they are signed: the load
// balancer refuses them itself.
func TestALBBucketCallsNeverReachTheEndpoint(t *testing.T) {
	for _, passthrough := range []bool{true, false} {
		s := startALB(t, passthrough, lambdaOK, 5*time.Second)
		for _, c := range []struct{ method, target string }{
			{"PUT", "/?policy&" + sig},
			{"DELETE", "/?policy&" + sig},
			{"DELETE", "/?" + sig},
			{"DELETE", "/"},
			{"PUT", "/?cors&" + sig},
			{"PUT", "/?lifecycle&" + sig},
			{"PUT", "/?acl&" + sig},
			{"POST", "/?delete&" + sig},
			{"PUT", "/"},
		} {
			resp, _ := rawRequest(t, s.alb, c.method, c.target, nil, []byte("<Policy/>"))
			up, ep := s.upstream.recorded(), s.endpoint.recorded()
			if len(up)+len(ep) != 0 {
				t.Fatalf("passthrough %v: %s %s reached S3: %+v %+v", passthrough, c.method, c.target, up, ep)
			}
			if passthrough && (resp.StatusCode != http.StatusForbidden || resp.Header.Get("Server") != "awselb/2.0") {
				t.Errorf("%s %s: status %d from %q, want the load balancer's 403", c.method, c.target, resp.StatusCode, resp.Header.Get("Server"))
			}
		}
		if n := s.lb.Invocations(); passthrough && n != 0 {
			t.Errorf("with passthrough the bucket calls invoked the function %d times, want 0", n)
		}
	}
}

// The HTTPS listener's response headers are on every answer, and replace
// what a target sent: the function's, the endpoint's (/_direct), S3's
// through the passthrough, and the load balancer's own.
func TestALBResponseHeaders(t *testing.T) {
	htmlFromLambda := answer(`{"statusCode":200,"multiValueHeaders":{"Content-Type":["text/html"],"X-Target":["lambda"],"Content-Security-Policy":["default-src *"],"X-Content-Type-Options":["sniff"]},"body":"<script>1</script>","isBase64Encoded":false}`)
	s := startALB(t, true, htmlFromLambda, 5*time.Second)
	for _, c := range []struct{ name, method, target string }{
		{"function", "GET", "/shotgrid/a.html?" + sig},
		{"direct", "GET", "/_direct/demo/shotgrid/a.html?" + sig},
		{"passthrough", "PUT", "/shotgrid/a.html?" + sig},
		{"fixed", "GET", "/shotgrid/a.html"},
		{"default", "PATCH", "/"},
	} {
		resp, _ := rawRequest(t, s.alb, c.method, c.target, nil, []byte{})
		for _, h := range []struct{ name, want string }{
			{"X-Content-Type-Options", "nosniff"},
			{"Content-Security-Policy", "sandbox"},
		} {
			if got := resp.Header.Values(h.name); len(got) != 1 || !strings.Contains(got[0], h.want) {
				t.Errorf("%s: %s = %q, want one value with %q", c.name, h.name, got, h.want)
			}
		}
	}
	s.upstream.Close()
	resp, _ := rawRequest(t, s.alb, "PUT", "/shotgrid/a.html?"+sig, nil, []byte{})
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the load balancer's own 502: %d with nosniff %q", resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestALBUnreachableTarget(t *testing.T) {
	s := startALB(t, true, lambdaOK, 5*time.Second)
	s.upstream.Close()
	s.endpoint.Close()
	for _, tc := range []struct{ method, target string }{
		{"PUT", "/shotgrid/k?X-Amz-Signature=abc"},
		{"GET", "/_direct/demo/shotgrid/k?X-Amz-Signature=abc"},
	} {
		resp, body := rawRequest(t, s.alb, tc.method, tc.target, nil, []byte{})
		checkALBError(t, resp, body, http.StatusBadGateway)
	}
}
