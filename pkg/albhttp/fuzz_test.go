package albhttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
)

// fuzzEchoHandler answers with what it was given: the method, path, query
// and a few request headers come back as response headers, the body comes
// back as the body, with the request's Content-Type, so that both the text
// and the base64 encodings of the response are exercised. X-Echo-Status
// picks the status (100–599 only, as a real handler's WriteHeader demands).
func fuzzEchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Echo-Method", r.Method)
		h.Set("X-Echo-Path", r.URL.Path)
		h.Set("X-Echo-Raw-Path", r.URL.RawPath)
		h.Set("X-Echo-Query", r.URL.RawQuery)
		h.Set("X-Echo-Request-Uri", r.RequestURI)
		h.Set("X-Echo-Host", r.Host)
		h.Set("X-Echo-Remote", r.RemoteAddr)
		for _, k := range []string{"Range", "Origin", "X-Amz-Security-Token"} {
			for _, v := range r.Header.Values(k) {
				h.Add("X-Echo-"+k, v)
			}
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			h.Set("Content-Type", ct)
		}
		status := http.StatusOK
		if n, err := strconv.Atoi(r.Header.Get("X-Echo-Status")); err == nil && n >= 100 && n <= 599 {
			status = n
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// FuzzInvoke feeds arbitrary bytes to the function as the raw ALB event.
// Whatever arrives, the function must answer with a response the ALB
// accepts, never with an error (which the runtime would report and the ALB
// turn into an opaque 502).
func FuzzInvoke(f *testing.F) {
	seeds := []string{
		`{"httpMethod":"GET","path":"/ping","multiValueHeaders":{"host":["proxy.test"]},"multiValueQueryStringParameters":{},"body":"","isBase64Encoded":false}`,
		`{"httpMethod":"GET","path":"/shotgun/a%20b.mov","multiValueQueryStringParameters":{"X-Amz-Signature":["0123"],"X-Amz-Security-Token":["tok%2Ben"]},"multiValueHeaders":{"range":["bytes=0-9"],"x-forwarded-for":["10.0.0.1, 10.0.0.2"]}}`,
		`{"httpMethod":"PUT","path":"/k","isBase64Encoded":true,"body":"AAECAwQF/w==","multiValueHeaders":{"content-type":["application/octet-stream"]}}`,
		`{"httpMethod":"PUT","path":"/k","isBase64Encoded":true,"body":"%%%not-base64"}`,
		`{"httpMethod":"POST","path":"/k","body":"<xml>\u00e9</xml>","multiValueHeaders":{"content-type":["application/xml"],"x-echo-status":["201"]}}`,
		`{"httpMethod":"GET","path":"/k","headers":{"host":"single.test"},"queryStringParameters":{"a":"b"}}`,
		`{"httpMethod":"GET","path":null,"multiValueHeaders":null,"body":null}`,
		`{"httpMethod":"get","path":"/k"}`,
		`{"httpMethod":"GET","path":"relative"}`,
		`{"httpMethod":"GET","path":"/a b"}`,
		`{"httpMethod":"GET","path":"/k","body":42}`,
		`{"httpMethod":"GET","path":"/k","multiValueHeaders":{"x-echo-status":["204"]},"body":"dropped"}`,
		`{"httpMethod":"HEAD","path":"/k","body":"no body on HEAD"}`,
		`{"httpMethod":"GET","path":"/k","multiValueHeaders":{"content-type":["text/plain"]},"body":"\xff\xfe"}`,
		`[]`, `null`, `"GET /"`, `{`, ``, `{}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fn := albhttp.NewFunction(fuzzEchoHandler(), albhttp.WithLogger(slog.New(slog.DiscardHandler)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := fn.Invoke(context.Background(), payload)
		if err != nil {
			t.Fatalf("Invoke returned an error (the ALB would answer 502): %v", err)
		}
		fuzzCheckALBResponse(t, out)
	})
}

// fuzzCheckALBResponse asserts what the ALB demands of a function's answer.
func fuzzCheckALBResponse(t *testing.T, out []byte) {
	t.Helper()
	if len(out) > albhttp.ResponseLimit {
		t.Fatalf("response is %d bytes of JSON, over the ALB's %d", len(out), albhttp.ResponseLimit)
	}
	if !json.Valid(out) || !utf8.Valid(out) {
		t.Fatalf("response is not valid JSON: %.300q", out)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("response is not a JSON object: %v: %.300q", err, out)
	}
	if _, ok := raw["headers"]; ok {
		t.Fatalf(`response has a "headers" key (multi-value mode answers 502): %.300q`, out)
	}
	var status int
	if err := json.Unmarshal(raw["statusCode"], &status); err != nil || status < 100 || status > 599 {
		t.Fatalf("statusCode %s is not an integer in 100–599", raw["statusCode"])
	}
	mvh := bytes.TrimSpace(raw["multiValueHeaders"])
	if len(mvh) == 0 || mvh[0] != '{' {
		t.Fatalf("multiValueHeaders = %.100q, want a JSON object", mvh)
	}
	var hdr map[string][]string
	if err := json.Unmarshal(mvh, &hdr); err != nil {
		t.Fatalf("multiValueHeaders is not a map of string lists: %v", err)
	}
	body := bytes.TrimSpace(raw["body"])
	if len(body) == 0 || body[0] != '"' {
		t.Fatalf("body = %.100q, want a JSON string", body)
	}
	var b64 bool
	if v, ok := raw["isBase64Encoded"]; ok {
		if err := json.Unmarshal(v, &b64); err != nil {
			t.Fatalf("isBase64Encoded = %s, want a boolean", v)
		}
	}
	if b64 {
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			t.Fatalf("body is flagged base64 but is not (the ALB answers 502): %v", err)
		}
	}
}
