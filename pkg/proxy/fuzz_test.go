package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/s3auth"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// FuzzContentRange: whatever S3 (or anything posing as it) sends, a parsed
// Content-Range is a real byte range inside the object.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-999/5000", "bytes 0-0/1", "bytes 100-199/*", "bytes */5000", "bytes 5-4/10",
		"bytes 0-10/10", "bytes -1-5/10", "bytes 0-9223372036854775807/9223372036854775807",
		"bytes 0-99999999999999999999/1", "bytes +1-+2/+3", "bytes 0-1/-1", "items 0-1/2", "bytes 0-1",
		"bytes  0-1/2", "bytes 0x1-2/3", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		first, last, total, ok := contentRange(v)
		if !ok {
			if first != 0 || last != 0 || total != 0 {
				t.Fatalf("refused %q but returned %d-%d/%d", v, first, last, total)
			}
			return
		}
		if first < 0 || first > last {
			t.Fatalf("%q parsed as %d-%d: first must be 0 ≤ first ≤ last", v, first, last)
		}
		// RFC 9110 §14.4: "bytes" SP first-pos "-" last-pos "/" ( complete-length / "*" ),
		// every number 1*DIGIT. A sign is not a digit: strconv.ParseInt's
		// "+"/"-" must not get through, nor may a negative length pose as
		// the "*" that -1 stands for.
		if !fuzzContentRangeGrammar(v) || total < -1 {
			t.Fatalf("contentRange accepted %q (→ %d-%d/%d), which is not a valid Content-Range: "+
				"numbers must be plain digits and the complete length non-negative or \"*\"", v, first, last, total)
		}
		if total >= 0 && last >= total {
			t.Fatalf("%q parsed as %d-%d/%d: last must be < total", v, first, last, total)
		}
		// What was accepted reads back the same when written canonically.
		canon := "bytes " + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) + "/"
		if total < 0 {
			canon += "*"
		} else {
			canon += strconv.FormatInt(total, 10)
		}
		f2, l2, t2, ok2 := contentRange(canon)
		if !ok2 || f2 != first || l2 != last || t2 != total {
			t.Fatalf("%q → %q does not round-trip", v, canon)
		}
	})
}

// fuzzContentRangeGrammar reports whether v is "bytes D-D/D" or "bytes D-D/*"
// with D one or more ASCII digits.
func fuzzContentRangeGrammar(v string) bool {
	digits := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return false
	}
	rng, size, ok := strings.Cut(spec, "/")
	if !ok {
		return false
	}
	a, b, ok := strings.Cut(rng, "-")
	return ok && digits(a) && digits(b) && (size == "*" || digits(size))
}

// fuzzPchar is what RFC 3986 allows in a path: pchar and '/'.
func fuzzPchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0
}

