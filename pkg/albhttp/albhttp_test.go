package albhttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

func binary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>9)
	}
	return b
}

// pairs splits a raw query into its "k=v" pairs, sorted: SigV4 sorts too,
// so only the multiset and each pair's bytes matter.
func pairs(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, "&") {
		if p != "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func TestNewRequest(t *testing.T) {
	bin := binary(300)
	tests := []struct {
		name string
		ev   events.ALBTargetGroupRequest
		// rawPath and query are what the handler must see, byte for byte.
		rawPath string
		query   []string
		// path is the decoded r.URL.Path.
		path    string
		host    string
		header  map[string][]string
		remote  string
		body    []byte
		inOrder []string // query pairs that must keep this relative order
	}{
		{
			name:    "path keeps %2F %20 + %2B and unicode escapes",
			ev:      events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/shots/a%2Fb/c%20d+e%2Bf/%E2%9C%93%C3%A9.mov"},
			rawPath: "/shots/a%2Fb/c%20d+e%2Bf/%E2%9C%93%C3%A9.mov",
			path:    "/shots/a/b/c d+e+f/✓é.mov",
		},
		{
			name:    "path with reserved sub-delimiters kept literally",
			ev:      events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/a/b=c@d/'(x)'/~!$&*,;:"},
			rawPath: "/a/b=c@d/'(x)'/~!$&*,;:",
			path:    "/a/b=c@d/'(x)'/~!$&*,;:",
		},
		{
			name: "query values keep their encoding",
			ev: events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k", MultiValueQueryStringParameters: map[string][]string{
				"X-Amz-Credential":             {"AKIDEXAMPLE%2F20261120%2Fus-east-1%2Fs3%2Faws4_request"},
				"X-Amz-Security-Token":         {"IQoJ%2F%2Fb3%2Bx%3D%3D"},
				"response-content-disposition": {"attachment%3B%20filename%3D%22a%20b.mov%22"},
				"plus":                         {"a+b"},
				"space":                        {"a%20b"},
				"unicode":                      {"%E2%9C%93"},
				"empty":                        {""},
			}},
			rawPath: "/k",
			path:    "/k",
			query: []string{
				"X-Amz-Credential=AKIDEXAMPLE%2F20261120%2Fus-east-1%2Fs3%2Faws4_request",
				"X-Amz-Security-Token=IQoJ%2F%2Fb3%2Bx%3D%3D",
				"empty=",
				"plus=a+b",
				"response-content-disposition=attachment%3B%20filename%3D%22a%20b.mov%22",
				"space=a%20b",
				"unicode=%E2%9C%93",
			},
		},
		{
			name: "repeated query keys are all kept, in order",
			ev: events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k", MultiValueQueryStringParameters: map[string][]string{
				"a": {"2", "1", "3"}, "b": {"x"},
			}},
			rawPath: "/k", path: "/k",
			query:   []string{"a=1", "a=2", "a=3", "b=x"},
			inOrder: []string{"a=2", "a=1", "a=3"},
		},
		{
			name: "single-value query fallback",
			ev: events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k", QueryStringParameters: map[string]string{
				"X-Amz-Date": "20261120T101500Z", "k": "v%2Bw",
			}},
			rawPath: "/k", path: "/k",
			query: []string{"X-Amz-Date=20261120T101500Z", "k=v%2Bw"},
		},
		{
			name: "multi-value query wins over single-value",
			ev: events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k",
				QueryStringParameters:           map[string]string{"a": "2"},
				MultiValueQueryStringParameters: map[string][]string{"a": {"1", "2"}},
			},
			rawPath: "/k", path: "/k",
			query: []string{"a=1", "a=2"},
		},
		{
			name: "lower-case multi-value headers, repeated values, host and client address",
			ev: events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k", MultiValueHeaders: map[string][]string{
				"host":            {"s3-proxy.studio.example.com"},
				"range":           {"bytes=0-99"},
				"x-amz-meta-a":    {"1", "2"},
				"x-forwarded-for": {"203.0.113.9, 10.0.0.1"},
			}},
			rawPath: "/k", path: "/k",
			host:   "s3-proxy.studio.example.com",
			header: map[string][]string{"Range": {"bytes=0-99"}, "X-Amz-Meta-A": {"1", "2"}, "Host": nil},
			remote: "203.0.113.9",
		},
		{
			name: "single-value headers fallback",
			ev: events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k", Headers: map[string]string{
				"host": "proxy.example", "if-none-match": `"abc"`,
			}},
			rawPath: "/k", path: "/k",
			host:   "proxy.example",
			header: map[string][]string{"If-None-Match": {`"abc"`}},
		},
		{
			name:    "base64 body",
			ev:      events.ALBTargetGroupRequest{HTTPMethod: "PUT", Path: "/k", IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString(bin)},
			rawPath: "/k", path: "/k",
			body: bin,
		},
		{
			name:    "plain body",
			ev:      events.ALBTargetGroupRequest{HTTPMethod: "POST", Path: "/k", Body: `<CompleteMultipartUpload><Part/></CompleteMultipartUpload>`},
			rawPath: "/k", path: "/k",
			body: []byte(`<CompleteMultipartUpload><Part/></CompleteMultipartUpload>`),
		},
		{
			name:    "plain body that looks like base64 is not decoded",
			ev:      events.ALBTargetGroupRequest{HTTPMethod: "POST", Path: "/k", Body: "aGVsbG8="},
			rawPath: "/k", path: "/k",
			body: []byte("aGVsbG8="),
		},
		{
			name:    "empty body",
			ev:      events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k"},
			rawPath: "/k", path: "/k",
			body: []byte{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type key struct{}
			ctx := context.WithValue(context.Background(), key{}, "ctx")
			r, err := albhttp.NewRequest(ctx, &tc.ev)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if r.Context().Value(key{}) != "ctx" {
				t.Error("the request does not carry the invocation context")
			}
			if r.Method != tc.ev.HTTPMethod {
				t.Errorf("Method = %q", r.Method)
			}
			gotPath, gotQuery, _ := strings.Cut(r.RequestURI, "?")
			if gotPath != tc.rawPath {
				t.Errorf("RequestURI path = %q, want %q", gotPath, tc.rawPath)
			}
			if ep := r.URL.EscapedPath(); ep != tc.rawPath {
				t.Errorf("URL.EscapedPath() = %q, want %q", ep, tc.rawPath)
			}
			if r.URL.Path != tc.path {
				t.Errorf("URL.Path = %q, want %q", r.URL.Path, tc.path)
			}
			if r.URL.RawQuery != gotQuery {
				t.Errorf("URL.RawQuery = %q, RequestURI query = %q; they must agree", r.URL.RawQuery, gotQuery)
			}
			want := slices.Clone(tc.query)
			sort.Strings(want)
			if got := pairs(gotQuery); !slices.Equal(got, want) {
				t.Errorf("query pairs = %q, want %q (raw %q)", got, want, gotQuery)
			}
			if len(tc.inOrder) > 0 {
				var seen []string
				for _, p := range strings.Split(gotQuery, "&") {
					if slices.Contains(tc.inOrder, p) {
						seen = append(seen, p)
					}
				}
				if !slices.Equal(seen, tc.inOrder) {
					t.Errorf("repeated values came out as %q, want the event's order %q", seen, tc.inOrder)
				}
			}
			if r.Host != tc.host {
				t.Errorf("Host = %q, want %q", r.Host, tc.host)
			}
			for k, want := range tc.header {
				if got := r.Header.Values(k); !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if tc.remote != "" && r.RemoteAddr != tc.remote {
				t.Errorf("RemoteAddr = %q, want %q", r.RemoteAddr, tc.remote)
			}
			if tc.body != nil {
				got, err := io.ReadAll(r.Body)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.body) {
					t.Errorf("body = %q, want %q", got, tc.body)
				}
				if r.ContentLength != int64(len(tc.body)) {
					t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(tc.body))
				}
				if len(tc.body) == 0 && r.Body != http.NoBody {
					t.Errorf("empty body is %T, want http.NoBody", r.Body)
				}
			}
		})
	}
}

