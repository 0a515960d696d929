package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/routes"
)

const testSig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var testNow = time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)

// presigned is a ShotGrid-style query signed at 10:00 for an hour.
func presigned(extra ...string) string {
	q := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261127%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20261127T100000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host" +
		"&X-Amz-Security-Token=SECRETTOKEN%2Bvalue&X-Amz-Signature=" + testSig
	for _, e := range extra {
		q += "&" + e
	}
	return q
}

type env map[string]string

func testConfig(t testing.TB, overrides env) *config.Config {
	t.Helper()
	m := env{
		"S3PROXY_BUCKET":           "media",
		"S3PROXY_REGION":           "us-east-1",
		"S3PROXY_ENDPOINT_URL":     "https://bucket.vpce-1.s3.us-east-1.vpce.amazonaws.com",
		"S3PROXY_INLINE_MAX_BYTES": "1000",
		"S3PROXY_UPSTREAM_URL":     "http://upstream.test",
	}
	for k, v := range overrides {
		m[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return m[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type fixture struct {
	h    *Handler
	up   *fakeUpstream
	sig  *fakeSigner
	logs *bytes.Buffer
}

func newFixture(t *testing.T, overrides env) *fixture {
	t.Helper()
	f := &fixture{
		up: &fakeUpstream{objects: map[string][]byte{
			"/shotgun/small.mov": bytes.Repeat([]byte("s"), 600),
			"/shotgun/exact.mov": bytes.Repeat([]byte("e"), 1000),
			"/shotgun/large.mov": bytes.Repeat([]byte("L"), 5000),
			"/shotgun/empty.mov": {},
		}},
		logs: &bytes.Buffer{},
	}
	cfg := testConfig(t, overrides)
	f.sig = newFakeSigner(cfg)
	f.h = New(cfg, Deps{
		Upstream: f.up,
		Signer:   f.sig,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "ASIAFUNCTION", SecretAccessKey: "fnsecret", SessionToken: "fntoken",
				CanExpire: true, Expires: testNow.Add(6 * time.Hour)}, nil
		}),
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:    func() time.Time { return testNow },
	})
	return f
}

func (f *fixture) do(method, target string, hdr http.Header, body []byte) *http.Response {
	// Built by hand: the target may be one net/url refuses to parse, as a
	// hostile client's can be.
	r := httptest.NewRequest(method, "/", bytes.NewReader(body))
	r.RequestURI = target
	path, query, _ := strings.Cut(target, "?")
	r.URL.Path, r.URL.RawQuery = path, query
	r.Host = "s3-proxy.studio.test"
	for k, vs := range hdr {
		if k == "Host" {
			r.Host = vs[0]
			continue
		}
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Result()
}

func TestRequestTable(t *testing.T) {
	tests := []struct {
		name      string
		env       env
		method    string
		target    string
		header    http.Header
		body      string
		status    int
		upstream  int    // upstream requests expected
		bodyLen   int    // -1: don't check
		code      string // S3 error code expected in the body
		header1   map[string]string
		noHeaders []string
		decision  string
	}{
		{name: "ping", method: "GET", target: "/ping", status: 200, upstream: 0, bodyLen: 0, decision: "ping",
			header1: map[string]string{"Content-Type": "text/plain"}},
		{name: "ping wrong method", method: "DELETE", target: "/ping", status: 405, upstream: 0, bodyLen: -1, code: "MethodNotAllowed", decision: "ping"},
		{name: "small object inline", method: "GET", target: "/shotgun/small.mov?" + presigned(), status: 200, upstream: 1, bodyLen: 600, decision: "inline",
			header1:   map[string]string{"Etag": `"etag-1"`, "Content-Type": "video/quicktime", "Content-Length": "600", "X-Amz-Version-Id": "v1", "Accept-Ranges": "bytes"},
			noHeaders: []string{"Content-Range", "Location", "Connection"}},
		{name: "object exactly the inline max", method: "GET", target: "/shotgun/exact.mov?" + presigned(), status: 200, upstream: 1, bodyLen: 1000, decision: "inline",
			noHeaders: []string{"Content-Range", "Location"}},
		{name: "empty object", method: "GET", target: "/shotgun/empty.mov?" + presigned(), status: 200, upstream: 1, bodyLen: 0, decision: "inline"},
		{name: "requested range stays 206", method: "GET", target: "/shotgun/large.mov?" + presigned(), header: http.Header{"Range": {"bytes=100-199"}},
			status: 206, upstream: 1, bodyLen: 100, decision: "inline", header1: map[string]string{"Content-Range": "bytes 100-199/5000"}},
		{name: "suffix range", method: "GET", target: "/shotgun/large.mov?" + presigned(), header: http.Header{"Range": {"bytes=-10"}},
			status: 206, upstream: 1, bodyLen: 10, decision: "inline", header1: map[string]string{"Content-Range": "bytes 4990-4999/5000"}},
		{name: "unsatisfiable range", method: "GET", target: "/shotgun/large.mov?" + presigned(), header: http.Header{"Range": {"bytes=9000-"}},
			status: 416, upstream: 1, bodyLen: -1, decision: "inline"},
		{name: "large object redirected", method: "GET", target: "/shotgun/large.mov?" + presigned(), status: 307, upstream: 1, bodyLen: 0, decision: "redirect",
			header1: map[string]string{"Cache-Control": "no-store"}, noHeaders: []string{"Etag", "Content-Range"}},
		{name: "large requested range redirected", method: "GET", target: "/shotgun/large.mov?" + presigned(), header: http.Header{"Range": {"bytes=0-2999"}},
			status: 307, upstream: 1, bodyLen: 0, decision: "redirect"},
		{name: "not modified", method: "GET", target: "/shotgun/small.mov?" + presigned(), header: http.Header{"If-None-Match": {`"etag-1"`}},
			status: 304, upstream: 1, bodyLen: 0, decision: "inline"},
		{name: "missing key passes S3's 404", method: "GET", target: "/shotgun/nope.mov?" + presigned(), status: 404, upstream: 1, bodyLen: -1, code: "NoSuchKey", decision: "inline"},
		{name: "unsigned", method: "GET", target: "/shotgun/small.mov", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied",
			noHeaders: []string{"Location"}},
		{name: "expired", method: "GET", target: "/shotgun/small.mov?" + strings.Replace(presigned(), "X-Amz-Expires=3600", "X-Amz-Expires=60", 1),
			status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "wrong region", method: "GET", target: "/shotgun/small.mov?" + strings.Replace(presigned(), "us-east-1", "eu-west-1", 1),
			status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "key outside prefixes", env: env{"S3PROXY_KEY_PREFIXES": "shotgun/"}, method: "GET", target: "/private/x.mov?" + presigned(),
			status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "key inside prefixes", env: env{"S3PROXY_KEY_PREFIXES": "other/,shotgun/"}, method: "GET", target: "/shotgun/small.mov?" + presigned(),
			status: 200, upstream: 1, bodyLen: 600, decision: "inline"},
		{name: "path-style other bucket", env: env{"S3PROXY_SIGNED_HOST": "s3.us-east-1.amazonaws.com"}, method: "GET", target: "/secret/shotgun/small.mov?" + presigned(),
			status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "bucket root", method: "GET", target: "/?" + presigned(), status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "bad escape in path", method: "GET", target: "/shotgun/%zz.mov?" + presigned(), status: 400, upstream: 0, bodyLen: -1, code: "InvalidURI", decision: "error"},
		{name: "non-UTF-8 key", method: "GET", target: "/shotgun/%ff%fe.mov?" + presigned(), status: 400, upstream: 0, bodyLen: -1, code: "InvalidURI", decision: "error"},
		{name: "head forwarded", method: "HEAD", target: "/shotgun/large.mov?" + presigned(), status: 200, upstream: 1, bodyLen: 0, decision: "relay",
			header1: map[string]string{"Content-Length": "5000", "Etag": `"etag-1"`}},
		{name: "put relayed", method: "PUT", target: "/shotgun/new.mov?" + presigned(), body: "hello", status: 200, upstream: 1, bodyLen: -1, decision: "relay",
			header1: map[string]string{"Etag": `"put-etag"`}},
		{name: "put unsigned", method: "PUT", target: "/shotgun/new.mov", body: "hello", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "part relayed", method: "PUT", target: "/shotgun/new.mov?partNumber=2&uploadId=up-1&" + presigned(), body: "hello", status: 200, upstream: 1, bodyLen: -1, decision: "relay",
			header1: map[string]string{"Etag": `"put-etag"`}},
		{name: "create upload relayed", method: "POST", target: "/shotgun/new.mov?uploads=&" + presigned(), status: 404, upstream: 1, bodyLen: -1, decision: "relay"},
		{name: "complete upload relayed", method: "POST", target: "/shotgun/new.mov?uploadId=up-1&" + presigned(), body: "<x/>", status: 404, upstream: 1, bodyLen: -1, decision: "relay"},
		{name: "delete relayed", method: "DELETE", target: "/shotgun/new.mov?" + presigned(), status: 404, upstream: 1, bodyLen: -1, decision: "relay"},
		{name: "abort relayed", method: "DELETE", target: "/shotgun/new.mov?uploadId=up-1&" + presigned(), status: 404, upstream: 1, bodyLen: -1, decision: "relay"},
		{name: "object ACL write refused", method: "PUT", target: "/shotgun/new.mov?acl=&" + presigned(), body: "<x/>", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "tagging write refused", method: "PUT", target: "/shotgun/new.mov?tagging=&" + presigned(), body: "<x/>", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "retention write refused", method: "PUT", target: "/shotgun/new.mov?retention=&" + presigned(), body: "<x/>", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "restore refused", method: "POST", target: "/shotgun/new.mov?restore=&" + presigned(), body: "<x/>", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "tagging delete refused", method: "DELETE", target: "/shotgun/new.mov?tagging=&" + presigned(), status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "part without upload refused", method: "PUT", target: "/shotgun/new.mov?partNumber=2&" + presigned(), body: "hello", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "create with a value refused", method: "POST", target: "/shotgun/new.mov?uploads=x&" + presigned(), status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "copy refused", method: "PUT", target: "/shotgun/new.mov?" + presigned(), header: http.Header{"X-Amz-Copy-Source": {"/media/private/secret.mov"}},
			status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "copy hidden behind an empty value refused", method: "PUT", target: "/shotgun/new.mov?" + presigned(),
			header: http.Header{"X-Amz-Copy-Source": {"", "/media/private/secret.mov"}}, status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "repeated upload id refused", method: "DELETE", target: "/shotgun/new.mov?uploadId=a&uploadId=b&" + presigned(), status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "unknown method", method: "PATCH", target: "/shotgun/small.mov?" + presigned(), status: 405, upstream: 0, bodyLen: -1, code: "MethodNotAllowed", decision: "error",
			header1: map[string]string{"Allow": "GET, HEAD, PUT, POST, DELETE, OPTIONS"}},
		{name: "preflight answered", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "OPTIONS", target: "/shotgun/new.mov?" + presigned(),
			header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"content-type"}},
			status: 200, upstream: 0, bodyLen: 0, decision: "preflight",
			header1: map[string]string{"Access-Control-Allow-Origin": "https://site.shotgrid.test", "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "3000"}},
		{name: "preflight allows credentials", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "OPTIONS", target: "/shotgun/new.mov",
			header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"GET"}},
			status: 200, upstream: 0, bodyLen: 0, decision: "preflight", header1: map[string]string{"Access-Control-Allow-Credentials": "true"}},
		{name: "inline allows credentials", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "GET", target: "/shotgun/small.mov?" + presigned(),
			header: http.Header{"Origin": {"https://site.shotgrid.test"}}, status: 200, upstream: 1, bodyLen: 600, decision: "inline",
			header1: map[string]string{"Access-Control-Allow-Origin": "https://site.shotgrid.test", "Access-Control-Allow-Credentials": "true"}},
		{name: "foreign origin gets no credentials", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "GET", target: "/shotgun/small.mov?" + presigned(),
			header: http.Header{"Origin": {"https://evil.test"}}, status: 200, upstream: 1, bodyLen: 600, decision: "inline",
			noHeaders: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"}},
		{name: "tagging over the inline limit is not minted", method: "GET", target: "/shotgun/large.mov?" + presigned("tagging="), status: 501, upstream: 1,
			bodyLen: -1, code: "NotImplemented", decision: "error", noHeaders: []string{"Location"}},
		{name: "empty range signed for the probe's value is forwarded empty, and not minted", method: "GET",
			target: "/shotgun/large.mov?" + strings.Replace(presigned(), "SignedHeaders=host", "SignedHeaders=host%3Brange", 1),
			header: http.Header{"Range": {""}}, status: 501, upstream: 1, bodyLen: -1, code: "NotImplemented", decision: "error", noHeaders: []string{"Location"}},
		{name: "signed range the client did not send gets no probe", method: "GET",
			target: "/shotgun/large.mov?" + strings.Replace(presigned(), "SignedHeaders=host", "SignedHeaders=host%3Brange", 1),
			status: 501, upstream: 1, bodyLen: -1, code: "NotImplemented", decision: "error", noHeaders: []string{"Location"}},
		{name: "empty unsigned range is the client's request: whole object redirected", method: "GET", target: "/shotgun/large.mov?" + presigned(),
			header: http.Header{"Range": {""}}, status: 307, upstream: 1, bodyLen: 0, decision: "redirect"},
		{name: "subresource gets no probe range", method: "GET", target: "/shotgun/small.mov?" + presigned("acl="), status: 200, upstream: 1, bodyLen: 600, decision: "inline"},
		{name: "S3 error larger than the inline limit keeps its status", env: env{"S3PROXY_INLINE_MAX_BYTES": "10"}, method: "GET", target: "/shotgun/nope.mov?" + presigned(),
			status: 404, upstream: 1, bodyLen: -1, code: "NoSuchKey", decision: "error", noHeaders: []string{"Location"}},
		{name: "direct PUT refused", method: "PUT", target: "/_direct/media/shotgun/x.mov?" + presigned(), body: "x", status: 405, upstream: 0, bodyLen: -1,
			code: "MethodNotAllowed", decision: "error", header1: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "direct DELETE refused", method: "DELETE", target: "/_direct/media/shotgun/x.mov?" + presigned(), status: 405, upstream: 0, bodyLen: -1,
			code: "MethodNotAllowed", decision: "error"},
		{name: "direct GET the rules did not carry", method: "GET", target: "/_direct/media/?list-type=2&" + presigned(), status: 403, upstream: 0, bodyLen: -1,
			code: "AccessDenied", decision: "denied"},
		{name: "direct bare prefix", method: "GET", target: "/_direct", status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "denied"},
		{name: "direct preflight answered for the object", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "OPTIONS",
			target: "/_direct/media/shotgun/x.mov", header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"GET"}},
			status: 200, upstream: 0, bodyLen: 0, decision: "preflight"},
		{name: "direct preflight forwarded as the object's", method: "OPTIONS", target: "/_direct/media/shotgun/new.mov",
			header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"GET"}},
			status: 404, upstream: 1, bodyLen: -1, decision: "preflight"},
		{name: "direct preflight for another bucket", method: "OPTIONS", target: "/_direct/other/shotgun/new.mov",
			header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"GET"}},
			status: 403, upstream: 0, bodyLen: -1, code: "AccessDenied", decision: "preflight"},
		{name: "preflight foreign origin", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "OPTIONS", target: "/shotgun/new.mov",
			header: http.Header{"Origin": {"https://evil.test"}, "Access-Control-Request-Method": {"PUT"}},
			status: 403, upstream: 0, bodyLen: -1, code: "AccessForbidden", decision: "preflight", noHeaders: []string{"Access-Control-Allow-Origin"}},
		{name: "preflight bad method", env: env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"}, method: "OPTIONS", target: "/shotgun/new.mov",
			header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"ET"}},
			status: 403, upstream: 0, bodyLen: -1, code: "AccessForbidden", decision: "preflight"},
		{name: "preflight forwarded to bucket CORS", method: "OPTIONS", target: "/shotgun/new.mov",
			header: http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"PUT"}},
			status: 404, upstream: 1, bodyLen: -1, decision: "preflight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.env)
			resp := f.do(tc.method, tc.target, tc.header, []byte(tc.body))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if got := f.up.count(); got != tc.upstream {
				t.Errorf("upstream requests: got %d, want %d", got, tc.upstream)
			}
			if tc.bodyLen >= 0 && len(body) != tc.bodyLen {
				t.Errorf("body: got %d bytes, want %d", len(body), tc.bodyLen)
			}
			if tc.code != "" && !bytes.Contains(body, []byte("<Code>"+tc.code+"</Code>")) {
				t.Errorf("body %q lacks code %s", body, tc.code)
			}
			for k, v := range tc.header1 {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s: got %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.noHeaders {
				if _, ok := resp.Header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("header %s present: %q", k, resp.Header.Get(k))
				}
			}
			// Whatever the answer, no document runs as the proxy's origin.
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != "sandbox" {
				t.Errorf("origin headers: X-Content-Type-Options %q, Content-Security-Policy %q",
					resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Content-Security-Policy"))
			}
			if !strings.Contains(f.logs.String(), `"decision":"`+tc.decision+`"`) {
				t.Errorf("log lacks decision %q: %s", tc.decision, f.logs)
			}
			if n := strings.Count(f.logs.String(), `"msg":"request"`); n != 1 {
				t.Errorf("got %d request log lines, want 1", n)
			}
			for _, secret := range []string{testSig, "SECRETTOKEN", "fnsecret", "fntoken"} {
				if strings.Contains(f.logs.String(), secret) {
					t.Errorf("log leaks %q: %s", secret, f.logs)
				}
			}
		})
	}
}

