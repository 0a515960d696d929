package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/s3auth"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// realSigner is the production signer with static credentials; signing
// makes no network call.
func realSigner(t testing.TB, token string) Signer {
	t.Helper()
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAFUNCTION", "secret", token)}
	return NewSigner(awsCfg, testConfig(t, nil))
}

// minted is one URL a Signer returned, with the headers it signed.
type minted struct {
	URL          string
	SignedHeader http.Header
}

func sign(t testing.TB, s Signer, g *grant, ttl time.Duration) minted {
	t.Helper()
	u, h, err := s.Sign(context.Background(), g.request("media"), ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return minted{u, h}
}

// clientRequest is a GET of key with the given query and headers, parsed
// as the handler parses it.
func clientRequest(t testing.TB, key, query string, signed []string, hdr map[string]string) (*signedRequest, *http.Request) {
	t.Helper()
	q, err := s3auth.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://proxy/"+escapeKey(key), nil)
	r.URL.RawQuery = query
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return &signedRequest{key: key, query: q.Values, rawQuery: query, auth: &s3auth.Auth{
		Version: s3auth.V4, SignedHeaders: append([]string{"host"}, signed...), ExpiresAt: time.Now().Add(time.Hour),
	}}, r
}

// The Go SDK has twice shipped presigners that signed extra headers, which
// breaks every plain-URL client. This pins the behaviour of the version in
// go.mod for ShotGrid's URLs (host only), and for URLs that sign more: the
// minted URL signs host plus exactly those, with the client's values.
func TestPresignerSignsWhatTheClientSigned(t *testing.T) {
	sseKey := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	tests := []struct {
		name       string
		query      string
		signed     []string
		hdr        map[string]string
		wantSigned string
		wantQuery  map[string]string
	}{
		{name: "shotgrid url", query: "versionId=v1&response-content-disposition=attachment%3B%20filename%3D%22a.mov%22",
			wantSigned: "host", wantQuery: map[string]string{"versionId": "v1", "response-content-disposition": `attachment; filename="a.mov"`}},
		{name: "signed range", signed: []string{"range"}, hdr: map[string]string{"Range": "bytes=0-999999"}, wantSigned: "host;range"},
		{name: "signed conditions", signed: []string{"if-match", "if-none-match"}, hdr: map[string]string{"If-Match": `"abc"`, "If-None-Match": `"def"`},
			wantSigned: "host;if-match;if-none-match"},
		{name: "sse-c", signed: []string{"x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key", "x-amz-server-side-encryption-customer-key-md5"},
			hdr: map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256", "X-Amz-Server-Side-Encryption-Customer-Key": sseKey,
				"X-Amz-Server-Side-Encryption-Customer-Key-Md5": "zZ5FnqcIqUjVwvWmyog4zw=="},
			wantSigned: "host;x-amz-server-side-encryption-customer-algorithm;x-amz-server-side-encryption-customer-key;x-amz-server-side-encryption-customer-key-md5"},
		{name: "part", query: "partNumber=2", wantSigned: "host", wantQuery: map[string]string{"partNumber": "2"}},
	}
	for _, token := range []string{"", "session-token"} {
		p := realSigner(t, token)
		for _, tc := range tests {
			t.Run(tc.name+"/token="+token, func(t *testing.T) {
				sr, r := clientRequest(t, "shotgun/a b+c.mov", tc.query, tc.signed, tc.hdr)
				g, err := grantFor(sr, r.Header, r)
				if err != nil {
					t.Fatal(err)
				}
				minted := sign(t, p, &g, 90*time.Second)
				if err := g.admits(minted.URL, minted.SignedHeader, testConfig(t, nil).EndpointURL, "media"); err != nil {
					t.Fatalf("the SDK's URL breaks the invariant: %v\n%s", err, minted.URL)
				}
				u, _ := url.Parse(minted.URL)
				q := u.Query()
				checks := []struct{ name, got, want string }{
					{"host", u.Host, "bucket.vpce-1.s3.us-east-1.vpce.amazonaws.com"},
					{"path", u.EscapedPath(), "/media/shotgun/a%20b%2Bc.mov"},
					{"signed headers", q.Get("X-Amz-SignedHeaders"), tc.wantSigned},
					{"expires", q.Get("X-Amz-Expires"), "90"},
					{"token", q.Get("X-Amz-Security-Token"), token},
				}
				for k, v := range tc.wantQuery {
					checks = append(checks, struct{ name, got, want string }{k, q.Get(k), v})
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
					}
				}
				for k, v := range tc.hdr {
					if got := minted.SignedHeader.Get(k); got != v {
						t.Errorf("signed %s = %q, want the client's %q", k, got, v)
					}
				}
			})
		}
	}
}