func TestNewRequestRejects(t *testing.T) {
	tests := []struct {
		name   string
		ev     events.ALBTargetGroupRequest
		status int
		code   string
	}{
		{"invalid base64 body", events.ALBTargetGroupRequest{HTTPMethod: "PUT", Path: "/k", IsBase64Encoded: true, Body: "not base64!"}, 400, "InvalidRequest"},
		{"truncated base64 body", events.ALBTargetGroupRequest{HTTPMethod: "PUT", Path: "/k", IsBase64Encoded: true, Body: "aGVsbG8"}, 400, "InvalidRequest"},
		{"missing method", events.ALBTargetGroupRequest{Path: "/k"}, 400, "BadRequest"},
		{"lower-case method", events.ALBTargetGroupRequest{HTTPMethod: "get", Path: "/k"}, 400, "BadRequest"},
		{"method with a space", events.ALBTargetGroupRequest{HTTPMethod: "GET /", Path: "/k"}, 400, "BadRequest"},
		{"missing path", events.ALBTargetGroupRequest{HTTPMethod: "GET"}, 400, "InvalidURI"},
		{"relative path", events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "key/x"}, 400, "InvalidURI"},
		{"absolute URL as path", events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "http://evil/k"}, 400, "InvalidURI"},
		{"query in path", events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k?X-Amz-Signature=x"}, 400, "InvalidURI"},
		{"fragment in path", events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/k#x"}, 400, "InvalidURI"},
		{"space in path", events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/a b"}, 400, "InvalidURI"},
		{"newline in path", events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/a\r\nHost: x"}, 400, "InvalidURI"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := albhttp.NewRequest(context.Background(), &tc.ev)
			if err == nil {
				t.Fatalf("NewRequest accepted it: %s %s", r.Method, r.RequestURI)
			}
			var e *s3error.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an S3-style error", err)
			}
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("error = %d %s, want %d %s", e.Status, e.Code, tc.status, tc.code)
			}
		})
	}
}