// FuzzObjectKey: an accepted key is one S3 could hold; anything a real
// client could not have sent is refused with a client error.
func FuzzObjectKey(f *testing.F) {
	for _, s := range []string{
		"/shotgun/a.mov", "/media/shotgun/a.mov", "/", "//", "/a//b", "/a/../b", "/%2e%2e/%2e%2e/etc/passwd",
		"/a%2Fb", "/a%00b", "/%ff%fe", "/a\\b", "/a b", "/%zz", "/%", "/%E6%97%A5.mov", "relative",
		"/" + strings.Repeat("k", 1025), "/media", "/media/", "/other/k", "/a\x00b", "/\xff",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, rawPath string, virtualHosted bool) {
		key, err := objectKey(rawPath, "media", virtualHosted)
		if err != nil {
			var e *s3error.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
				t.Fatalf("objectKey(%q) failed with %v, want an *s3error.Error 4xx", rawPath, err)
			}
			if key != "" {
				t.Fatalf("objectKey(%q) returned key %q with error %v", rawPath, key, err)
			}
			return
		}
		switch {
		case key == "":
			t.Fatalf("objectKey(%q) accepted an empty key", rawPath)
		case len(key) > 1024:
			t.Fatalf("objectKey(%q) accepted a %d-byte key", rawPath, len(key))
		case !utf8.ValidString(key):
			t.Fatalf("objectKey(%q) accepted non-UTF-8 key %q", rawPath, key)
		case strings.IndexByte(key, 0) >= 0:
			t.Fatalf("objectKey(%q) accepted a key with NUL: %q", rawPath, key)
		case !strings.HasPrefix(rawPath, "/"):
			t.Fatalf("objectKey(%q) accepted a path not starting with '/'", rawPath)
		}
		for i := 0; i < len(rawPath); i++ {
			if !fuzzPchar(rawPath[i]) {
				t.Fatalf("objectKey(%q) accepted byte %#x at %d, outside RFC 3986 pchar", rawPath, rawPath[i], i)
			}
		}
		// The key is the path, less the bucket for path-style, decoded.
		p, _ := url.PathUnescape(rawPath)
		want := p[1:]
		if !virtualHosted {
			want = strings.TrimPrefix(want, "media/")
		}
		if key != want {
			t.Fatalf("objectKey(%q) = %q, want %q", rawPath, key, want)
		}
	})
}

// ---------------------------------------------------------------------------
// FuzzHandler

// fuzzNow is the handler's clock; fuzzQuery was signed at 10:00 for an hour.
var fuzzNow = time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)

const (
	fuzzSig   = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	fuzzToken = "FUZZSESSIONTOKEN%2Bsecret%2Fvalue"
	fuzzQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAFUZZ%2F20261127%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20261127T100000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host" +
		"&X-Amz-Security-Token=" + fuzzToken + "&X-Amz-Signature=" + fuzzSig
	fuzzInlineMax = 1000
)

// fuzzUpstream is a hand-written S3 stand-in whose answer is chosen by the
// fuzzer; it records how many requests it got and what it said.
type fuzzUpstream struct {
	mode  byte
	cr    string // Content-Range for the "garbage 206" mode
	calls int
	said  int // status of the last answer; 0 for a transport error
}

const fuzzUpstreamModes = 14

