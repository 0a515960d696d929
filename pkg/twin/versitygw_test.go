package twin_test

// Signature behaviour of the whole local stack — emulated ALB, in-process
// function, real S3 — against versitygw, an S3 server that verifies SigV4
// itself. ShotGrid's part is played by package sgurl: URLs presigned for
// <bucket>.s3.amazonaws.com, handed out with scheme and host swapped for the
// proxy's. versitygw runs with --virtual-domain s3.amazonaws.com, so the
// proxy's upstream request (Host = the signed host) addresses the bucket just
// as it would on AWS, and S3 — not the proxy — judges every signature.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/routes"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	vgwBucket     = "shotgrid-media"
	vgwSignedHost = vgwBucket + ".s3.amazonaws.com"
	vgwRegion     = "us-east-1"
	// vgwInlineMax is small, so that objects on both sides of it are cheap.
	vgwInlineMax = 64 << 10
	// vgwRedirectTTL is S3PROXY_REDIRECT_TTL; client URLs live longer.
	vgwRedirectTTL = 5 * time.Minute
	vgwClientTTL   = time.Hour
)

// vgwOptions select one proxy configuration in front of the gateway.
type vgwOptions struct {
	via            string // S3PROXY_REDIRECT_VIA; "" is the default (endpoint)
	passthrough    bool
	allowedOrigins string
	keyPrefixes    string // S3PROXY_KEY_PREFIXES
	inlineMax      int    // S3PROXY_INLINE_MAX_BYTES; 0 is vgwInlineMax
	// wire is kept for readability at call sites: every stack is built as
	// the function builds itself (proxy.Wire), in-process or as the real
	// bootstrap under the emulator (peertest.ProcessMode).
	wire bool
	// now is the function's clock; it can only be injected in-process, so
	// a stack that needs one skips in process mode.
	now func() time.Time
}

// vgwStack is the twin on 127.0.0.1 in front of a running versitygw.
type vgwStack struct {
	gw      *peertest.S3
	cfg     *config.Config
	base    string      // the twin's URL, http://127.0.0.1:PORT
	counter *vgwCounter // what reached S3PROXY_UPSTREAM_URL
	signer  *sgurl.Signer
}

func startVGW(t *testing.T) *peertest.S3 {
	t.Helper()
	return peertest.StartPeer(t, peertest.VersityGWOptions{
		Buckets: []string{vgwBucket}, Region: vgwRegion, VirtualDomain: "s3.amazonaws.com",
	})
}

func newVGWStack(t *testing.T, gw *peertest.S3, o vgwOptions) *vgwStack {
	t.Helper()
	if o.now != nil && peertest.ProcessMode() {
		t.Skip("needs an injected clock, which only the in-process function takes")
	}
	st := &vgwStack{gw: gw, signer: sgurl.NewSigner(gw.Credentials, vgwRegion, vgwBucket, vgwSignedHost)}
	// The function's upstream is a counting relay in front of the gateway,
	// so upstream requests are counted the same way in both modes. Minted
	// redirects point straight at the gateway, as they point at the
	// endpoint in AWS.
	st.counter = newVGWCounter(t, gw.URL)
	// The twin's public URL is its own address, known once it listens.
	srv := httptest.NewUnstartedServer(nil)
	env := map[string]string{
		"S3PROXY_PUBLIC_URL":       "http://" + srv.Listener.Addr().String(),
		"S3PROXY_KEY_PREFIXES":     o.keyPrefixes,
		"S3PROXY_BUCKET":           vgwBucket,
		"S3PROXY_REGION":           vgwRegion,
		"S3PROXY_SIGNED_HOST":      vgwSignedHost,
		"S3PROXY_UPSTREAM_URL":     st.counter.url,
		"S3PROXY_ENDPOINT_URL":     gw.URL,
		"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(cmp.Or(o.inlineMax, vgwInlineMax)),
		"S3PROXY_REDIRECT_TTL":     vgwRedirectTTL.String(),
		"S3PROXY_REDIRECT_VIA":     o.via,
		"S3PROXY_ALLOWED_ORIGINS":  o.allowedOrigins,
	}
	logger := lambdalog.New(t.Output(), slog.LevelWarn)
	cfg, invoker := peertest.Function(t, env, gw, logger)
	st.cfg = cfg
	if o.now != nil {
		// The one stack that needs an injected clock is built by hand.
		awsCfg := gw.AWSConfig()
		h := proxy.New(cfg, proxy.Deps{
			Upstream:    proxy.NewUpstreamClient(),
			Signer:      proxy.NewSigner(awsCfg, cfg),
			Credentials: awsCfg.Credentials,
			Logger:      logger,
			RequestID:   lambdalog.RequestID,
			Now:         o.now,
		})
		invoker = twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithRefused(h.Refused))}
	}
	gwURL, err := url.Parse(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	alb := twin.New(twin.Options{
		Config: cfg, Passthrough: o.passthrough, PassthroughURL: gwURL, Invoker: invoker,
		FunctionTimeout: 30 * time.Second, Logger: logger,
	})
	srv.Config.Handler = alb
	srv.Start()
	t.Cleanup(srv.Close)
	st.base = srv.URL
	return st
}

// through swaps a URL presigned for the signed host to the twin, as ShotGrid
// does with the "S3 Proxy Host Address".
func (st *vgwStack) through(t *testing.T, signed string) string {
	t.Helper()
	u, err := sgurl.Through(st.base, signed)
	if err != nil {
		t.Fatalf("sgurl.Through: %v", err)
	}
	return u
}

// getURL mints ShotGrid's GET URL for key and points it at the twin.
func (st *vgwStack) getURL(t *testing.T, key string, ttl time.Duration, edit ...func(*s3.GetObjectInput)) string {
	t.Helper()
	signed, err := st.signer.Get(context.Background(), key, ttl, edit...)
	if err != nil {
		t.Fatalf("presign GET %q: %v", key, err)
	}
	return st.through(t, signed)
}

