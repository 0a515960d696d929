package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probeObjects are the size classes around the probe and the inline limit
// (the default 700 KiB), each a distinct pattern so a splice would show.
func probeObjects() map[string][]byte {
	obj := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i%251)
		}
		return b
	}
	return map[string][]byte{
		"/shotgun/1k.jpg":         obj(1000, 1),
		"/shotgun/64k.jpg":        obj(probeBytes, 2),
		"/shotgun/64k-and-1.jpg":  obj(probeBytes+1, 3),
		"/shotgun/300k.jpg":       obj(300<<10, 4),
		"/shotgun/700k.mov":       obj(700<<10, 5),
		"/shotgun/700k-and-1.mov": obj(700<<10+1, 6),
		"/shotgun/20m.mov":        obj(20<<20, 7),
		"/shotgun/empty.mov":      {},
		"/shotgun/versioned.mov":  obj(100<<10, 8),
	}
}

func probeFixture(t *testing.T) *fixture {
	f := newFixture(t, env{"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(700 << 10)})
	f.up.objects = probeObjects()
	return f
}

// The probe asks for 64 KiB. An object that fits it is one request; one
// between it and the inline limit is two, the second for exactly the rest
// and only for the version the first named; one over the limit is one, and
// a redirect throws away at most 64 KiB.
func TestProbeSizeClasses(t *testing.T) {
	tests := []struct {
		path   string
		status int
		ranges []string // the Range of each upstream request
	}{
		{"/shotgun/empty.mov", 200, []string{"bytes=0-65535"}},
		{"/shotgun/1k.jpg", 200, []string{"bytes=0-65535"}},
		{"/shotgun/64k.jpg", 200, []string{"bytes=0-65535"}},
		{"/shotgun/64k-and-1.jpg", 200, []string{"bytes=0-65535", "bytes=65536-65536"}},
		{"/shotgun/300k.jpg", 200, []string{"bytes=0-65535", "bytes=65536-307199"}},
		{"/shotgun/700k.mov", 200, []string{"bytes=0-65535", "bytes=65536-716799"}},
		{"/shotgun/700k-and-1.mov", 307, []string{"bytes=0-65535"}},
		{"/shotgun/20m.mov", 307, []string{"bytes=0-65535"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := probeFixture(t)
			want := f.up.objects[tc.path]
			resp := f.do("GET", tc.path+"?"+presigned(), nil, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %.200s", resp.StatusCode, tc.status, body)
			}
			if len(f.up.reqs) != len(tc.ranges) {
				t.Fatalf("%d upstream requests, want %d", len(f.up.reqs), len(tc.ranges))
			}
			for i, r := range f.up.reqs {
				if got := r.Header.Get("Range"); got != tc.ranges[i] {
					t.Errorf("request %d: Range %q, want %q", i+1, got, tc.ranges[i])
				}
				wantIfMatch := ""
				if i == 1 {
					wantIfMatch = `"etag-1"`
				}
				if got := r.Header.Get("If-Match"); got != wantIfMatch {
					t.Errorf("request %d: If-Match %q, want %q", i+1, got, wantIfMatch)
				}
				if r.URL.RawQuery != presigned() {
					t.Errorf("request %d: query %q, want the client's", i+1, r.URL.RawQuery)
				}
			}
			if tc.status == 307 {
				if loc := resp.Header.Get("Location"); loc == "" || strings.Contains(loc, "range") {
					t.Errorf("Location %q: want a URL that signs no Range (the probe is the proxy's own)", loc)
				}
				if f.sig.req.Header.Get("Range") != "" {
					t.Errorf("the mint carried the probe's Range %q", f.sig.req.Header.Get("Range"))
				}
				return
			}
			if !bytes.Equal(body, want) {
				t.Errorf("body: %d bytes, want the object's %d", len(body), len(want))
			}
			for k, v := range map[string]string{"Content-Length": strconv.Itoa(len(want)), "Etag": `"etag-1"`,
				"Content-Type": "video/quicktime", "X-Amz-Version-Id": "v1", "Content-Range": ""} {
				if got := resp.Header.Get(k); got != v && !(k == "Content-Type" && len(want) == 0) {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(f.logs.String(), `"upstreamAttempts":`+strconv.Itoa(len(tc.ranges))) {
				t.Errorf("log line does not count %d upstream requests: %s", len(tc.ranges), f.logs)
			}
		})
	}
}

// changingUpstream serves an object that is overwritten after each of its
// first `changes` answers, as a concurrent PUT would: a new ETag and new
// bytes each time.
type changingUpstream struct {
	size    int
	changes int32
	n       atomic.Int32
	reqs    []*http.Request
}

func (c *changingUpstream) Do(r *http.Request) (*http.Response, error) {
	c.reqs = append(c.reqs, r)
	n := c.n.Add(1)
	version := min(n, c.changes+1)
	body := bytes.Repeat([]byte{byte('a' + version)}, c.size)
	rec := httptest.NewRecorder()
	rec.Header().Set("ETag", `"v`+strconv.Itoa(int(version))+`"`)
	rec.Header().Set("Content-Type", "image/jpeg")
	http.ServeContent(rec, r, "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(body))
	return rec.Result(), nil
}

// An overwrite between the two parts never splices two versions: S3 refuses
// the second part (If-Match), the read starts again once, and a second
// overwrite is answered 503.
func TestProbeObjectChangedBetweenParts(t *testing.T) {
	const size = 200 << 10
	tests := []struct {
		name     string
		changes  int32
		status   int
		requests int
	}{
		{"no change", 0, 200, 2},
		{"one overwrite: read again", 1, 200, 4},
		{"two overwrites: 503", 5, 503, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := probeFixture(t)
			up := &changingUpstream{size: size, changes: tc.changes}
			f.h.upstream = up
			resp := f.do("GET", "/shotgun/a.jpg?"+presigned(), nil, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || len(up.reqs) != tc.requests {
				t.Fatalf("status %d after %d requests, want %d after %d; body %.200s", resp.StatusCode, len(up.reqs), tc.status, tc.requests, body)
			}
			if tc.status != 200 {
				if !strings.Contains(string(body), "<Code>ServiceUnavailable</Code>") {
					t.Errorf("body %.300s, want S3's ServiceUnavailable", body)
				}
				return
			}
			if len(body) != size || !bytes.Equal(body, bytes.Repeat(body[:1], size)) {
				t.Errorf("body of %d bytes mixes versions: first %q, last %q", len(body), body[0], body[len(body)-1])
			}
			if etag := resp.Header.Get("ETag"); etag != `"v`+string(rune('0'+body[0]-'a'))+`"` {
				t.Errorf("ETag %q does not name the version of the bytes (%q)", etag, body[0])
			}
		})
	}
}

// A client's own If-Match is its condition, kept on both requests and never
// replaced; a client's signature that covers if-match keeps the proxy from
// adding one. The parts are still checked to name one ETag.
func TestProbeKeepsTheClientsConditions(t *testing.T) {
	f := probeFixture(t)
	resp := f.do("GET", "/shotgun/300k.jpg?"+presigned(), http.Header{"If-Match": {`"etag-1"`}, "If-None-Match": {`"other"`}}, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(body) != 300<<10 {
		t.Fatalf("status %d, %d bytes; want 200 and the object", resp.StatusCode, len(body))
	}
	for i, r := range f.up.reqs {
		if got := r.Header.Values("If-Match"); len(got) != 1 || got[0] != `"etag-1"` {
			t.Errorf("request %d: If-Match %q, want the client's alone", i+1, got)
		}
		if got := r.Header.Get("If-None-Match"); got != `"other"` {
			t.Errorf("request %d: If-None-Match %q, want the client's", i+1, got)
		}
	}

	f = probeFixture(t)
	q := strings.Replace(presigned(), "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host%3Bif-match", 1)
	resp = f.do("GET", "/shotgun/300k.jpg?"+q, nil, nil)
	_, _ = io.Copy(io.Discard, resp.Body)
	if len(f.up.reqs) != 2 || f.up.reqs[1].Header.Get("If-Match") != "" {
		t.Errorf("a signature covering if-match: requests %d, second If-Match %q; want none added", len(f.up.reqs), f.up.reqs[len(f.up.reqs)-1].Header.Get("If-Match"))
	}
}

// S3's answer to the second part that is not the rest of the same version
// is passed on as S3's: a URL that expired in between gets S3's 403.
func TestProbeSecondPartRefused(t *testing.T) {
	f := probeFixture(t)
	calls := 0
	f.up.do = func(r *http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			rec := httptest.NewRecorder()
			rec.Header().Set("ETag", `"e"`)
			http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(make([]byte, 100<<10)))
			return rec.Result(), nil
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/xml")
		rec.WriteHeader(http.StatusForbidden)
		rec.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
		return rec.Result(), nil
	}
	resp := f.do("GET", "/shotgun/x.jpg?"+presigned(), nil, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "AccessDenied") || calls != 2 {
		t.Errorf("status %d after %d calls, body %.200s; want S3's 403 after 2", resp.StatusCode, calls, body)
	}
}

// Without an ETag the two parts cannot be bound to one version, so an
// object larger than the probe is redirected instead of read in two parts.
func TestProbeWithoutETagRedirects(t *testing.T) {
	f := probeFixture(t)
	obj := f.up.objects["/shotgun/300k.jpg"]
	f.up.do = func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(obj))
		return rec.Result(), nil
	}
	resp := f.do("GET", "/shotgun/300k.jpg?"+presigned(), nil, nil)
	if resp.StatusCode != http.StatusTemporaryRedirect || len(f.up.reqs) != 1 {
		t.Errorf("status %d after %d requests, want 307 after 1", resp.StatusCode, len(f.up.reqs))
	}
}

// TestRedirectKeepsTheConnection holds release to its reason: a redirected
// read leaves the rest of the probe unread, and closing it unread would
// cost the next request to S3 a new connection (a TLS handshake, on
// Lambda). Three redirects in a row must share one connection.
func TestRedirectKeepsTheConnection(t *testing.T) {
	large := bytes.Repeat([]byte("L"), 5000)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"etag-1"`)
		http.ServeContent(w, r, "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(large))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f := newFixture(t, env{"S3PROXY_UPSTREAM_URL": srv.URL})
	f.h.upstream = NewUpstreamClient()
	for i := range 3 {
		resp := f.do("GET", "/shotgun/large.mov?"+presigned(), nil, nil)
		if resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("read %d: %d, want 307", i+1, resp.StatusCode)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("three redirected reads opened %d connections to S3, want 1", n)
	}
}

// TestRetriesBoundEachRequest: a read in two parts may retry each part
// twice, and no more. The bound once counted the exchange's attempts, so a
// probe that used all three left the second part bounded only by the
// deadline.
func TestRetriesBoundEachRequest(t *testing.T) {
	f := probeFixture(t)
	f.h.retryBase = time.Millisecond
	f.h.defaultTimeout = 300 * time.Millisecond
	objects := f.up.objects
	n := 0
	f.up.do = func(r *http.Request) (*http.Response, error) {
		n++
		if n <= 2 || n > 3 {
			// The probe succeeds at its third attempt; every part after
			// it meets SlowDown.
			return xmlResponse(http.StatusServiceUnavailable, "SlowDown"), nil
		}
		return (&fakeUpstream{objects: objects}).Do(r)
	}
	resp := f.do("GET", "/shotgun/300k.jpg?"+presigned(), nil, nil)
	if got := f.up.count(); got != 2*maxAttempts {
		t.Errorf("status %d after %d upstream requests; want %d (three for each part)", resp.StatusCode, got, 2*maxAttempts)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want S3's 503 passed on", resp.StatusCode)
	}
}

// TestPlusInPathIsNeverMinted: S3 is reported to read a literal '+' in a
// path as a space, so a URL signed for "a b" may be served for "a+b", while
// the proxy, reading the key literally, would mint for the object "a+b",
// which that URL never covered.
func TestPlusInPathIsNeverMinted(t *testing.T) {
	f := newFixture(t, env{"S3PROXY_KEY_PREFIXES": "shotgun/"})
	large := bytes.Repeat([]byte("L"), 5000)
	f.up.do = func(r *http.Request) (*http.Response, error) {
		// S3's reading of the path: '+' a space, %XX decoded.
		key, _ := url.PathUnescape(strings.ReplaceAll(r.URL.EscapedPath(), "+", "%20"))
		rec := httptest.NewRecorder()
		if key != "/shotgun/a b.mov" {
			rec.WriteHeader(http.StatusNotFound)
			return rec.Result(), nil
		}
		rec.Header().Set("ETag", `"etag-1"`)
		http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(large))
		return rec.Result(), nil
	}
	resp := f.do("GET", "/shotgun/a+b.mov?"+presigned(), nil, nil)
	if resp.StatusCode != http.StatusNotImplemented || resp.Header.Get("Location") != "" {
		t.Errorf("status %d, Location %q: want 501 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := f.sig.req.Key; got != "" {
		t.Errorf("minted for %q", got)
	}
	// Encoded, the same key is the client's, and is minted.
	resp = f.do("GET", "/shotgun/a%20b.mov?"+presigned(), nil, nil)
	if resp.StatusCode != http.StatusTemporaryRedirect || f.sig.req.Key != "shotgun/a b.mov" {
		t.Errorf("encoded: status %d, minted %q; want 307 for shotgun/a b.mov", resp.StatusCode, f.sig.req.Key)
	}
}