func (u *fuzzUpstream) Do(r *http.Request) (*http.Response, error) {
	u.calls++
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	xml := func(status int, code string) *http.Response {
		b := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>m</Message></Error>`
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/xml"}},
			ContentLength: int64(len(b)), Body: io.NopCloser(strings.NewReader(b))}
	}
	full := func(n int, length int64) *http.Response {
		return &http.Response{StatusCode: 200, Header: http.Header{"Etag": {`"e"`}, "Content-Type": {"video/mp4"}},
			ContentLength: length, Body: io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("x"), n)))}
	}
	var resp *http.Response
	switch u.mode % fuzzUpstreamModes {
	case 0, 1: // an object that honours Range and conditionals, as S3 does
		n := 600
		if u.mode%fuzzUpstreamModes == 1 {
			n = 5000
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("ETag", `"etag-1"`)
		rec.Header().Set("Content-Type", "video/quicktime")
		http.ServeContent(rec, r, "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(bytes.Repeat([]byte("o"), n)))
		resp = rec.Result()
		if r.Method == http.MethodHead {
			resp.ContentLength = int64(n)
		}
	case 2: // the probe range ignored, a small whole object
		resp = full(500, 500)
	case 3: // the probe range ignored, a large whole object
		resp = full(5000, 5000)
	case 4: // a 206 with whatever Content-Range the fuzzer chose
		resp = &http.Response{StatusCode: 206, Header: http.Header{"Content-Range": {u.cr}}, ContentLength: 10,
			Body: io.NopCloser(strings.NewReader("0123456789"))}
	case 5:
		resp = xml(403, "SignatureDoesNotMatch")
	case 6:
		resp = xml(404, "NoSuchKey")
	case 7:
		resp = xml(500, "InternalError")
	case 8:
		resp = xml(503, "SlowDown")
	case 9:
		u.said = 0
		return nil, errors.New("dial tcp: connection refused")
	case 10: // cut mid-stream
		resp = &http.Response{StatusCode: 206, Header: http.Header{"Content-Range": {"bytes 0-99/100"}}, ContentLength: 100,
			Body: io.NopCloser(io.MultiReader(strings.NewReader("partial"), fuzzErrReader{}))}
	case 11:
		resp = &http.Response{StatusCode: 304, Header: http.Header{"Etag": {`"e"`}}, ContentLength: 0, Body: http.NoBody}
	case 12: // no declared length
		n := 500
		if len(u.cr)%2 == 1 {
			n = 5000
		}
		resp = full(n, -1)
	case 13:
		resp = xml(416, "InvalidRange")
	}
	u.said = resp.StatusCode
	return resp, nil
}

type fuzzErrReader struct{}

func (fuzzErrReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// fuzzSigner is the production signer with the function's static test
// credentials; signing makes no network call.
var fuzzSigner = sync.OnceValue(func() Signer {
	return NewSigner(aws.Config{Region: "us-east-1", Credentials: fuzzCreds}, fuzzConfigs()[0])
})

var fuzzCreds = credentials.NewStaticCredentialsProvider("AKIAFUNCTIONFUZZ", "function-secret", "")

// fuzzConfigs are the configurations the fuzzer picks from: virtual-hosted
// or path-style, with or without key prefixes and CORS origins.
var fuzzConfigs = sync.OnceValue(func() []*config.Config {
	var out []*config.Config
	for i := 0; i < 8; i++ {
		m := map[string]string{
			"S3PROXY_BUCKET":           "media",
			"S3PROXY_REGION":           "us-east-1",
			"S3PROXY_ENDPOINT_URL":     "https://bucket.vpce-1.s3.us-east-1.vpce.amazonaws.com",
			"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(fuzzInlineMax),
			"S3PROXY_UPSTREAM_URL":     "http://upstream.test",
		}
		if i&1 != 0 {
			m["S3PROXY_SIGNED_HOST"] = "s3.us-east-1.amazonaws.com"
		}
		if i&2 != 0 {
			m["S3PROXY_KEY_PREFIXES"] = "shotgun/,media/"
		}
		if i&4 != 0 {
			m["S3PROXY_ALLOWED_ORIGINS"] = "https://site.shotgrid.test"
		}
		cfg, err := config.FromEnv(func(k string) string { return m[k] })
		if err != nil {
			panic(err)
		}
		out = append(out, cfg)
	}
	return out
})

// fuzzStatuses are every status the handler may answer with: its own, and
// those of the fake upstream, which it passes through.
var fuzzStatuses = map[int]bool{
	200: true, 206: true, 304: true, 307: true, 501: true,
	400: true, 403: true, 404: true, 405: true, 412: true, 416: true,
	500: true, 502: true, 503: true,
}

// FuzzHandler sends one fuzzed request through the handler in front of a
// fake upstream whose answer the fuzzer also picks.
func FuzzHandler(f *testing.F) {
	type seed struct {
		method, path, query, rng, hdrs string
		mode, flags                    byte
	}
	seeds := []seed{
		{"GET", "/shotgun/small.mov", fuzzQuery, "", "", 0, 0},
		{"GET", "/shotgun/large.mov", fuzzQuery, "", "", 1, 0},
		{"GET", "/shotgun/large.mov", fuzzQuery, "bytes=100-199", "", 1, 0},
		{"GET", "/shotgun/large.mov", fuzzQuery, "bytes=-10", "", 1, 0},
		{"GET", "/shotgun/large.mov", fuzzQuery, "bytes=0-1,5-9", "", 1, 0},
		{"GET", "/shotgun/large.mov", fuzzQuery, "bytes=9000-", "", 1, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "", 2, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "", 3, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "\n\n\n\nbytes 0-9/10", 4, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "\n\n\n\nbytes 0-9/99999", 4, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "", 5, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "", 9, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "", 10, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", `"etag-1"`, 11, 0},
		{"GET", "/shotgun/any.mov", fuzzQuery, "", "", 12, 0},
		{"HEAD", "/shotgun/large.mov", fuzzQuery, "", "", 1, 0},
		{"PUT", "/shotgun/new.mov", fuzzQuery, "", "", 0, 0},
		{"DELETE", "/shotgun/new.mov", fuzzQuery, "", "", 6, 0},
		{"OPTIONS", "/shotgun/new.mov", "", "", "https://site.shotgrid.test\n\nPUT\ncontent-type", 0, 4},
		{"OPTIONS", "/shotgun/new.mov", "", "", "https://evil.test\n\nPUT", 0, 4},
		{"OPTIONS", "/shotgun/new.mov", "", "", "https://site.shotgrid.test\n\nPUT", 7, 0},
		{"GET", "/media/shotgun/small.mov", fuzzQuery, "", "", 0, 1},
		{"GET", "/other/x.mov", fuzzQuery, "", "", 0, 2},
		{"GET", "/ping", "", "", "", 0, 0},
		{"PATCH", "/shotgun/small.mov", fuzzQuery, "", "", 0, 0},
		{"GET", "/shotgun/%2e%2e/%2e%2e/x", fuzzQuery, "", "", 0, 0},
		{"GET", "/shotgun/a%00b", fuzzQuery, "", "", 0, 0},
		{"GET", "/shotgun/\xff", fuzzQuery, "", "", 0, 0},
		{"GET", "/shotgun/small.mov", strings.Replace(fuzzQuery, "X-Amz-Expires=3600", "X-Amz-Expires=604801", 1), "", "", 0, 0},
		{"GET", "/shotgun/small.mov", fuzzQuery + "&X-Amz-Signature=" + fuzzSig, "", "", 0, 0},
		{"GET", "/shotgun/small.mov", "AWSAccessKeyId=AKIAFUZZ&Expires=1900000000&Signature=FUZZV2SIGNATUREVALUE%3D", "", "", 3, 0},
		{"GET", "/shotgun/small.mov", fuzzQuery + "&response-content-disposition=attachment%3B%20filename%3D%22a.mov%22&versionId=v1", "", "", 3, 0},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.rng, s.hdrs, s.mode, s.flags, []byte(nil))
	}
	f.Fuzz(func(t *testing.T, method, rawPath, rawQuery, rng, hdrs string, mode, flags byte, body []byte) {
		cfg := fuzzConfigs()[flags%8]
		up := &fuzzUpstream{mode: mode}
		var logs bytes.Buffer
		h := New(cfg, Deps{
			Upstream: up,
			Signer:   fuzzSigner(),
			Logger:   slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Now:      func() time.Time { return fuzzNow },
		})
		h.retryBase = time.Microsecond

		hv := strings.SplitN(hdrs, "\n", 5)
		for len(hv) < 5 {
			hv = append(hv, "")
		}
		up.cr = hv[4]
		uri := rawPath
		if rawQuery != "" {
			uri += "?" + rawQuery
		}
		// The request as albhttp.NewRequest builds it from an event.
		u := &url.URL{Path: rawPath, RawPath: rawPath, RawQuery: rawQuery}
		if p, err := url.PathUnescape(rawPath); err == nil {
			u.Path = p
		}
		r := &http.Request{
			Method: method, URL: u, RequestURI: uri, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "s3-proxy.studio.test", Body: http.NoBody,
		}
		if len(body) > 0 {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		r = r.WithContext(context.Background())
		set := func(k, v string) {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		set("Range", rng)
		set("Origin", hv[0])
		set("If-None-Match", hv[1])
		set("Access-Control-Request-Method", hv[2])
		set("Access-Control-Request-Headers", hv[3])

		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		status := w.Code

		if strings.Contains(logs.String(), "panic while handling request") {
			t.Fatalf("the handler panicked (recovered into a 500): %s", logs.String())
		}
		if !fuzzStatuses[status] {
			t.Fatalf("status %d is not one the handler may answer (upstream said %d)", status, up.said)
		}
		// One upstream request, and for a read that failed transiently
		// (500, 503, the connection) exactly two more; a write never twice.
		m := up.mode % fuzzUpstreamModes
		allowed := 1
		if (m == 7 || m == 8 || m == 9) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			allowed = maxAttempts
		}
		if up.calls > allowed || (allowed == maxAttempts && up.calls != 0 && up.calls != maxAttempts) {
			t.Fatalf("%d upstream requests for a %s the upstream answered %d; want at most 1, or %d for a read failing transiently",
				up.calls, r.Method, up.said, maxAttempts)
		}
		if status >= 300 && status < 400 && status != http.StatusNotModified {
			if status != http.StatusTemporaryRedirect || r.Method != http.MethodGet {
				t.Fatalf("redirect %d for %s", status, r.Method)
			}
			if up.calls != 1 || (up.said != 200 && up.said != 206) {
				t.Fatalf("307 though the upstream said %d (%d calls)", up.said, up.calls)
			}
			_, q, _ := strings.Cut(uri, "?")
			pq, err := s3auth.ParseQuery(q)
			if err != nil {
				t.Fatalf("307 for an unparseable query: %v", err)
			}
			a, err := s3auth.Parse(pq)
			if err != nil || a.Check(fuzzNow, cfg.Region) != nil {
				t.Fatalf("307 for a query without a valid signature shape (%v)", err)
			}
			if w.Header().Get("Location") == "" {
				t.Fatal("307 without Location")
			}
		}
		if status == http.StatusNotModified && up.said != http.StatusNotModified {
			t.Fatalf("304 though the upstream said %d", up.said)
		}
		if status >= 400 && w.Header().Get("Location") != "" {
			t.Fatalf("Location %q on a %d", w.Header().Get("Location"), status)
		}
		if status >= 400 && up.calls == 0 && r.Method != http.MethodHead {
			// The proxy's own refusals are S3 XML errors.
			if ct := w.Header().Get("Content-Type"); ct != "application/xml" || !bytes.HasPrefix(w.Body.Bytes(), []byte("<?xml")) {
				t.Fatalf("own %d answer is not S3 XML: %s %.200q", status, ct, w.Body.Bytes())
			}
		}
		// One log line per request, and nothing secret in the logs.
		if n := strings.Count(logs.String(), `"msg":"request"`); n != 1 {
			t.Fatalf("%d request log lines, want 1: %s", n, logs.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Fatalf("log line is not JSON: %q", line)
			}
		}
		_, q, _ := strings.Cut(uri, "?")
		for _, s := range fuzzSecrets(q) {
			if strings.Contains(uri[:len(uri)-len(q)], s) || strings.Contains(method, s) {
				continue // logged as part of the key or method, not as a secret
			}
			esc, _ := json.Marshal(s)
			if strings.Contains(logs.String(), s) || strings.Contains(logs.String(), string(esc[1:len(esc)-1])) {
				t.Fatalf("the logs carry the secret %q: %s", s, logs.String())
			}
		}
	})
}

// fuzzSecrets are the query's signature and token values, raw and decoded,
// long enough that finding one in a log line is no coincidence.
func fuzzSecrets(q string) []string {
	var out []string
	for _, part := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		switch strings.ToLower(k) {
		case "x-amz-signature", "x-amz-security-token", "signature":
		default:
			continue
		}
		cands := []string{v}
		if dv, err := url.QueryUnescape(v); err == nil {
			cands = append(cands, dv)
		}
		for _, c := range cands {
			if len(c) >= 12 {
				out = append(out, c)
			}
		}
	}
	return out
}