func (st *vgwStack) headURL(t *testing.T, key string) string {
	t.Helper()
	signed, err := st.signer.Head(context.Background(), key, vgwClientTTL)
	if err != nil {
		t.Fatalf("presign HEAD %q: %v", key, err)
	}
	return st.through(t, signed)
}

// vgwCounter is the function's upstream Doer, recording what the
// function sent to S3.
type vgwCounter struct {
	url  string
	mu   sync.Mutex
	sent []vgwCall
}

type vgwCall struct {
	method, target, rng, ifMatch string
}

// newVGWCounter is a relay that records each request as it arrived (raw
// request target, Range, If-Match) and forwards it unchanged, Host included.
func newVGWCounter(t *testing.T, target string) *vgwCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &vgwCounter{}
	rp := &httputil.ReverseProxy{
		Transport: &http.Transport{Proxy: nil, DisableCompression: true},
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := *u
			rawPath, rawQuery, _ := strings.Cut(pr.In.RequestURI, "?")
			out.Path, out.RawPath, out.RawQuery = rawPath, rawPath, rawQuery
			if p, err := url.PathUnescape(rawPath); err == nil {
				out.Path = p
			}
			pr.Out.URL = &out
			pr.Out.Host = pr.In.Host
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.sent = append(c.sent, vgwCall{method: r.Method, target: r.RequestURI, rng: r.Header.Get("Range"), ifMatch: r.Header.Get("If-Match")})
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// take returns the calls since the last take.
func (c *vgwCounter) take() []vgwCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.sent
	c.sent = nil
	return out
}

// HTTP clients as the real ones behave: following redirects (urllib, RV,
// <video>), and one that stops at the first answer, to inspect 307s.
var (
	vgwFollow = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 60 * time.Second}
	vgwStop   = &http.Client{
		Transport:     &http.Transport{Proxy: nil},
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
)

type vgwResponse struct {
	status int
	header http.Header
	body   []byte
}

func vgwDo(t *testing.T, c *http.Client, method, u string, hdr http.Header, body []byte) vgwResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, vgwRedact(u), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, vgwRedact(u), err)
	}
	return vgwResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// vgwRedact drops a URL's query (it holds a signature) for messages.
func vgwRedact(u string) string {
	p, _, _ := strings.Cut(u, "?")
	return p
}

func vgwPut(t *testing.T, gw *peertest.S3, key string, body []byte, contentType string) string {
	t.Helper()
	return gw.Seed(t, vgwBucket, key, body, contentType)
}

func vgwObject(t *testing.T, gw *peertest.S3, key string) (*s3.GetObjectOutput, []byte) {
	t.Helper()
	out, err := gw.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	return out, b
}

// vgwEscapeKey is the key's path as the SDK signs it: every byte
// percent-encoded except unreserved characters and '/'.
func vgwEscapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// vgwEqualBytes reports a mismatch without dumping megabytes.
func vgwEqualBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

func vgwWantNoLocation(t *testing.T, r vgwResponse) {
	t.Helper()
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("Location = %q, want none", vgwRedact(loc))
	}
}

// vgwErrorCode is the <Code> of an S3 XML error body.
func vgwErrorCode(body []byte) string {
	_, rest, ok := bytes.Cut(body, []byte("<Code>"))
	if !ok {
		return ""
	}
	code, _, _ := bytes.Cut(rest, []byte("</Code>"))
	return string(code)
}