// wire is a response as the ALB reads it: the raw JSON and its fields.
type wire struct {
	raw  map[string]json.RawMessage
	resp albhttp.Response
	size int
}

// invoke runs h behind both entry points, albhttp.Handler and the
// albhttp.Function the deployed bootstrap uses, and checks what every
// response must satisfy: no error return, valid JSON under 1 MB, a non-null
// multiValueHeaders map and body, no "headers" key at all, and the same
// document from both (Function writes its JSON by hand and promises the
// bytes encoding/json would produce).
func invoke(t *testing.T, h http.Handler, event string) wire {
	t.Helper()
	resp, err := albhttp.Handler(h)(context.Background(), json.RawMessage(event))
	if err != nil {
		t.Fatalf("Handler returned an error (the runtime would report it and the ALB answer 502): %v", err)
	}
	payload, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	fnPayload, err := albhttp.NewFunction(h).Invoke(context.Background(), []byte(event))
	if err != nil {
		t.Fatalf("Function.Invoke returned an error (the runtime would report it and the ALB answer 502): %v", err)
	}
	if !bytes.Equal(fnPayload, payload) {
		t.Errorf("Function.Invoke and Handler disagree:\nFunction: %.300s\nHandler:  %.300s", fnPayload, payload)
	}
	w := wire{resp: resp, size: len(payload)}
	for _, p := range [][]byte{payload, fnPayload} {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(p, &raw); err != nil {
			t.Fatalf("response is not JSON: %v: %.300s", err, p)
		}
		w.raw = raw
		if len(p) >= albhttp.ResponseLimit {
			t.Errorf("response JSON is %d bytes, the ALB's limit is %d", len(p), albhttp.ResponseLimit)
		}
		if _, ok := raw["headers"]; ok {
			t.Errorf(`response JSON has a "headers" key: %.300s`, p)
		}
		if v := string(raw["multiValueHeaders"]); v == "" || v == "null" || v[0] != '{' {
			t.Errorf("multiValueHeaders = %q, want a JSON object", v)
		}
		if v := string(raw["body"]); v == "" || v == "null" || v[0] != '"' {
			t.Errorf("body = %.50q, want a JSON string", v)
		}
	}
	if want := http.StatusText(resp.StatusCode); !strings.HasSuffix(resp.StatusDescription, want) || !strings.HasPrefix(resp.StatusDescription, jsonInt(resp.StatusCode)+" ") {
		t.Errorf("statusDescription = %q for %d", resp.StatusDescription, resp.StatusCode)
	}
	return w
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func header(r albhttp.Response, name string) []string {
	for k, vs := range r.MultiValueHeaders {
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

func decodedBody(t *testing.T, r albhttp.Response) []byte {
	t.Helper()
	if !r.IsBase64Encoded {
		return []byte(r.Body)
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatalf("body flagged base64 is not: %v", err)
	}
	return b
}

// checkS3Error asserts an S3-style XML error answer.
func checkS3Error(t *testing.T, w wire, status int, code string) {
	t.Helper()
	if w.resp.StatusCode != status {
		t.Errorf("status = %d, want %d", w.resp.StatusCode, status)
	}
	if ct := header(w.resp, "Content-Type"); !slices.Equal(ct, []string{"application/xml"}) {
		t.Errorf("Content-Type = %q, want application/xml", ct)
	}
	if w.resp.IsBase64Encoded {
		t.Error("an XML error is base64-encoded")
	}
	if !strings.HasPrefix(w.resp.Body, "<?xml") || !strings.Contains(w.resp.Body, "<Error><Code>"+code+"</Code>") {
		t.Errorf("body = %.200q (%d bytes), want an S3 <Error> with code %s", w.resp.Body, len(w.resp.Body), code)
	}
}

func mustNotRun(t *testing.T) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran for an event the adapter should have refused")
	})
}