// The forwarded request is the client's, byte for byte, with Host set to the
// host ShotGrid signed for and a probe range added.
func TestUpstreamRequestShape(t *testing.T) {
	f := newFixture(t, nil)
	rawPath := "/shotgun/a%20b%2Bc%27%28%29%40%3D%25/%E6%97%A5.mov"
	rawQuery := presigned("response-content-disposition=attachment%3B%20filename%3D%22a%2Bb.mov%22")
	f.up.objects[rawPath] = []byte("x")
	resp := f.do("GET", rawPath+"?"+rawQuery, http.Header{"If-Match": {`"etag-1"`}, "X-Forwarded-For": {"10.1.2.3"}, "Accept-Encoding": {"gzip"}}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	up := f.up.last()
	if got := up.URL.RequestURI(); got != rawPath+"?"+rawQuery {
		t.Errorf("request URI changed:\n got %s\nwant %s", got, rawPath+"?"+rawQuery)
	}
	checks := map[string]string{
		"Host":            up.Host,
		"Range":           up.Header.Get("Range"),
		"If-Match":        up.Header.Get("If-Match"),
		"X-Forwarded-For": up.Header.Get("X-Forwarded-For"),
		"Accept-Encoding": up.Header.Get("Accept-Encoding"),
	}
	want := map[string]string{"Host": "media.s3.amazonaws.com", "Range": "bytes=0-999", "If-Match": `"etag-1"`, "X-Forwarded-For": "", "Accept-Encoding": ""}
	for k, v := range want {
		if checks[k] != v {
			t.Errorf("%s: got %q, want %q", k, checks[k], v)
		}
	}
}

func TestRedirectMintsSameObject(t *testing.T) {
	f := newFixture(t, env{"S3PROXY_REDIRECT_TTL": "10m"})
	target := "/shotgun/large.mov?" + presigned("versionId=v1", "response-content-disposition=attachment%3B%20filename%3D%22x.mov%22",
		"response-content-type=video%2Fmp4", "partNumber=2")
	resp := f.do("GET", target, nil, nil)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("status %d", resp.StatusCode)
	}
	in := f.sig.req
	if in.Bucket != "media" || in.Key != "shotgun/large.mov" || in.Query.Get("versionId") != "v1" ||
		in.Query.Get("response-content-disposition") != `attachment; filename="x.mov"` || in.Query.Get("response-content-type") != "video/mp4" ||
		in.Query.Get("partNumber") != "2" || len(in.Header) != 0 {
		t.Errorf("minted for the wrong object: %+v", in)
	}
	if f.sig.ttl != 10*time.Minute {
		t.Errorf("TTL %v, want the configured 10m", f.sig.ttl)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://bucket.vpce-1.s3.us-east-1.vpce.amazonaws.com/media/shotgun/large.mov?") {
		t.Errorf("Location %q", loc)
	}
}