func TestVersityGWInline(t *testing.T) {
	gw := startVGW(t)
	st := newVGWStack(t, gw, vgwOptions{wire: true})
	small := peertest.Bytes(1000, 1)
	smallETag := vgwPut(t, gw, "shots/010/notes.txt", small, "text/plain; charset=utf-8")
	large := peertest.Bytes(3*vgwInlineMax, 2)
	vgwPut(t, gw, "shots/010/plate.mov", large, "video/quicktime")
	smallURL := st.getURL(t, "shots/010/notes.txt", vgwClientTTL)

	t.Run("whole object inline", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, smallURL, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %s", r.status, r.body)
		}
		vgwEqualBytes(t, "body", r.body, small)
		if got := r.header.Get("ETag"); got != smallETag {
			t.Errorf("ETag = %q, want S3's %q", got, smallETag)
		}
		if got := r.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type = %q, want the stored text/plain; charset=utf-8", got)
		}
		if got := r.header.Get("Content-Range"); got != "" {
			t.Errorf("Content-Range = %q on a request without Range, want none", got)
		}
		if got := r.header.Get("Content-Length"); got != "1000" {
			t.Errorf("Content-Length = %q, want 1000", got)
		}
		vgwWantNoLocation(t, r)
	})

	ranged := []struct {
		name, url, rng, contentRange string
		want                         []byte
	}{
		{"client range", smallURL, "bytes=100-199", "bytes 100-199/1000", small[100:200]},
		{"suffix range", smallURL, "bytes=-10", "bytes 990-999/1000", small[990:]},
		{"open range", smallURL, "bytes=995-", "bytes 995-999/1000", small[995:]},
		{"small range of an object above the inline limit", st.getURL(t, "shots/010/plate.mov", vgwClientTTL),
			"bytes=150000-150999", "bytes 150000-150999/" + strconv.Itoa(len(large)), large[150000:151000]},
	}
	for _, tc := range ranged {
		t.Run(tc.name, func(t *testing.T) {
			r := vgwDo(t, vgwStop, http.MethodGet, tc.url, http.Header{"Range": {tc.rng}}, nil)
			if r.status != http.StatusPartialContent {
				t.Fatalf("Range %s: status %d, want 206 inline; Location %q; body %.300s", tc.rng, r.status, vgwRedact(r.header.Get("Location")), r.body)
			}
			if got := r.header.Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range = %q, want %q", got, tc.contentRange)
			}
			vgwEqualBytes(t, "body", r.body, tc.want)
			vgwWantNoLocation(t, r)
		})
	}

	t.Run("object sizes around the inline limit", func(t *testing.T) {
		for _, n := range []int{1, vgwInlineMax - 1, vgwInlineMax, vgwInlineMax + 1} {
			key := "sizes/" + strconv.Itoa(n) + ".bin"
			body := peertest.Bytes(n, uint64(n))
			vgwPut(t, gw, key, body, "application/octet-stream")
			r := vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, key, vgwClientTTL), nil, nil)
			want := http.StatusOK
			if n > vgwInlineMax {
				want = http.StatusTemporaryRedirect
			}
			if r.status != want {
				t.Errorf("%d-byte object: status %d, want %d; body %.300s", n, r.status, want, r.body)
				continue
			}
			if want == http.StatusOK {
				vgwEqualBytes(t, key, r.body, body)
				if cr := r.header.Get("Content-Range"); cr != "" {
					t.Errorf("%d-byte object: Content-Range %q, want none", n, cr)
				}
			}
		}
	})

	t.Run("empty object without Range", func(t *testing.T) {
		// The function's probe Range (bytes=0-…) cannot be satisfied by an
		// empty object, so S3 answers 416 InvalidRange; the client asked for
		// no range and must get 200 with no body. versitygw's 416 carries no
		// Content-Range header (AWS's may carry "bytes */0").
		vgwPut(t, gw, "sizes/empty.txt", nil, "text/plain")
		r := vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, "sizes/empty.txt", vgwClientTTL), nil, nil)
		if r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("GET of a 0-byte object without Range: status %d with %d body bytes (%.200s), want 200 and no body. "+
				"S3 answered the function's own probe Range with 416 and no Content-Range header; the function "+
				"recognises an empty object only by Content-Range \"bytes */0\" (pkg/proxy/read.go emptyObject), "+
				"and passed the 416 to a client that never sent a Range", r.status, len(r.body), r.body)
		}
	})

	t.Run("suffix range longer than the object", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, smallURL, http.Header{"Range": {"bytes=-5000"}}, nil)
		if r.status != http.StatusPartialContent {
			t.Fatalf("status %d, want 206; body %.300s", r.status, r.body)
		}
		if got := r.header.Get("Content-Range"); got != "bytes 0-999/1000" {
			t.Errorf("Content-Range = %q, want bytes 0-999/1000", got)
		}
		vgwEqualBytes(t, "body", r.body, small)
	})

	t.Run("unsatisfiable range passes S3's 416 through", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, smallURL, http.Header{"Range": {"bytes=5000-5999"}}, nil)
		if r.status != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("status %d, want 416; body %.300s", r.status, r.body)
		}
		vgwWantNoLocation(t, r)
	})

	t.Run("If-None-Match gives 304", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, smallURL, http.Header{"If-None-Match": {smallETag}}, nil)
		if r.status != http.StatusNotModified {
			t.Fatalf("status %d, want 304; body %.300s", r.status, r.body)
		}
		if len(r.body) != 0 {
			t.Errorf("304 with a %d-byte body", len(r.body))
		}
		vgwWantNoLocation(t, r)
	})

	t.Run("If-None-Match with another ETag gives the object", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, smallURL, http.Header{"If-None-Match": {`"0123456789abcdef0123456789abcdef"`}}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %.300s", r.status, r.body)
		}
		vgwEqualBytes(t, "body", r.body, small)
	})

	t.Run("response-content-disposition inline", func(t *testing.T) {
		const cd = `attachment; filename="notes 010.txt"`
		u := st.getURL(t, "shots/010/notes.txt", vgwClientTTL, func(in *s3.GetObjectInput) { in.ResponseContentDisposition = aws.String(cd) })
		r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %.300s", r.status, r.body)
		}
		if got := r.header.Get("Content-Disposition"); got != cd {
			t.Errorf("Content-Disposition = %q, want %q", got, cd)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodHead, st.headURL(t, "shots/010/plate.mov"), nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200", r.status)
		}
		if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(large)) {
			t.Errorf("Content-Length = %q, want the object's %d", got, len(large))
		}
		if got := r.header.Get("ETag"); got != peertest.MD5ETag(large) {
			t.Errorf("ETag = %q, want %q", got, peertest.MD5ETag(large))
		}
		vgwWantNoLocation(t, r)
	})
}