// Requests whose grant a minted URL cannot express get no grant.
func TestGrantRefuses(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		signed []string
		hdr    map[string]string
	}{
		{name: "tagging", query: "tagging="},
		{name: "tagging without value", query: "tagging"},
		{name: "acl", query: "acl"},
		{name: "attributes", query: "attributes"},
		{name: "retention", query: "retention"},
		{name: "legal hold", query: "legal-hold"},
		{name: "list parts", query: "uploadId=abc"},
		{name: "torrent", query: "torrent"},
		{name: "a parameter S3 may add later", query: "future-thing=1"},
		{name: "x-id of another operation", query: "x-id=GetObjectTagging"},
		{name: "repeated versionId", query: "versionId=a&versionId=b"},
		{name: "unknown response override", query: "response-foo=bar"},
		{name: "signed header that cannot be carried", signed: []string{"x-amz-content-sha256"}, hdr: map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}},
		{name: "signed user-agent", signed: []string{"user-agent"}, hdr: map[string]string{"User-Agent": "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr, r := clientRequest(t, "shotgun/a.mov", tc.query, tc.signed, tc.hdr)
			if g, err := grantFor(sr, r.Header, r); err != s3error.ErrNotMintable {
				t.Errorf("got grant %+v, error %v; want ErrNotMintable", g, err)
			}
		})
	}
}

// admits catches every way a URL can exceed its grant; each case takes a
// URL the SDK minted for the grant and breaks one clause.
func TestAdmitsCatchesWiderURLs(t *testing.T) {
	sr, r := clientRequest(t, "shotgun/a.mov", "versionId=v1", []string{"range"}, map[string]string{"Range": "bytes=0-9"})
	g, err := grantFor(sr, r.Header, r)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testConfig(t, nil).EndpointURL
	good := sign(t, realSigner(t, ""), &g, time.Minute)
	if err := g.admits(good.URL, good.SignedHeader, endpoint, "media"); err != nil {
		t.Fatalf("the unbroken URL is refused: %v", err)
	}
	edit := func(f func(q url.Values, u *url.URL, h http.Header)) func() (string, http.Header) {
		return func() (string, http.Header) {
			u, _ := url.Parse(good.URL)
			q := u.Query()
			h := good.SignedHeader.Clone()
			f(q, u, h)
			u.RawQuery = q.Encode()
			return u.String(), h
		}
	}
	tests := map[string]func() (string, http.Header){
		"another key":       edit(func(_ url.Values, u *url.URL, _ http.Header) { u.Path = "/media/shotgun/b.mov" }),
		"another bucket":    edit(func(_ url.Values, u *url.URL, _ http.Header) { u.Path = "/other/shotgun/a.mov" }),
		"another host":      edit(func(_ url.Values, u *url.URL, _ http.Header) { u.Host = "evil.example" }),
		"version dropped":   edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Del("versionId") }),
		"another version":   edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("versionId", "v2") }),
		"subresource added": edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("tagging", "") }),
		"override added":    edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("response-content-type", "text/html") }),
		"range unsigned":    edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("X-Amz-SignedHeaders", "host") }),
		"range widened":     edit(func(_ url.Values, _ *url.URL, h http.Header) { h.Set("Range", "bytes=0-") }),
		"extra header signed": edit(func(q url.Values, _ *url.URL, h http.Header) {
			q.Set("X-Amz-SignedHeaders", "host;if-match;range")
			h.Set("If-Match", "x")
		}),
		"host unsigned":            edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("X-Amz-SignedHeaders", "range") }),
		"outlives the client":      edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("X-Amz-Expires", "7200") }),
		"expiry unparsable":        edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("X-Amz-Expires", "soon") }),
		"repeated parameter":       edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Add("versionId", "v1") }),
		"x-id added":               edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("x-id", "GetObject") }),
		"checksum hoisted unasked": edit(func(q url.Values, _ *url.URL, _ http.Header) { q.Set("x-amz-checksum-mode", "ENABLED") }),
		// Only x-amz-* headers are honoured as query parameters; a "range"
		// parameter binds nothing, so a Range moved there is a dropped one.
		"range moved to the query": edit(func(q url.Values, _ *url.URL, _ http.Header) {
			q.Set("X-Amz-SignedHeaders", "host")
			q.Set("range", "bytes=0-9")
		}),
	}
	// The edits re-encode the query; unedited, it is still admitted, so
	// each refusal below is for the clause it breaks.
	if u, h := edit(func(url.Values, *url.URL, http.Header) {})(); g.admits(u, h, endpoint, "media") != nil {
		t.Fatalf("the re-encoded, unbroken URL is refused: %v", g.admits(u, h, endpoint, "media"))
	}
	// Forms another parser could read differently are refused outright.
	raw := func(f func(string) string) func() (string, http.Header) {
		return func() (string, http.Header) { return f(good.URL), good.SignedHeader }
	}
	for name, f := range map[string]func(string) string{
		"fragment":                   func(u string) string { return u + "#x" },
		"user info":                  func(u string) string { return strings.Replace(u, "https://", "https://evil@", 1) },
		"lower-case escape":          func(u string) string { return strings.Replace(u, "%2F", "%2f", 1) },
		"escaped unreserved in path": func(u string) string { return strings.Replace(u, "/a.mov", "/%61.mov", 1) },
		"plus for a space":           func(u string) string { return strings.Replace(u, "versionId=v1", "versionId=v+1", 1) },
		"second question mark":       func(u string) string { return strings.Replace(u, "versionId=v1", "versionId=v1?x=1", 1) },
		"empty pair":                 func(u string) string { return strings.Replace(u, "versionId=v1", "versionId=v1&", 1) },
		"port added":                 func(u string) string { return strings.Replace(u, ".com/", ".com:8443/", 1) },
	} {
		tests[name] = raw(f)
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			u, h := mk()
			if err := g.admits(u, h, endpoint, "media"); err == nil {
				t.Errorf("admitted %s", u)
			}
		})
	}
	if !strings.Contains(good.URL, "versionId=v1") {
		t.Errorf("minted URL lost the version: %s", good.URL)
	}
}