func TestRedirectViaProxy(t *testing.T) {
	f := newFixture(t, env{"S3PROXY_REDIRECT_VIA": "proxy", "S3PROXY_PUBLIC_URL": "https://s3-proxy.studio.test"})
	// The Location names the configured proxy, whatever Host the client sent.
	resp := f.do("GET", "/shotgun/large.mov?"+presigned(), http.Header{"X-Forwarded-Proto": {"http"}, "Host": {"evil.example"}}, nil)
	want := "https://s3-proxy.studio.test/_direct/media/shotgun/large.mov?"
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, want) {
		t.Errorf("Location %q, want prefix %q", loc, want)
	}
}

func TestRedirectCORS(t *testing.T) {
	f := newFixture(t, env{"S3PROXY_ALLOWED_ORIGINS": "https://site.shotgrid.test"})
	resp := f.do("GET", "/shotgun/large.mov?"+presigned(), http.Header{"Origin": {"https://site.shotgrid.test"}}, nil)
	if resp.StatusCode != 307 || resp.Header.Get("Access-Control-Allow-Origin") != "https://site.shotgrid.test" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("status %d, CORS headers %v", resp.StatusCode, resp.Header)
	}
	resp = f.do("GET", "/shotgun/large.mov?"+presigned(), http.Header{"Origin": {"https://evil.test"}}, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin allowed: %v", resp.Header)
	}
}