func TestVersityGWRedirect(t *testing.T) {
	gw := startVGW(t)
	const key = "shots/020/comp_v003.mov"
	large := peertest.Bytes(5*vgwInlineMax+123, 3)
	etag := vgwPut(t, gw, key, large, "video/quicktime")
	gwURL, err := url.Parse(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	wantPath := "/" + vgwBucket + "/" + vgwEscapeKey(key)

	// checkMinted checks a Location's presigned query and returns it.
	checkMinted := func(t *testing.T, r vgwResponse, maxTTL time.Duration) *url.URL {
		t.Helper()
		if r.status != http.StatusTemporaryRedirect {
			t.Fatalf("status %d, want 307; body %.300s", r.status, r.body)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", got)
		}
		if len(r.body) != 0 {
			t.Errorf("307 carries a %d-byte body; no media byte should pass through the function", len(r.body))
		}
		loc, err := url.Parse(r.header.Get("Location"))
		if err != nil {
			t.Fatalf("Location %q: %v", vgwRedact(r.header.Get("Location")), err)
		}
		q := loc.Query()
		if got := q.Get("X-Amz-SignedHeaders"); got != "host" {
			t.Errorf("X-Amz-SignedHeaders = %q, want exactly host", got)
		}
		exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		if err != nil || exp < 1 || time.Duration(exp)*time.Second > maxTTL {
			t.Errorf("X-Amz-Expires = %q, want 1..%d", q.Get("X-Amz-Expires"), int(maxTTL/time.Second))
		}
		if got := q.Get("X-Amz-Credential"); !strings.HasPrefix(got, gw.AccessKeyID+"/") || !strings.HasSuffix(got, "/"+vgwRegion+"/s3/aws4_request") {
			t.Errorf("X-Amz-Credential = %q, want the function's key, scoped to %s/s3", got, vgwRegion)
		}
		return loc
	}

	endpoint := newVGWStack(t, gw, vgwOptions{wire: true})

	t.Run("307 to the endpoint, followed by a plain client", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, endpoint.getURL(t, key, vgwClientTTL), nil, nil)
		loc := checkMinted(t, r, vgwRedirectTTL)
		if loc.Scheme != gwURL.Scheme || loc.Host != gwURL.Host {
			t.Errorf("Location on %s://%s, want the endpoint %s", loc.Scheme, loc.Host, gw.URL)
		}
		if got := loc.EscapedPath(); got != wantPath {
			t.Errorf("Location path %q, want path-style %q", got, wantPath)
		}
		f := vgwDo(t, vgwStop, http.MethodGet, loc.String(), nil, nil)
		if f.status != http.StatusOK {
			t.Fatalf("following the Location: status %d, want 200; body %.300s", f.status, f.body)
		}
		vgwEqualBytes(t, "followed body", f.body, large)
		if got := f.header.Get("ETag"); got != etag {
			t.Errorf("followed ETag = %q, want %q", got, etag)
		}
	})

	t.Run("http.Client follows on its own", func(t *testing.T) {
		r := vgwDo(t, vgwFollow, http.MethodGet, endpoint.getURL(t, key, vgwClientTTL), nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %.300s", r.status, r.body)
		}
		vgwEqualBytes(t, "body", r.body, large)
	})

	t.Run("TTL bounded by the client URL's remaining life", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, endpoint.getURL(t, key, 60*time.Second), nil, nil)
		loc := checkMinted(t, r, 60*time.Second)
		if exp, _ := strconv.Atoi(loc.Query().Get("X-Amz-Expires")); exp < 50 {
			t.Errorf("X-Amz-Expires = %d, want close to the 60 s the client URL had left", exp)
		}
	})

	t.Run("TTL bounded by S3PROXY_REDIRECT_TTL", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, endpoint.getURL(t, key, vgwClientTTL), nil, nil)
		loc := checkMinted(t, r, vgwRedirectTTL)
		if exp, _ := strconv.Atoi(loc.Query().Get("X-Amz-Expires")); exp != int(vgwRedirectTTL/time.Second) {
			t.Errorf("X-Amz-Expires = %d, want %d (the client URL has an hour left)", exp, int(vgwRedirectTTL/time.Second))
		}
	})

	for _, cd := range []string{
		`attachment; filename="comp v003 (final).mov"`,
		`attachment; filename="a+b=c&d.mov"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%20v3.mov`,
	} {
		t.Run("response overrides survive the redirect: "+cd, func(t *testing.T) {
			u := endpoint.getURL(t, key, vgwClientTTL, func(in *s3.GetObjectInput) {
				in.ResponseContentDisposition = aws.String(cd)
				in.ResponseContentType = aws.String("application/octet-stream")
				in.ResponseCacheControl = aws.String("private, max-age=60")
			})
			r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
			loc := checkMinted(t, r, vgwRedirectTTL)
			if got := loc.Query().Get("response-content-disposition"); got != cd {
				t.Errorf("minted response-content-disposition = %q, want %q", got, cd)
			}
			f := vgwDo(t, vgwStop, http.MethodGet, loc.String(), nil, nil)
			if f.status != http.StatusOK {
				t.Fatalf("following: status %d, want 200; body %.300s", f.status, f.body)
			}
			vgwEqualBytes(t, "followed body", f.body, large)
			for k, want := range map[string]string{
				"Content-Disposition": cd, "Content-Type": "application/octet-stream", "Cache-Control": "private, max-age=60",
			} {
				if got := f.header.Get(k); got != want {
					t.Errorf("followed %s = %q, want %q", k, got, want)
				}
			}
		})
	}

	t.Run("client range above the inline limit", func(t *testing.T) {
		// A player seeking into a large file: too much to inline, so 307;
		// the client sends its Range again to the Location.
		rng := "bytes=65536-262143"
		r := vgwDo(t, vgwStop, http.MethodGet, endpoint.getURL(t, key, vgwClientTTL), http.Header{"Range": {rng}}, nil)
		loc := checkMinted(t, r, vgwRedirectTTL)
		f := vgwDo(t, vgwStop, http.MethodGet, loc.String(), http.Header{"Range": {rng}}, nil)
		if f.status != http.StatusPartialContent {
			t.Fatalf("following with Range: status %d, want 206", f.status)
		}
		vgwEqualBytes(t, "ranged body", f.body, large[65536:262144])
	})

	viaProxy := newVGWStack(t, gw, vgwOptions{wire: true, via: "proxy"})

	t.Run("via proxy: Location on /_direct, followed through the twin", func(t *testing.T) {
		r := vgwDo(t, vgwStop, http.MethodGet, viaProxy.getURL(t, key, vgwClientTTL), nil, nil)
		loc := checkMinted(t, r, vgwRedirectTTL)
		if want := viaProxy.base + "/_direct" + wantPath + "?"; !strings.HasPrefix(loc.String(), want) {
			t.Errorf("Location = %q, want it to start with %q", vgwRedact(loc.String()), want)
		}
		f := vgwDo(t, vgwStop, http.MethodGet, loc.String(), nil, nil)
		if f.status != http.StatusOK {
			t.Fatalf("following through the twin: status %d, want 200; body %.300s", f.status, f.body)
		}
		vgwEqualBytes(t, "followed body", f.body, large)

		all := vgwDo(t, vgwFollow, http.MethodGet, viaProxy.getURL(t, key, vgwClientTTL), nil, nil)
		if all.status != http.StatusOK {
			t.Fatalf("http.Client following on its own: status %d, want 200", all.status)
		}
		vgwEqualBytes(t, "body", all.body, large)
	})
}