func TestHandlerRefusesBadEvents(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		status int
		code   string
	}{
		{"garbage", `not json`, 400, "BadRequest"},
		{"truncated JSON", `{"httpMethod":"GET","path":"/k"`, 400, "BadRequest"},
		{"JSON array", `[]`, 400, "BadRequest"},
		{"JSON string", `"GET /k"`, 400, "BadRequest"},
		{"JSON null", `null`, 400, "BadRequest"},
		{"empty object", `{}`, 400, "BadRequest"},
		{"wrong field types", `{"httpMethod":5,"path":["/k"]}`, 400, "BadRequest"},
		{"header values not strings", `{"httpMethod":"GET","path":"/k","multiValueHeaders":{"host":[1]}}`, 400, "BadRequest"},
		{"every field null", `{"httpMethod":null,"path":null,"multiValueHeaders":null,"multiValueQueryStringParameters":null,"body":null,"isBase64Encoded":null,"requestContext":null}`, 400, "BadRequest"},
		{"missing path", `{"httpMethod":"GET"}`, 400, "InvalidURI"},
		{"null path", `{"httpMethod":"GET","path":null}`, 400, "InvalidURI"},
		{"relative path", `{"httpMethod":"GET","path":"demo/key"}`, 400, "InvalidURI"},
		{"invalid base64 body", `{"httpMethod":"PUT","path":"/k","isBase64Encoded":true,"body":"%%%not-base64"}`, 400, "InvalidRequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := invoke(t, mustNotRun(t), tc.event)
			checkS3Error(t, w, tc.status, tc.code)
		})
	}
}

func TestHandlerNullMapsAreEmpty(t *testing.T) {
	var seen *http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		w.WriteHeader(http.StatusNoContent)
	})
	w := invoke(t, h, `{"httpMethod":"GET","path":"/ping","multiValueHeaders":null,"multiValueQueryStringParameters":null,"queryStringParameters":null,"headers":null,"body":null,"isBase64Encoded":false}`)
	if seen == nil {
		t.Fatal("handler did not run")
	}
	if w.resp.StatusCode != http.StatusNoContent {
		t.Errorf("status = %d", w.resp.StatusCode)
	}
	if seen.RequestURI != "/ping" || len(seen.Header) != 0 || seen.ContentLength != 0 {
		t.Errorf("request = %q, %d headers, length %d", seen.RequestURI, len(seen.Header), seen.ContentLength)
	}
}