// A minted URL that signs more than the client's did would fail for plain
// clients (and is not what was checked): the handler refuses to hand it out.
func TestRedirectRefusesExtraSignedHeaders(t *testing.T) {
	f := newFixture(t, nil)
	f.sig.extraSigned = "x-amz-checksum-mode"
	resp := f.do("GET", "/shotgun/large.mov?"+presigned(), nil, nil)
	if resp.StatusCode != 501 || resp.Header.Get("Location") != "" {
		t.Errorf("got %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestRedirectTTL(t *testing.T) {
	tests := []struct {
		name      string
		expires   string // client X-Amz-Expires, signed 10:00, now 10:05
		ttl       string
		credsLeft time.Duration // 0: credentials never expire
		want      time.Duration
		err       bool
	}{
		{"configured TTL binds", "3600", "15m", 6 * time.Hour, 15 * time.Minute, false},
		{"client URL binds", "360", "15m", 6 * time.Hour, 60 * time.Second, false},
		{"credentials bind", "3600", "15m", 5 * time.Minute, 4 * time.Minute, false},
		{"static credentials", "3600", "20m", 0, 20 * time.Minute, false},
		{"credentials about to expire", "3600", "15m", 30 * time.Second, 0, true},
		{"client URL nearly over", "300", "15m", 6 * time.Hour, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, env{"S3PROXY_REDIRECT_TTL": tc.ttl})
			h := New(cfg, Deps{Now: func() time.Time { return testNow }, Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{CanExpire: tc.credsLeft > 0, Expires: testNow.Add(tc.credsLeft)}, nil
			})})
			r := httptest.NewRequest("GET", "/shotgun/x?"+strings.Replace(presigned(), "X-Amz-Expires=3600", "X-Amz-Expires="+tc.expires, 1), nil)
			x := h.newExchange(httptest.NewRecorder(), r)
			err := x.authorize()
			if err != nil && !tc.err {
				t.Fatal(err)
			}
			if err != nil {
				return
			}
			got, err := h.redirectTTL(context.Background(), x.sr, h.now())
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpstreamFailures(t *testing.T) {
	tests := []struct {
		name   string
		do     func(*http.Request) (*http.Response, error)
		status int
		code   string
	}{
		{"connection refused", func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}, 503, "ServiceUnavailable"},
		{"deadline", func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}, 503, "ServiceUnavailable"},
		{"S3 500 passes through", func(*http.Request) (*http.Response, error) {
			return xmlResponse(500, "InternalError"), nil
		}, 500, "InternalError"},
		{"S3 503 passes through", func(*http.Request) (*http.Response, error) {
			return xmlResponse(503, "SlowDown"), nil
		}, 503, "SlowDown"},
		{"S3 403 passes through", func(*http.Request) (*http.Response, error) {
			return xmlResponse(403, "SignatureDoesNotMatch"), nil
		}, 403, "SignatureDoesNotMatch"},
		{"body cut mid-stream", func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 206, Header: http.Header{"Content-Range": {"bytes 0-99/100"}}, ContentLength: 100,
				Body: io.NopCloser(io.MultiReader(strings.NewReader("partial"), errReader{io.ErrUnexpectedEOF}))}, nil
		}, 503, "ServiceUnavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.up.do = tc.do
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			r := httptest.NewRequestWithContext(ctx, "GET", "/shotgun/small.mov?"+presigned(), nil)
			w := httptest.NewRecorder()
			start := time.Now()
			f.h.ServeHTTP(w, r)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v, beyond the invocation deadline", took)
			}
			body := w.Body.String()
			if w.Code != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
				t.Errorf("got %d %s, want %d %s", w.Code, body, tc.status, tc.code)
			}
			if w.Header().Get("Location") != "" {
				t.Error("Location on a failed request")
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func xmlResponse(status int, code string) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>m</Message></Error>`
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/xml"}},
		ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body))}
}

// The server ignoring the probe range and sending the whole object must
// not push a large body through the function.
func TestUnrequestedFullBody(t *testing.T) {
	for _, size := range []int{500, 5000} {
		f := newFixture(t, nil)
		f.up.do = func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"Etag": {`"x"`}}, ContentLength: int64(size),
				Body: io.NopCloser(bytes.NewReader(make([]byte, size)))}, nil
		}
		resp := f.do("GET", "/shotgun/any.mov?"+presigned(), nil, nil)
		want := 200
		if size > 1000 {
			want = 307
		}
		if resp.StatusCode != want {
			t.Errorf("size %d: got %d, want %d", size, resp.StatusCode, want)
		}
	}
}

func TestPanicBecomes500(t *testing.T) {
	f := newFixture(t, nil)
	f.up.do = func(*http.Request) (*http.Response, error) { panic("boom") }
	resp := f.do("GET", "/shotgun/small.mov?"+presigned(), nil, nil)
	if resp.StatusCode != 500 {
		t.Errorf("got %d", resp.StatusCode)
	}
}

// A preflight for a /_direct URL is the object's: forwarded without the
// prefix, on the path the signed host serves it at.
func TestDirectPreflightPath(t *testing.T) {
	f := newFixture(t, nil)
	f.do("OPTIONS", "/_direct/media/shotgun/a%20b.mov?x=1", http.Header{"Origin": {"https://site.shotgrid.test"}, "Access-Control-Request-Method": {"GET"}}, nil)
	up := f.up.last()
	if up == nil || up.URL.EscapedPath() != "/shotgun/a%20b.mov" || up.URL.RawQuery != "x=1" || up.Host != "media.s3.amazonaws.com" {
		t.Fatalf("forwarded %v", up)
	}
}

// The log line names what happened: a refusal's error body is not inline
// object bytes, and a refused method still names the key.
func TestLogFields(t *testing.T) {
	tests := []struct {
		name, method, target string
		want                 []string
	}{
		{"denied logs no inline bytes", "GET", "/shotgun/nope.mov?" + presigned(), []string{`"inlineBytes":0`, `"status":404`}},
		{"405 names the key", "PATCH", "/shotgun/a.mov?" + presigned(), []string{`"key":"shotgun/a.mov"`, `"status":405`}},
		{"inline logs its bytes", "GET", "/shotgun/small.mov?" + presigned(), []string{`"inlineBytes":600`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.do(tc.method, tc.target, nil, nil)
			for _, w := range tc.want {
				if !strings.Contains(f.logs.String(), w) {
					t.Errorf("log lacks %s: %s", w, f.logs.String())
				}
			}
		})
	}
}

// A Range the client sent empty is its request, forwarded as it is: no probe
// takes its place, so S3 checks the signature against what the client sent.
func TestEmptyRangeForwardedAsSent(t *testing.T) {
	f := newFixture(t, nil)
	f.do("GET", "/shotgun/small.mov?"+presigned(), http.Header{"Range": {""}}, nil)
	if got, ok := f.up.last().Header["Range"]; !ok || len(got) != 1 || got[0] != "" {
		t.Errorf("upstream Range %q (present %v), want the client's empty one", got, ok)
	}
}

// A stored document is served with the origin's headers, whatever type it
// was stored with and whatever headers S3 sent with it.
func TestStoredDocumentCannotRunScript(t *testing.T) {
	f := newFixture(t, nil)
	f.up.do = func(*http.Request) (*http.Response, error) {
		body := "<html><script>alert(document.domain)</script></html>"
		return &http.Response{StatusCode: 200, ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)),
			Header: http.Header{"Content-Type": {"text/html"}, "Content-Security-Policy": {"script-src *"}, "X-Content-Type-Options": {"sniff"}}}, nil
	}
	resp := f.do("GET", "/shotgun/page.html?"+presigned(), nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != routes.ContentSecurityPolicy {
		t.Errorf("Content-Security-Policy %q, want only %q", got, routes.ContentSecurityPolicy)
	}
	if got := resp.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != routes.ContentTypeOptions {
		t.Errorf("X-Content-Type-Options %q, want only %q", got, routes.ContentTypeOptions)
	}
}

// Inline reads share buffers from one request to the next: no answer may
// carry a byte that its own object did not supply, whatever the read before
// it left in the buffer.
func TestReusedBuffersCarryNothingOver(t *testing.T) {
	short := func(n int, declared int64) func(*http.Request) (*http.Response, error) {
		return func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 206, ContentLength: declared,
				Header: http.Header{"Content-Range": {"bytes 0-" + strconv.FormatInt(declared-1, 10) + "/" + strconv.FormatInt(declared, 10)}, "Etag": {`"t"`}},
				Body:   io.NopCloser(strings.NewReader(strings.Repeat("t", n)))}, nil
		}
	}
	tests := []struct {
		name   string
		do     func(*http.Request) (*http.Response, error) // the second read's S3
		key    string
		status int
		want   string // the body, or an error code
	}{
		{"a smaller object", nil, "/shotgun/small.mov", 200, strings.Repeat("s", 600)},
		{"a body that ends early", short(10, 900), "/shotgun/x.mov", 503, "ServiceUnavailable"},
		{"an empty body where bytes were declared", short(0, 900), "/shotgun/x.mov", 503, "ServiceUnavailable"},
		{"the second part missing", func(r *http.Request) (*http.Response, error) {
			if r.Header.Get("If-Match") == "" {
				return &http.Response{StatusCode: 206, ContentLength: 200,
					Header: http.Header{"Content-Range": {"bytes 0-199/900"}, "Etag": {`"t"`}},
					Body:   io.NopCloser(strings.NewReader(strings.Repeat("t", 200)))}, nil
			}
			return &http.Response{StatusCode: 206, ContentLength: 700,
				Header: http.Header{"Content-Range": {"bytes 200-899/900"}, "Etag": {`"t"`}},
				Body:   io.NopCloser(strings.NewReader("tt"))}, nil
		}, "/shotgun/x.mov", 503, "ServiceUnavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.h.probeMax = 200 // so that exact.mov (1000 bytes) is read in two parts
			first := f.do("GET", "/shotgun/exact.mov?"+presigned(), nil, nil)
			if b, _ := io.ReadAll(first.Body); first.StatusCode != 200 || string(b) != strings.Repeat("e", 1000) {
				t.Fatalf("first read: %d, %d bytes", first.StatusCode, len(b))
			}
			f.up.do = tc.do
			resp := f.do("GET", tc.key+"?"+presigned(), nil, nil)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if strings.Contains(string(b), "e") && tc.status == 200 || tc.status == 200 && string(b) != tc.want {
				t.Fatalf("body %q, want %q", b, tc.want)
			}
			if tc.status != 200 && (!strings.Contains(string(b), "<Code>"+tc.want+"</Code>") || strings.Contains(string(b), "eee")) {
				t.Fatalf("body %q, want the error %s and nothing of the first object", b, tc.want)
			}
		})
	}
}