// vgwPresignAt signs a ShotGrid-style GET with a chosen signing time,
// which sgurl (always "now") cannot do.
func vgwPresignAt(t *testing.T, creds aws.Credentials, key string, signedAt time.Time, expires time.Duration) string {
	t.Helper()
	u := "https://" + vgwSignedHost + "/" + vgwEscapeKey(key) + "?X-Amz-Expires=" + strconv.Itoa(int(expires/time.Second))
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", vgwRegion, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// vgwFlipSignature changes one hex digit of X-Amz-Signature, keeping it
// well formed so that only S3 can tell.
func vgwFlipSignature(t *testing.T, u string) string {
	t.Helper()
	const p = "X-Amz-Signature="
	i := strings.Index(u, p)
	if i < 0 || len(u) < i+len(p)+64 {
		t.Fatalf("no signature in %s", vgwRedact(u))
	}
	j := i + len(p) + 31
	d := byte('0')
	if u[j] == '0' {
		d = '1'
	}
	return u[:j] + string(d) + u[j+1:]
}

func TestVersityGWDenied(t *testing.T) {
	gw := startVGW(t)
	st := newVGWStack(t, gw, vgwOptions{})
	objects := map[string][]byte{
		"small": peertest.Bytes(2000, 4),
		"large": peertest.Bytes(4*vgwInlineMax, 5),
	}
	keys := map[string]string{"small": "deny/small.jpg", "large": "deny/large.mov"}
	for n, k := range keys {
		vgwPut(t, gw, k, objects[n], "application/octet-stream")
	}
	other := map[string]string{"small": "large", "large": "small"}
	creds, err := gw.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		url  func(t *testing.T, key, otherKey string) string
		// upstream is how many requests the function may send to S3: 1
		// when only S3 can tell, 0 when the cheap checks can.
		upstream int
	}{
		{"tampered signature", func(t *testing.T, key, _ string) string {
			return vgwFlipSignature(t, st.getURL(t, key, vgwClientTTL))
		}, 1},
		{"wrong secret", func(t *testing.T, key, _ string) string {
			wrong := credentials.NewStaticCredentialsProvider(gw.AccessKeyID, peertest.WrongSecret(gw.SecretAccessKey), "")
			signed, err := sgurl.NewSigner(wrong, vgwRegion, vgwBucket, vgwSignedHost).Get(context.Background(), key, vgwClientTTL)
			if err != nil {
				t.Fatal(err)
			}
			return st.through(t, signed)
		}, 1},
		{"expired", func(t *testing.T, key, _ string) string {
			return st.through(t, vgwPresignAt(t, creds, key, time.Now().Add(-10*time.Minute), time.Minute))
		}, 0},
		{"another key's signature", func(t *testing.T, key, otherKey string) string {
			u, err := url.Parse(st.getURL(t, otherKey, vgwClientTTL))
			if err != nil {
				t.Fatal(err)
			}
			return st.base + "/" + vgwEscapeKey(key) + "?" + u.RawQuery
		}, 1},
	}
	for _, tc := range cases {
		for _, size := range []string{"small", "large"} {
			t.Run(tc.name+"/"+size, func(t *testing.T) {
				st.counter.take()
				u := tc.url(t, keys[size], keys[other[size]])
				r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
				vgwWantNoLocation(t, r)
				if r.status != http.StatusForbidden {
					t.Errorf("status %d, want 403; body %.300s", r.status, r.body)
				}
				if code := vgwErrorCode(r.body); code == "" {
					t.Errorf("body is not an S3 XML error: %.300s", r.body)
				} else {
					t.Logf("403 %s", code)
				}
				if bytes.Contains(r.body, objects[size][:64]) {
					t.Error("the refused response carries object bytes")
				}
				if sent := st.counter.take(); len(sent) != tc.upstream {
					t.Errorf("%d upstream requests, want %d: %v", len(sent), tc.upstream, sent)
				}
				// A client that follows redirects ends at the same 403.
				if f := vgwDo(t, vgwFollow, http.MethodGet, u, nil, nil); f.status != http.StatusForbidden {
					t.Errorf("following client: status %d, want 403", f.status)
				}
			})
		}
	}

	t.Run("expired, judged by S3", func(t *testing.T) {
		// The function's clock runs ten minutes behind, so its own expiry
		// check passes a URL that expired five minutes ago: S3 must refuse
		// it, and the function must not mint a URL for it.
		signedAt := time.Now().Add(-6 * time.Minute)
		late := newVGWStack(t, gw, vgwOptions{now: func() time.Time { return time.Now().Add(-10 * time.Minute) }})
		for _, size := range []string{"small", "large"} {
			u := late.through(t, vgwPresignAt(t, creds, keys[size], signedAt, time.Minute))
			r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
			vgwWantNoLocation(t, r)
			if r.status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403; body %.300s", size, r.status, r.body)
			}
			if sent := late.counter.take(); len(sent) != 1 {
				t.Errorf("%s: %d upstream requests, want 1 (S3 is the judge here): %v", size, len(sent), sent)
			}
			t.Logf("%s: %d %s", size, r.status, vgwErrorCode(r.body))
		}
	})

	t.Run("unknown access key", func(t *testing.T) {
		// AWS answers 403 InvalidAccessKeyId; versitygw v1.8.0 answers 404
		// XAdminUserNotFound. Either way: refused, and never redirected.
		stranger := credentials.NewStaticCredentialsProvider("AKIAUNKNOWNKEY000000", gw.SecretAccessKey, "")
		signed, err := sgurl.NewSigner(stranger, vgwRegion, vgwBucket, vgwSignedHost).Get(context.Background(), keys["large"], vgwClientTTL)
		if err != nil {
			t.Fatal(err)
		}
		r := vgwDo(t, vgwStop, http.MethodGet, st.through(t, signed), nil, nil)
		vgwWantNoLocation(t, r)
		if code := vgwErrorCode(r.body); r.status != http.StatusForbidden && (r.status != http.StatusNotFound || code != "XAdminUserNotFound") {
			t.Errorf("status %d %s, want 403 (or versitygw's 404 XAdminUserNotFound)", r.status, code)
		}
	})
}