func TestResponse(t *testing.T) {
	bin := binary(4096)
	maxInline := binary(config.MaxInline)
	event := func(method string) string {
		return `{"httpMethod":"` + method + `","path":"/k","multiValueHeaders":{"host":["proxy"]},"body":"","isBase64Encoded":false}`
	}
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		status  int
		base64  bool
		body    []byte
		header  map[string][]string
		// s3code, when set, means an S3-style XML error replaces the answer.
		s3code string
		// why explains a failure of this case.
		why string
	}{
		{
			name:    "nothing written",
			handler: func(http.ResponseWriter, *http.Request) {},
			status:  200, body: []byte{}, header: map[string][]string{},
		},
		{
			name: "status only",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNotModified)
			},
			status: 304, body: []byte{},
		},
		{
			name: "binary body is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write(bin)
			},
			status: 200, base64: true, body: bin,
		},
		{
			name: "video body is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "video/quicktime")
				w.WriteHeader(http.StatusPartialContent)
				_, _ = w.Write([]byte("moov"))
			},
			status: 206, base64: true, body: []byte("moov"),
		},
		{
			name: "no content type is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("abc"))
			},
			status: 200, base64: true, body: []byte("abc"),
		},
		{
			name: "XML is plain",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>`)
			},
			status: 404, body: []byte(`<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>`),
		},
		{
			name: "text with charset is plain",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "Text/Plain; charset=utf-8")
				_, _ = io.WriteString(w, "héllo ✓\n")
			},
			status: 200, body: []byte("héllo ✓\n"),
		},
		{
			name: "JSON is plain",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"a":1}`)
			},
			status: 200, body: []byte(`{"a":1}`),
		},
		{
			name: "text that is not UTF-8 is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write([]byte{0xff, 0xfe, 'a'})
			},
			status: 200, base64: true, body: []byte{0xff, 0xfe, 'a'},
		},
		{
			name: "repeated headers are all kept",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("X-Amz-Meta-Tag", "a")
				w.Header().Add("X-Amz-Meta-Tag", "b")
				w.Header().Set("ETag", `"abc"`)
			},
			status: 200, body: []byte{},
			header: map[string][]string{"X-Amz-Meta-Tag": {"a", "b"}, "Etag": {`"abc"`}},
		},
		{
			name:   "HEAD drops the body but keeps Content-Length",
			method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "video/mp4")
				w.Header().Set("Content-Length", "5000000")
				_, _ = w.Write([]byte("should not be sent"))
			},
			status: 200, body: []byte{},
			header: map[string][]string{"Content-Length": {"5000000"}, "Content-Type": {"video/mp4"}},
		},
		{
			name: "the largest inline body fits in 1 MB of JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", "video/mp4")
				h.Set("ETag", `"0123456789abcdef0123456789abcdef"`)
				h.Set("Last-Modified", "Wed, 18 Nov 2026 09:30:00 GMT")
				h.Set("Content-Disposition", `attachment; filename="`+strings.Repeat("x", 200)+`.mov"`)
				h.Set("Access-Control-Expose-Headers", "ETag, Content-Range, Accept-Ranges, Content-Disposition, x-amz-version-id, x-amz-request-id")
				_, _ = w.Write(maxInline)
			},
			status: 200, base64: true, body: maxInline,
		},
		{
			name: "over 1 MB of body becomes a 502 S3 error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("ETag", `"leaked"`)
				chunk := binary(64 << 10)
				for range 20 { // 1.3 MB, ignoring write errors as a careless handler would
					_, _ = w.Write(chunk)
				}
			},
			s3code: "InternalError",
		},
		{
			// Plain text is not inflated by base64, so what survives of the
			// writes fits the JSON limit: only a record of the refused
			// writes can stop a truncated body being sent as a 200.
			name: "over 1 MB of text becomes a 502 S3 error, not a truncated 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				chunk := strings.Repeat("0123456789abcdef", 4<<10)
				for range 20 {
					_, _ = io.WriteString(w, chunk)
				}
			},
			s3code: "InternalError",
			why: "albhttp's recorder refuses the Write that would cross ResponseLimit but keeps no record of it, " +
				"so response() sends the 983,040 bytes it kept as a complete 200: a silently truncated body",
		},
		{
			name: "one write over 1 MB becomes a 502 S3 error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(binary(1_000_001))
			},
			s3code: "InternalError",
			why: "albhttp's recorder refuses the single oversize Write and keeps no record of it, " +
				"so response() sends a 200 with an empty body",
		},
		{
			name: "under 1 MB of body but over after base64 becomes a 502 S3 error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write(binary(800_000))
			},
			s3code: "InternalError",
		},
		{
			name: "over 1 MB of headers becomes a 502 S3 error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for i := range 40 {
					w.Header().Add("X-Amz-Meta-Big", strings.Repeat(string(rune('a'+i%26)), 30_000))
				}
			},
			s3code: "InternalError",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			w := invoke(t, tc.handler, event(method))
			if tc.why != "" {
				defer func() {
					if t.Failed() {
						t.Log("diagnosis:", tc.why)
					}
				}()
			}
			if tc.s3code != "" {
				checkS3Error(t, w, http.StatusBadGateway, tc.s3code)
				if v := header(w.resp, "ETag"); v != nil {
					t.Errorf("the failed answer's headers leaked into the error: ETag %q", v)
				}
				return
			}
			if w.resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", w.resp.StatusCode, tc.status)
			}
			if w.resp.IsBase64Encoded != tc.base64 {
				t.Errorf("isBase64Encoded = %v, want %v", w.resp.IsBase64Encoded, tc.base64)
			}
			if got := decodedBody(t, w.resp); !bytes.Equal(got, tc.body) {
				t.Errorf("body = %.80q (%d bytes), want %.80q (%d bytes)", got, len(got), tc.body, len(tc.body))
			}
			for k, want := range tc.header {
				if got := header(w.resp, k); !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestServe(t *testing.T) {
	ev := &events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/a%20b",
		MultiValueQueryStringParameters: map[string][]string{"x": {"%2F"}}}
	resp := albhttp.Serve(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.RequestURI)
	}), ev)
	if resp.StatusCode != 200 || resp.Body != "/a%20b?x=%2F" || resp.MultiValueHeaders == nil {
		t.Errorf("Serve = %+v", resp)
	}
	bad := albhttp.Serve(context.Background(), mustNotRun(t), &events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "k"})
	if bad.StatusCode != 400 || bad.MultiValueHeaders == nil || !strings.Contains(bad.Body, "InvalidURI") {
		t.Errorf("Serve(bad) = %+v", bad)
	}
}