func TestContentRange(t *testing.T) {
	tests := []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-99/100", 0, 99, 100, true},
		{"bytes 100-199/5000", 100, 199, 5000, true},
		{"bytes 0-99/*", 0, 99, -1, true},
		{"bytes */0", 0, 0, 0, false},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes -1-5/10", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 0-1", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tc := range tests {
		first, last, total, ok := contentRange(tc.in)
		if ok != tc.ok || (ok && (first != tc.first || last != tc.last || total != tc.total)) {
			t.Errorf("%q: got %d-%d/%d %v", tc.in, first, last, total, ok)
		}
	}
}

func TestObjectKey(t *testing.T) {
	tests := []struct {
		name, raw, bucket string
		virtual           bool
		want              string
		err               bool
	}{
		{"plain", "/shotgun/a.mov", "b", true, "shotgun/a.mov", false},
		{"encoded space and plus", "/a%20b%2Bc", "b", true, "a b+c", false},
		{"literal plus", "/a+b", "b", true, "a+b", false},
		{"encoded slash", "/a%2Fb", "b", true, "a/b", false},
		{"double slash kept", "/a//b", "b", true, "a//b", false},
		{"dot-dot kept literally", "/a/../b", "b", true, "a/../b", false},
		{"unicode", "/%E6%97%A5%E6%9C%AC", "b", true, "日本", false},
		{"path-style", "/b/k/x", "b", false, "k/x", false},
		{"path-style other bucket", "/c/k", "b", false, "", true},
		{"path-style bucket only", "/b", "b", false, "", true},
		{"empty key", "/", "b", true, "", true},
		{"bad escape", "/a%2", "b", true, "", true},
		{"non-UTF-8", "/%C3%28", "b", true, "", true},
		{"NUL", "/a%00b", "b", true, "", true},
		{"raw space", "/a b", "b", true, "", true},
		{"raw unicode", "/日本", "b", true, "", true},
		{"relative", "a", "b", true, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := objectKey(tc.raw, tc.bucket, tc.virtual)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// SigV2 signs every x-amz-* header sent and no Range or If-* header, so a
// grant for a SigV2 URL carries the x-amz-* headers and nothing else.
func TestGrantSigV2(t *testing.T) {
	sseKey := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	v2 := func(hdr map[string]string) (*signedRequest, *http.Request) {
		sr, r := clientRequest(t, "shotgun/a.mov", "", nil, hdr)
		sr.auth = &s3auth.Auth{Version: s3auth.V2, ExpiresAt: time.Now().Add(time.Hour)}
		return sr, r
	}
	sr, r := v2(map[string]string{"Range": "bytes=0-9", "If-Match": `"x"`})
	g, err := grantFor(sr, r.Header, r)
	if err != nil || len(g.headers) != 0 {
		t.Errorf("unsigned Range and If-Match: grant %+v, %v; want one carrying no header", g, err)
	}
	sr, r = v2(map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256", "X-Amz-Server-Side-Encryption-Customer-Key": sseKey})
	g, err = grantFor(sr, r.Header, r)
	if err != nil || g.headers["x-amz-server-side-encryption-customer-key"] != sseKey || len(g.headers) != 2 {
		t.Errorf("SSE-C headers: grant %+v, %v; want both carried", g, err)
	}
	minted := sign(t, realSigner(t, ""), &g, time.Minute)
	if err := g.admits(minted.URL, minted.SignedHeader, testConfig(t, nil).EndpointURL, "media"); err != nil {
		t.Errorf("the SDK's URL for a SigV2 grant: %v", err)
	}
	sr, r = v2(map[string]string{"X-Amz-Meta-Anything": "x"})
	if _, err := grantFor(sr, r.Header, r); err != s3error.ErrNotMintable {
		t.Errorf("an x-amz-* header a GetObject URL cannot carry: %v, want ErrNotMintable", err)
	}
}

// Every parameter and header a grant carries has a field in the presign
// client's input, so the baseline can mint every grant and
// TestSignerMatchesThePresignClient compares the bare signer with it on
// every carried name.
func TestSignerHoldsEveryCarriedName(t *testing.T) {
	for k := range carriedParams {
		if inputParams[k] == nil {
			t.Errorf("parameter %s has no GetObjectInput field", k)
		}
	}
	for k := range carriedHeaders {
		if inputHeaders[http.CanonicalHeaderKey(k)] == nil {
			t.Errorf("header %s has no GetObjectInput field", k)
		}
	}
	if len(inputParams) != len(carriedParams) || len(inputHeaders) != len(carriedHeaders) {
		t.Errorf("the adapter maps names the grant never carries")
	}
}

// The grant is S3's view: each carried value is the one in the request sent
// upstream, and a covered header that is empty, blank, or changed on the way
// from the client grants nothing.
func TestGrantReadsTheRequestS3Checked(t *testing.T) {
	sent := func(r *http.Request, edit func(h http.Header, u *url.URL)) *http.Request {
		up := r.Clone(r.Context())
		edit(up.Header, up.URL)
		return up
	}
	tests := []struct {
		name   string
		signed []string
		client map[string]string
		edit   func(h http.Header, u *url.URL)
		want   string // the range carried; "" when refused
	}{
		{name: "carried as sent", signed: []string{"range"}, client: map[string]string{"Range": "bytes=0-9"},
			edit: func(http.Header, *url.URL) {}, want: "bytes=0-9"},
		{name: "empty range", signed: []string{"range"}, client: map[string]string{"Range": ""},
			edit: func(h http.Header, _ *url.URL) { h["Range"] = []string{""} }},
		{name: "blank range", signed: []string{"range"}, client: map[string]string{"Range": " \t"},
			edit: func(http.Header, *url.URL) {}},
		{name: "probe replaced the client's empty range", signed: []string{"range"}, client: map[string]string{"Range": ""},
			edit: func(h http.Header, _ *url.URL) { h.Set("Range", "bytes=0-716799") }},
		{name: "probe where the client sent none", signed: []string{"range"},
			edit: func(h http.Header, _ *url.URL) { h.Set("Range", "bytes=0-716799") }},
		{name: "dropped on the way", signed: []string{"if-match"}, client: map[string]string{"If-Match": `"x"`},
			edit: func(h http.Header, _ *url.URL) { h.Del("If-Match") }},
		{name: "duplicated on the way", signed: []string{"range"}, client: map[string]string{"Range": "bytes=0-9"},
			edit: func(h http.Header, _ *url.URL) { h.Add("Range", "bytes=0-") }},
		{name: "query changed on the way", client: map[string]string{},
			edit: func(_ http.Header, u *url.URL) { u.RawQuery = "versionId=v2" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr, r := clientRequest(t, "shotgun/a.mov", "versionId=v1", tc.signed, nil)
			for k, v := range tc.client {
				r.Header[k] = []string{v}
			}
			g, err := grantFor(sr, r.Header, sent(r, tc.edit))
			if tc.want == "" && err != s3error.ErrNotMintable {
				t.Errorf("granted %+v, %v; want ErrNotMintable", g, err)
			}
			if tc.want != "" && (err != nil || g.headers["range"] != tc.want) {
				t.Errorf("grant %+v, %v; want range %q", g, err, tc.want)
			}
		})
	}
}