func TestVersityGWKeys(t *testing.T) {
	gw := startVGW(t)
	endpoint := newVGWStack(t, gw, vgwOptions{})
	viaProxy := newVGWStack(t, gw, vgwOptions{via: "proxy"})
	keys := []string{
		"with space.mov",
		"plus+sign.mov",
		"percent%20literal.mov",
		"percent%.mov",
		"eq=uals.mov",
		"at@sign.mov",
		"quote'paren(1).mov",
		"日本/ファイル.mov",
		"Кириллица.txt",
		"a//b",
		"a/../b",
	}
	if os.Getenv(peertest.PeerEnv) == "seaweedfs" {
		// SeaweedFS refuses to store a key with a ".." segment (400
		// InvalidRequest); AWS stores it literally.
		keys = keys[:len(keys)-1]
	}
	for i, key := range keys {
		small := append([]byte("small:"+key+":"), peertest.Bytes(100, uint64(100+i))...)
		large := peertest.Bytes(2*vgwInlineMax, uint64(200+i))
		largeKey := "large/" + key
		vgwPut(t, gw, key, small, "application/octet-stream")
		vgwPut(t, gw, largeKey, large, "application/octet-stream")
		t.Run(key, func(t *testing.T) {
			endpoint.counter.take()
			u := endpoint.getURL(t, key, vgwClientTTL)
			r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("inline: status %d, want 200; body %.300s", r.status, r.body)
			}
			vgwEqualBytes(t, "inline body", r.body, small)
			// The function forwards the path exactly as the client sent it.
			sent := endpoint.counter.take()
			clientPath, _, _ := strings.Cut(strings.TrimPrefix(u, endpoint.base), "?")
			if len(sent) != 1 || !strings.HasPrefix(sent[0].target, clientPath+"?") {
				t.Errorf("upstream requests %v, want one to %q", sent, clientPath)
			}

			for _, st := range []*vgwStack{endpoint, viaProxy} {
				r := vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, largeKey, vgwClientTTL), nil, nil)
				if r.status != http.StatusTemporaryRedirect {
					t.Fatalf("redirect (via %s): status %d, want 307; body %.300s", st.cfg.RedirectVia, r.status, r.body)
				}
				wantPath := "/" + vgwBucket + "/" + vgwEscapeKey(largeKey)
				if st.cfg.RedirectVia == config.ViaProxy {
					wantPath = "/_direct" + wantPath
				}
				loc := r.header.Get("Location")
				if p, _, _ := strings.Cut(loc, "?"); !strings.HasSuffix(p, wantPath) {
					t.Errorf("redirect (via %s): Location path %q, want %q", st.cfg.RedirectVia, vgwRedact(loc), wantPath)
				}
				f := vgwDo(t, vgwStop, http.MethodGet, loc, nil, nil)
				if f.status != http.StatusOK {
					t.Fatalf("following (via %s): status %d, want 200; body %.300s", st.cfg.RedirectVia, f.status, f.body)
				}
				vgwEqualBytes(t, "followed body (via "+string(st.cfg.RedirectVia)+")", f.body, large)
			}
		})
	}
}

func TestVersityGWUpstreamCounts(t *testing.T) {
	gw := startVGW(t)
	const origin = "https://studio.shotgrid.example"
	st := newVGWStack(t, gw, vgwOptions{allowedOrigins: origin})
	small := peertest.Bytes(500, 6)
	smallETag := vgwPut(t, gw, "count/small.png", small, "image/png")
	vgwPut(t, gw, "count/large.mov", peertest.Bytes(2*vgwInlineMax, 7), "video/quicktime")
	creds, err := gw.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	probe := "bytes=0-" + strconv.Itoa(vgwInlineMax-1)

	cases := []struct {
		name     string
		method   string
		url      func(t *testing.T) string
		header   http.Header
		status   int
		upstream int
		rng      string // the Range the upstream request must carry
	}{
		{"ping", http.MethodGet, func(*testing.T) string { return st.base + "/ping" }, nil, http.StatusOK, 0, ""},
		{"configured preflight", http.MethodOptions, func(*testing.T) string { return st.base + "/count/large.mov" },
			http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"content-type"}},
			http.StatusOK, 0, ""},
		{"preflight from another origin", http.MethodOptions, func(*testing.T) string { return st.base + "/count/large.mov" },
			http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"GET"}}, http.StatusForbidden, 0, ""},
		{"GET inline", http.MethodGet, func(t *testing.T) string { return st.getURL(t, "count/small.png", vgwClientTTL) },
			nil, http.StatusOK, 1, probe},
		{"GET client range inline", http.MethodGet, func(t *testing.T) string { return st.getURL(t, "count/small.png", vgwClientTTL) },
			http.Header{"Range": {"bytes=0-9"}}, http.StatusPartialContent, 1, "bytes=0-9"},
		{"GET 304", http.MethodGet, func(t *testing.T) string { return st.getURL(t, "count/small.png", vgwClientTTL) },
			http.Header{"If-None-Match": {smallETag}}, http.StatusNotModified, 1, probe},
		{"GET redirect", http.MethodGet, func(t *testing.T) string { return st.getURL(t, "count/large.mov", vgwClientTTL) },
			nil, http.StatusTemporaryRedirect, 1, probe},
		{"GET refused by S3", http.MethodGet, func(t *testing.T) string {
			return vgwFlipSignature(t, st.getURL(t, "count/large.mov", vgwClientTTL))
		}, nil, http.StatusForbidden, 1, probe},
		{"GET missing key", http.MethodGet, func(t *testing.T) string { return st.getURL(t, "count/nothing-here.mov", vgwClientTTL) },
			nil, http.StatusNotFound, 1, probe},
		{"GET expired, refused without S3", http.MethodGet, func(t *testing.T) string {
			return st.through(t, vgwPresignAt(t, creds, "count/small.png", time.Now().Add(-time.Hour), time.Minute))
		}, nil, http.StatusForbidden, 0, ""},
		{"HEAD small", http.MethodHead, func(t *testing.T) string { return st.headURL(t, "count/small.png") }, nil, http.StatusOK, 1, ""},
		{"HEAD large", http.MethodHead, func(t *testing.T) string { return st.headURL(t, "count/large.mov") }, nil, http.StatusOK, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url(t)
			st.counter.take()
			r := vgwDo(t, vgwStop, tc.method, u, tc.header, nil)
			if r.status != tc.status {
				t.Errorf("status %d, want %d; body %.300s", r.status, tc.status, r.body)
			}
			sent := st.counter.take()
			if len(sent) != tc.upstream {
				t.Fatalf("%d upstream requests, want %d: %v", len(sent), tc.upstream, sent)
			}
			if len(sent) == 1 {
				if sent[0].method != tc.method {
					t.Errorf("upstream method %s, want the client's %s", sent[0].method, tc.method)
				}
				if sent[0].rng != tc.rng {
					t.Errorf("upstream Range %q, want %q", sent[0].rng, tc.rng)
				}
			}
		})
	}
}

func TestVersityGWUploads(t *testing.T) {
	gw := startVGW(t)
	ctx := context.Background()

	t.Run("passthrough", func(t *testing.T) {
		st := newVGWStack(t, gw, vgwOptions{passthrough: true})

		t.Run("single 25 MB PUT", func(t *testing.T) {
			const key = "uploads/single 25MB.mov"
			body := peertest.Bytes(25_000_000, 8)
			signed, err := st.signer.Put(ctx, key, vgwClientTTL)
			if err != nil {
				t.Fatal(err)
			}
			r := vgwDo(t, vgwStop, http.MethodPut, st.through(t, signed), http.Header{"Content-Type": {"video/quicktime"}}, body)
			if r.status != http.StatusOK {
				t.Fatalf("PUT: status %d, want 200; body %.300s", r.status, r.body)
			}
			if got := r.header.Get("ETag"); got != peertest.MD5ETag(body) {
				t.Errorf("PUT ETag = %q, want %q", got, peertest.MD5ETag(body))
			}
			out, got := vgwObject(t, gw, key)
			vgwEqualBytes(t, "stored object", got, body)
			if ct := aws.ToString(out.ContentType); ct != "video/quicktime" {
				t.Errorf("stored Content-Type = %q, want the uploader's video/quicktime", ct)
			}
			if sent := st.counter.take(); len(sent) != 0 {
				t.Errorf("the function sent %d upstream requests for a passthrough PUT: %v", len(sent), sent)
			}
		})

		t.Run("3-part multipart upload", func(t *testing.T) {
			const key = "uploads/multipart 3 parts.mov"
			// As ShotGrid does it: its server creates and completes the
			// upload; the client PUTs each part to a presigned URL.
			created, err := gw.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
				Bucket: aws.String(vgwBucket), Key: aws.String(key), ContentType: aws.String("video/quicktime"),
			})
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			uploadID := aws.ToString(created.UploadId)
			var whole []byte
			var parts []types.CompletedPart
			for n := int32(1); n <= 3; n++ {
				part := peertest.Bytes(5<<20+int(n)*1000, uint64(10+n))
				whole = append(whole, part...)
				signed, err := st.signer.UploadPart(ctx, key, uploadID, n, vgwClientTTL)
				if err != nil {
					t.Fatal(err)
				}
				r := vgwDo(t, vgwStop, http.MethodPut, st.through(t, signed), nil, part)
				if r.status != http.StatusOK {
					t.Fatalf("UploadPart %d: status %d, want 200; body %.300s", n, r.status, r.body)
				}
				etag := r.header.Get("ETag")
				if etag != peertest.MD5ETag(part) {
					t.Errorf("UploadPart %d: ETag = %q, want %q", n, etag, peertest.MD5ETag(part))
				}
				parts = append(parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(n)})
			}
			done, err := gw.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: aws.String(vgwBucket), Key: aws.String(key), UploadId: aws.String(uploadID),
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			})
			if err != nil {
				t.Fatalf("CompleteMultipartUpload: %v", err)
			}
			if etag := aws.ToString(done.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
				t.Errorf("multipart ETag = %q, want an AWS-style <md5>-3", etag)
			}
			_, got := vgwObject(t, gw, key)
			vgwEqualBytes(t, "stored object", got, whole)
		})
	})

	t.Run("no passthrough", func(t *testing.T) {
		st := newVGWStack(t, gw, vgwOptions{passthrough: false})
		put := func(t *testing.T, key string, body []byte, contentType string) vgwResponse {
			t.Helper()
			signed, err := st.signer.Put(ctx, key, vgwClientTTL)
			if err != nil {
				t.Fatal(err)
			}
			st.counter.take()
			return vgwDo(t, vgwStop, http.MethodPut, st.through(t, signed), http.Header{"Content-Type": {contentType}}, body)
		}

		for _, tc := range []struct {
			name, key, contentType string
			body                   []byte
		}{
			{"small binary PUT relayed by the function", "relay/thumb.jpg", "image/jpeg", peertest.Bytes(600_000, 20)},
			{"small text PUT relayed by the function", "relay/notes.txt", "text/plain", []byte(strings.Repeat("shot 030 notes\n", 1000))},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := put(t, tc.key, tc.body, tc.contentType)
				if r.status != http.StatusOK {
					t.Fatalf("PUT: status %d, want 200; body %.300s", r.status, r.body)
				}
				if got := r.header.Get("ETag"); got != peertest.MD5ETag(tc.body) {
					t.Errorf("ETag = %q, want S3's %q", got, peertest.MD5ETag(tc.body))
				}
				if sent := st.counter.take(); len(sent) != 1 || sent[0].method != http.MethodPut {
					t.Errorf("upstream requests %v, want one PUT", sent)
				}
				out, got := vgwObject(t, gw, tc.key)
				vgwEqualBytes(t, "stored object", got, tc.body)
				if ct := aws.ToString(out.ContentType); ct != tc.contentType {
					t.Errorf("stored Content-Type = %q, want %q", ct, tc.contentType)
				}
			})
		}

		t.Run("DELETE relayed by the function", func(t *testing.T) {
			const key = "relay/delete-me.txt"
			vgwPut(t, gw, key, []byte("bye"), "text/plain")
			signed, err := st.signer.Delete(ctx, key, vgwClientTTL)
			if err != nil {
				t.Fatal(err)
			}
			st.counter.take()
			r := vgwDo(t, vgwStop, http.MethodDelete, st.through(t, signed), nil, nil)
			if r.status != http.StatusNoContent {
				t.Fatalf("DELETE: status %d, want 204; body %.300s", r.status, r.body)
			}
			if sent := st.counter.take(); len(sent) != 1 || sent[0].method != http.MethodDelete {
				t.Errorf("upstream requests %v, want one DELETE", sent)
			}
			if _, err := gw.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String(key)}); err == nil {
				t.Error("the object still exists after the DELETE")
			}
		})

		t.Run("2 MB PUT gets 413 from the load balancer", func(t *testing.T) {
			const key = "relay/too-big.mov"
			r := put(t, key, peertest.Bytes(2_000_000, 21), "video/quicktime")
			if r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413; body %.300s", r.status, r.body)
			}
			if sent := st.counter.take(); len(sent) != 0 {
				t.Errorf("the function sent %d upstream requests; the ALB must not invoke it: %v", len(sent), sent)
			}
			if _, err := gw.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String(key)}); err == nil {
				t.Error("the refused object exists in the bucket")
			}
		})
	})
}

// TestVersityGWEmptyRangeGrantsNoMore: a client URL that signs host;range
// for exactly the function's probe range (boto3's generate_presigned_url
// with Range=bytes=0-65535, the inline limit here) grants those bytes and
// nothing else. Sent with an empty Range header, it must not become a URL
// for the whole object: the function forwards the empty Range as it is, so
// S3 checks the signature against what the client sent and refuses it, and
// no mint is made from a value S3 never checked. In both redirect modes,
// since /_direct is where a minted URL is followed through the proxy.
func TestVersityGWEmptyRangeGrantsNoMore(t *testing.T) {
	gw := startVGW(t)
	const key = "shots/040/probe_range.mov"
	obj := peertest.Bytes(5*vgwInlineMax+7, 40)
	vgwPut(t, gw, key, obj, "video/quicktime")
	probe := fmt.Sprintf("bytes=0-%d", vgwInlineMax-1)
	for _, via := range []string{"", "proxy"} {
		st := newVGWStack(t, gw, vgwOptions{wire: true, via: via})
		u := st.getURL(t, key, vgwClientTTL, func(in *s3.GetObjectInput) { in.Range = aws.String(probe) })
		t.Run("via="+cmp.Or(via, "endpoint"), func(t *testing.T) {
			for _, empty := range []string{"", " "} {
				st.counter.take()
				r := vgwDo(t, vgwStop, http.MethodGet, u, http.Header{"Range": {empty}}, nil)
				if r.status == http.StatusTemporaryRedirect {
					loc := r.header.Get("Location")
					f := vgwDo(t, vgwStop, http.MethodGet, loc, http.Header{"Range": {empty}}, nil)
					t.Fatalf("Range %q: minted a redirect; following it with the same Range gave %d and %d of the object's %d bytes",
						empty, f.status, len(f.body), len(obj))
				}
				if r.status != http.StatusForbidden || vgwErrorCode(r.body) != "SignatureDoesNotMatch" {
					t.Errorf("Range %q: status %d %q, want S3's 403 SignatureDoesNotMatch; body %.300s", empty, r.status, vgwErrorCode(r.body), r.body)
				}
				vgwWantNoLocation(t, r)
				if sent := st.counter.take(); len(sent) != 1 || sent[0].rng != "" {
					t.Errorf("upstream calls %+v, want one carrying the client's empty Range, not the probe", sent)
				}
			}
			// The URL still grants what it signed.
			r := vgwDo(t, vgwStop, http.MethodGet, u, http.Header{"Range": {probe}}, nil)
			if r.status != http.StatusPartialContent {
				t.Fatalf("Range %s: status %d, want 206; body %.300s", probe, r.status, r.body)
			}
			vgwEqualBytes(t, "signed range", r.body, obj[:vgwInlineMax])
		})
	}
}

// TestVersityGWStoredDocumentsAreSandboxed: an object stored as HTML or SVG
// (a host-only presigned PUT can choose any Content-Type) comes back through
// the function with the headers that keep it from running as the proxy's
// origin, as do the function's redirects, errors and pings.
func TestVersityGWStoredDocumentsAreSandboxed(t *testing.T) {
	gw := startVGW(t)
	st := newVGWStack(t, gw, vgwOptions{wire: true})
	vgwPut(t, gw, "shots/050/page.html", []byte("<html><script>parent.postMessage(location.origin,'*')</script></html>"), "text/html")
	vgwPut(t, gw, "shots/050/icon.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/svg+xml")
	vgwPut(t, gw, "shots/050/large.mov", peertest.Bytes(2*vgwInlineMax, 50), "video/quicktime")
	creds, err := gw.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]vgwResponse{
		"html inline": vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, "shots/050/page.html", vgwClientTTL), nil, nil),
		"svg inline":  vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, "shots/050/icon.svg", vgwClientTTL), nil, nil),
		"redirect":    vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, "shots/050/large.mov", vgwClientTTL), nil, nil),
		"S3's 404":    vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, "shots/050/missing.html", vgwClientTTL), nil, nil),
		"refusal":     vgwDo(t, vgwStop, http.MethodGet, st.through(t, vgwPresignAt(t, creds, "shots/050/page.html", time.Now().Add(-10*time.Minute), time.Minute)), nil, nil),
		"S3's 403":    vgwDo(t, vgwStop, http.MethodGet, vgwFlipSignature(t, st.getURL(t, "shots/050/page.html", vgwClientTTL)), nil, nil),
		"ping":        vgwDo(t, vgwStop, http.MethodGet, st.base+"/ping", nil, nil),
	}
	for name, r := range answers {
		if got, want := r.header.Get("X-Content-Type-Options"), routes.ContentTypeOptions; got != want {
			t.Errorf("%s (%d): X-Content-Type-Options %q, want %q", name, r.status, got, want)
		}
		if got, want := r.header.Get("Content-Security-Policy"), routes.ContentSecurityPolicy; got != want {
			t.Errorf("%s (%d): Content-Security-Policy %q, want %q", name, r.status, got, want)
		}
	}
	if r := answers["html inline"]; r.status != http.StatusOK || r.header.Get("Content-Type") != "text/html" {
		t.Errorf("html: status %d, type %q; want it served as stored, sandboxed", r.status, r.header.Get("Content-Type"))
	}
}
