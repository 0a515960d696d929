// Package browser_test is the headless Chromium part of the client
// compatibility matrix: the ShotGrid web app's requests — a preflighted
// upload PUT whose ETag the page must read, a cross-origin GET, a ranged GET
// of a large object that crosses the proxy's 307 to the endpoint, thumbnails
// and <video> — made by a real browser from a page on a second origin
// playing the ShotGrid site; stored HTML and SVG opened in a tab at the
// proxy's URL (documents_test.go); and a <video> across its minted URL's
// expiry (video_test.go).
//
// Every hop is cross-origin, as in production: the site, the proxy (the twin:
// emulated ALB, function in-process or as the real bootstrap under the
// emulator, upload passthrough on) and the endpoint the 307 points at each
// have their own port on 127.0.0.1. The endpoint is a recording, transparent
// reverse proxy in front of versitygw, which checks every signature and
// answers CORS from the bucket's CORS configuration, applied with
// PutBucketCors as docs/cors.md prescribes. S3PROXY_ALLOWED_ORIGINS names the
// site, so the function answers preflights itself.
//
// Every cell is a subtest of TestBrowserMatrix with a row in the "Headless
// Chromium" table of docs/clients.md; a full run fails when the two differ.
package browser_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	bucket      = "shotgrid-media"
	signedHost  = bucket + ".s3.amazonaws.com"
	region      = "us-east-1"
	inlineMax   = 256 << 10
	redirectTTL = 5 * time.Minute
	clientTTL   = time.Hour
	// evalTimeout bounds one call into the page (a fetch and its body).
	evalTimeout = 30 * time.Second

	smallKey  = "shots/020/thumb.jpg"
	smallSize = 40_000
	largeSize = 2_345_678
	// rangeLen makes a ranged read larger than the inline limit, so the
	// proxy answers it with a 307.
	rangeLen = 1_000_000
)

// largeKey names one copy of the large object: each range case reads its
// own, so that no case's URL, and so no cached preflight, is another's.
func largeKey(copy string) string { return "shots/020/plate-" + copy + ".mov" }

// rangeRead is one ranged read of a copy of the large object.
type rangeRead struct {
	key    string
	header string // the Range header the page sets
	first  int    // the bytes it must get back
	last   int
	// preflighted: Chromium preflights the request, at the proxy and again
	// at the endpoint after the redirect. A single bytes=N-M range is
	// CORS-safelisted (Fetch: "simple range header value"); a suffix range
	// is not.
	preflighted bool
}

func firstBytes(copy string) rangeRead {
	return rangeRead{largeKey(copy), fmt.Sprintf("bytes=0-%d", rangeLen-1), 0, rangeLen - 1, false}
}

func lastBytes(copy string) rangeRead {
	return rangeRead{largeKey(copy), fmt.Sprintf("bytes=-%d", rangeLen), largeSize - rangeLen, largeSize - 1, true}
}

// The bucket CORS rules of docs/cors.md. siteRule is ShotGrid's own rule
// for the site origin; redirectRule is what the redirect case adds.
func siteRule(site string) types.CORSRule {
	return types.CORSRule{
		ID:             aws.String("shotgrid-site"),
		AllowedOrigins: []string{site},
		AllowedMethods: []string{"GET", "PUT", "HEAD"},
		AllowedHeaders: []string{"*"},
		ExposeHeaders:  []string{"ETag"},
		MaxAgeSeconds:  aws.Int32(3000),
	}
}

func redirectRule(origin string) types.CORSRule {
	return types.CORSRule{
		ID:             aws.String("proxy-redirect-origin-null"),
		AllowedOrigins: []string{origin},
		AllowedMethods: []string{"GET", "HEAD"},
		AllowedHeaders: []string{"*"},
		ExposeHeaders:  []string{"ETag", "Content-Range", "Content-Length", "Accept-Ranges"},
		MaxAgeSeconds:  aws.Int32(3000),
	}
}

// fixture is the stack, the browser and the objects the cells read.
type fixture struct {
	gw       *peertest.S3
	proxy    string    // the twin (emulated ALB), http://127.0.0.1:P2
	proxyVia string    // another, with S3PROXY_REDIRECT_VIA=proxy
	endpoint string    // the endpoint the 307 points at, http://127.0.0.1:P3
	edgeURL  *url.URL  // the same, parsed
	site     string    // the ShotGrid site, allowed, http://127.0.0.1:P1
	foreign  string    // another site, not allowed, http://127.0.0.1:P4
	upstream string    // the function's S3PROXY_UPSTREAM_URL
	front    *recorder // what reached the proxies
	edge     *recorder // what reached the endpoint
	up       *recorder // what the function sent to S3
	signer   *sgurl.Signer
	bodies   sync.Map // name → []byte, served by the sites at /body/<name>
	slow     sync.Map // key → bytes a second: the endpoint's pace for it
	small    []byte
	large    []byte
	chrome   *chrome
	beacon   *beacon // where stored documents' scripts report
}

func TestBrowserMatrix(t *testing.T) {
	f := newFixture(t)
	f.chrome = startChrome(t)
	sitePage := f.open(t, f.site)

	cell(t, "put-preflight-etag", func(t *testing.T) { f.testPut(t, sitePage) })
	cell(t, "get-inline", func(t *testing.T) { f.testGetInline(t, sitePage) })
	cell(t, "get-credentials-include", func(t *testing.T) { f.testCredentialed(t, sitePage, "") })
	cell(t, "get-credentials-include-preflighted", func(t *testing.T) { f.testCredentialed(t, sitePage, "bytes=-100") })
	// Without the redirect rule first: a failed preflight is never cached,
	// and each case reads its own copy of the object, so no case can lean on
	// another's cached preflight.
	for _, rc := range []struct {
		name  string
		rng   rangeRead
		rules []types.CORSRule
		ok    bool
	}{
		{"range-across-307-without-redirect-rule-fails", firstBytes("a"), []types.CORSRule{siteRule(f.site)}, false},
		{"range-suffix-across-307-without-redirect-rule-fails", lastBytes("b"), []types.CORSRule{siteRule(f.site)}, false},
		{"range-across-307-null-origin-rule", firstBytes("c"), []types.CORSRule{siteRule(f.site), redirectRule("null")}, true},
		{"range-across-307", firstBytes("d"), nil, true},
		{"range-suffix-across-307-preflighted", lastBytes("e"), nil, true},
	} {
		cell(t, rc.name, func(t *testing.T) {
			if rc.rules != nil {
				f.setCORS(t, rc.rules...)
				defer f.setCORS(t, siteRule(f.site), redirectRule("*"))
			}
			f.testRange(t, sitePage, rc.rng, rc.ok)
		})
	}

	cell(t, "range-suffix-via-proxy-site-rule-only", func(t *testing.T) {
		f.setCORS(t, siteRule(f.site))
		defer f.setCORS(t, siteRule(f.site), redirectRule("*"))
		f.testRangeViaProxy(t, sitePage, lastBytes("f"))
	})

	// Media, as the web app shows it, with the proxy's headers on.
	cell(t, "img-thumbnail-inline", func(t *testing.T) { f.testThumbnail(t, "shots/020/thumb-s.png", 48, 32, f.proxy) })
	cell(t, "img-thumbnail-via-direct", func(t *testing.T) { f.testThumbnail(t, "shots/020/thumb-l.png", 400, 300, f.proxyVia) })
	cell(t, "video-range-across-307", func(t *testing.T) { f.testVideoRange(t, "shots/020/clip-e.webm", f.proxy) })
	cell(t, "video-range-via-direct", func(t *testing.T) { f.testVideoRange(t, "shots/020/clip-d.webm", f.proxyVia) })

	// Stored active content, opened in a tab.
	for _, d := range []storedDoc{
		{"html-inline-runs-no-script", "text/html", false, f.proxy},
		{"svg-inline-runs-no-script", "image/svg+xml", false, f.proxy},
		{"html-via-direct-runs-no-script", "text/html", true, f.proxyVia},
		{"svg-via-direct-runs-no-script", "image/svg+xml", true, f.proxyVia},
		{"html-across-307-on-endpoint-origin", "text/html", true, f.proxy},
		{"svg-across-307-on-endpoint-origin", "image/svg+xml", true, f.proxy},
	} {
		cell(t, d.name, func(t *testing.T) { f.testStoredDocument(t, d) })
	}

	foreignPage := f.open(t, f.foreign)
	cell(t, "disallowed-origin-preflight-403", func(t *testing.T) { f.testForeignPut(t, foreignPage) })
	cell(t, "disallowed-origin-get-unreadable", func(t *testing.T) { f.testForeignGet(t, foreignPage) })
	checkDocumented(t)
}

// ran holds the full name of every cell that ran, to hold docs/clients.md to
// the tests.
var ran sync.Map

func cell(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		ran.Store(t.Name(), true)
		fn(t)
	})
}

// docSection is the heading in docs/clients.md whose table lists these
// cells; its last column names each one without the test's name.
const docSection = "## Headless Chromium"

// checkDocumented fails when the Chromium table in docs/clients.md and the
// cells that ran differ. It only judges a full run: -run may select fewer.
func checkDocumented(t *testing.T) {
	if fl := flag.Lookup("test.run"); fl == nil || fl.Value.String() != "" {
		return
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "clients.md"))
	if err != nil {
		t.Errorf("the matrix's documentation: %v", err)
		return
	}
	documented := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "#") {
			in = strings.TrimSpace(line) == docSection
			continue
		}
		cols := strings.Split(strings.TrimSpace(line), "|")
		if !in || len(cols) < 3 {
			continue
		}
		last := strings.TrimSpace(cols[len(cols)-2])
		if name, ok := strings.CutPrefix(last, "`"); ok && strings.HasSuffix(name, "`") && !strings.ContainsAny(name, "/ …") {
			documented[t.Name()+"/"+strings.TrimSuffix(name, "`")] = true
		}
	}
	if len(documented) == 0 {
		t.Errorf("docs/clients.md has no %q table", docSection)
	}
	ran.Range(func(k, _ any) bool {
		if name := k.(string); !documented[name] {
			t.Errorf("%s ran but has no row under %q in docs/clients.md", name, docSection)
		}
		return true
	})
	for name := range documented {
		if _, ok := ran.Load(name); !ok {
			t.Errorf("docs/clients.md names %s, which did not run", name)
		}
	}
}

// ---- the fixture -------------------------------------------------------------

func newFixture(t *testing.T) *fixture {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{
		Buckets: []string{bucket}, Region: region, VirtualDomain: "s3.amazonaws.com",
	})
	f := &fixture{gw: gw, front: &recorder{}, edge: &recorder{}, up: &recorder{}, beacon: startBeacon(t)}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	// The sites first: the allowed origin is part of the configuration.
	siteSrv := httptest.NewServer(http.HandlerFunc(f.serveSite))
	t.Cleanup(siteSrv.Close)
	foreignSrv := httptest.NewServer(http.HandlerFunc(f.serveSite))
	t.Cleanup(foreignSrv.Close)
	f.site, f.foreign = siteSrv.URL, foreignSrv.URL

	// The endpoint the 307s point at (and passthrough writes reach), and the
	// function's own path to S3: each a recording, transparent reverse proxy
	// in front of versitygw.
	edgeURL := f.recordingProxy(t, f.edge, f.throttle)
	f.endpoint, f.edgeURL = edgeURL.String(), edgeURL
	f.upstream = f.recordingProxy(t, f.up, nil).String()

	f.proxy = f.startProxy(t, edgeURL, nil)
	// A second stack that redirects through the proxy host (/_direct), as
	// the public variant does.
	f.proxyVia = f.startProxy(t, edgeURL, map[string]string{"S3PROXY_REDIRECT_VIA": "proxy"})
	t.Logf("site %s, foreign site %s, proxy %s (via=proxy: %s), endpoint %s (versitygw %s)",
		f.site, f.foreign, f.proxy, f.proxyVia, f.endpoint, gw.URL)

	f.signer = sgurl.NewSigner(gw.Credentials, region, bucket, signedHost)
	f.small, f.large = peertest.Bytes(smallSize, 1), peertest.Bytes(largeSize, 2)
	f.seed(t, smallKey, f.small, "image/jpeg")
	for _, c := range "abcdef" {
		f.seed(t, largeKey(string(c)), f.large, "video/quicktime")
	}
	f.setCORS(t, siteRule(f.site), redirectRule("*"))
	return f
}

// recordingProxy serves a transparent reverse proxy to versitygw that keeps
// the Host header (URLs are signed for the host the client addressed) and
// records what it was sent in rec; shape, when not nil, wraps the proxy
// inside the recorder.
func (f *fixture) recordingProxy(t *testing.T, rec *recorder, shape func(http.Handler) http.Handler) *url.URL {
	t.Helper()
	gwURL, err := url.Parse(f.gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{Proxy: nil, DisableCompression: true}
	t.Cleanup(transport.CloseIdleConnections)
	var h http.Handler = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = gwURL.Scheme, gwURL.Host
			pr.Out.Host = pr.In.Host
		},
		Transport: transport,
	}
	if shape != nil {
		h = shape(h)
	}
	srv := httptest.NewServer(rec.wrap(h))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// startProxy starts the twin with the function configured as in production
// for this suite (extra overrides it) and returns its base URL.
func (f *fixture) startProxy(t *testing.T, edgeURL *url.URL, extra map[string]string) string {
	t.Helper()
	env := map[string]string{
		"S3PROXY_BUCKET":           bucket,
		"S3PROXY_REGION":           region,
		"S3PROXY_SIGNED_HOST":      signedHost,
		"S3PROXY_UPSTREAM_URL":     f.upstream,
		"S3PROXY_ENDPOINT_URL":     f.endpoint,
		"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(inlineMax),
		"S3PROXY_REDIRECT_TTL":     redirectTTL.String(),
		"S3PROXY_ALLOWED_ORIGINS":  f.site,
	}
	for k, v := range extra {
		env[k] = v
	}
	// The proxy's public URL is its own address, known once it listens.
	srv := httptest.NewUnstartedServer(nil)
	env["S3PROXY_PUBLIC_URL"] = "http://" + srv.Listener.Addr().String()
	logger := lambdalog.New(t.Output(), slog.LevelWarn)
	cfg, invoker := peertest.Function(t, env, f.gw, logger)
	// Passthrough writes go to the endpoint with the signed host, as the
	// ALB's rule sends them to the interface endpoint's addresses.
	alb := twin.New(twin.Options{
		Config: cfg, Passthrough: true, PassthroughURL: edgeURL, Logger: logger,
		FunctionTimeout: 30 * time.Second, Invoker: invoker,
	})
	srv.Config.Handler = f.front.wrap(alb)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// serveSite is both sites: the test page, its script, and bodies to upload.
func (f *fixture) serveSite(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == "/" || r.URL.Path == "/index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeFile(w, r, filepath.Join("testdata", "index.html"))
	case r.URL.Path == "/page.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, filepath.Join("testdata", "page.js"))
	case strings.HasPrefix(r.URL.Path, "/body/"):
		v, ok := f.bodies.Load(strings.TrimPrefix(r.URL.Path, "/body/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(v.([]byte))
	case r.URL.Path == "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// open opens a tab on origin's test page.
func (f *fixture) open(t *testing.T, origin string) *page {
	t.Helper()
	p := f.chrome.newPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	if err := p.navigate(ctx, origin+"/", "window.s3t"); err != nil {
		t.Fatalf("opening the test page: %v\nconsole: %v", err, p.takeConsole())
	}
	return p
}

func (f *fixture) seed(t *testing.T, key string, body []byte, contentType string) {
	t.Helper()
	f.gw.Seed(t, bucket, key, body, contentType)
}

// setCORS replaces the bucket's CORS configuration.
func (f *fixture) setCORS(t *testing.T, rules ...types.CORSRule) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.gw.Client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(bucket), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules},
	})
	if err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
}

func (f *fixture) through(t *testing.T, base, signed string, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	u, err := sgurl.Through(base, signed)
	if err != nil {
		t.Fatalf("sgurl.Through: %v", err)
	}
	return u
}

func (f *fixture) getURL(t *testing.T, key string) string {
	t.Helper()
	signed, err := f.signer.Get(context.Background(), key, clientTTL)
	return f.through(t, f.proxy, signed, err)
}

func (f *fixture) putURL(t *testing.T, key string) string {
	t.Helper()
	signed, err := f.signer.Put(context.Background(), key, clientTTL)
	return f.through(t, f.proxy, signed, err)
}

// ---- calls into the page -------------------------------------------------------

// result is what page.js reports for one fetch.
type result struct {
	OK           bool     `json:"ok"`
	Status       int      `json:"status"`
	Type         string   `json:"type"`
	URL          string   `json:"url"`
	Redirected   bool     `json:"redirected"`
	ETag         *string  `json:"etag"`
	ContentRange *string  `json:"contentRange"`
	Length       int      `json:"length"`
	SHA256       string   `json:"sha256"`
	Sent         int      `json:"sent"`
	Text         string   `json:"text"`
	Error        *jsError `json:"error"`
	console      []string // what the page logged meanwhile
}

type jsError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *jsError) String() string {
	if e == nil {
		return "no error"
	}
	return e.Name + ": " + e.Message
}

// call runs s3t.<fn>(args…) in the page and returns its result.
func call(t *testing.T, p *page, fn string, args ...any) *result {
	t.Helper()
	enc := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		enc[i] = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	p.takeConsole()
	var r result
	if err := p.eval(ctx, "s3t."+fn+"("+strings.Join(enc, ", ")+")", &r); err != nil {
		t.Fatalf("s3t.%s: %v\nconsole: %s", fn, err, strings.Join(p.takeConsole(), "\n"))
	}
	// Log messages (CORS refusals among them) arrive as events; give the
	// last ones a moment.
	time.Sleep(50 * time.Millisecond)
	r.console = p.takeConsole()
	return &r
}

func (r *result) consoleText() string {
	if len(r.console) == 0 {
		return "(nothing)"
	}
	return strings.Join(r.console, "\n")
}

// wantOK fails unless the fetch resolved with status.
func (r *result) wantOK(t *testing.T, status int) {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("the fetch rejected with %s, want status %d\nconsole: %s", r.Error, status, r.consoleText())
	}
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %.300s\nconsole: %s", r.Status, status, r.Text, r.consoleText())
	}
}

// wantTypeError fails unless the fetch rejected as a CORS refusal does.
func (r *result) wantTypeError(t *testing.T) {
	t.Helper()
	if r.Error == nil {
		t.Fatalf("the fetch resolved with status %d (%s), want a TypeError", r.Status, redact(r.URL))
	}
	if r.Error.Name != "TypeError" {
		t.Errorf("the fetch rejected with %s, want a TypeError", r.Error)
	}
	if !strings.Contains(r.consoleText(), "CORS") {
		t.Logf("no CORS message in the console: %s", r.consoleText())
	}
}

// ---- the cells -----------------------------------------------------------------

// testPut: the web uploader's PUT. Content-Type video/quicktime makes it
// non-simple, so the browser preflights at the proxy; the function answers
// the OPTIONS itself; the PUT goes by passthrough to the endpoint, whose
// response carries the bucket's CORS headers; the page reads the ETag.
func (f *fixture) testPut(t *testing.T, p *page) {
	const key, name = "uploads/browser/review.mov", "review.mov"
	body := peertest.Bytes(1_500_000, 10) // above the ALB's 1 MB: passthrough only
	f.bodies.Store(name, body)
	r := call(t, p, "put", f.putURL(t, key), "/body/"+name, "video/quicktime")
	r.wantOK(t, http.StatusOK)
	if r.Sent != len(body) {
		t.Errorf("the page sent %d bytes, want %d", r.Sent, len(body))
	}
	if r.ETag == nil {
		t.Fatalf("response.headers.get('ETag') is null: not exposed to the page\nconsole: %s", r.consoleText())
	}
	if *r.ETag != peertest.MD5ETag(body) {
		t.Errorf("ETag read by the page = %q, want the quoted MD5 %q", *r.ETag, peertest.MD5ETag(body))
	}

	front := f.front.take(key)
	pre := find(front, http.MethodOptions)
	switch {
	case pre == nil:
		t.Errorf("the proxy saw no preflight; saw %v", front)
	case pre.Origin != f.site || pre.Status != http.StatusOK || pre.ACRM != http.MethodPut ||
		!strings.Contains(strings.ToLower(pre.ACRH), "content-type"):
		t.Errorf("preflight at the proxy: %+v; want Origin %s, Access-Control-Request-Method PUT, -Headers content-type, answered 200", *pre, f.site)
	case pre.ACAO != f.site:
		t.Errorf("preflight answered with Access-Control-Allow-Origin %q, want %q", pre.ACAO, f.site)
	}
	if put := find(front, http.MethodPut); put == nil || put.Status != http.StatusOK || put.Origin != f.site {
		t.Errorf("PUT at the proxy: %v, want one with Origin %s answered 200", put, f.site)
	}
	edge := f.edge.take(key)
	if pre := find(edge, http.MethodOptions); pre != nil {
		t.Errorf("the preflight reached the endpoint (%+v); the function must answer it", *pre)
	}
	if put := find(edge, http.MethodPut); put == nil || put.Status != http.StatusOK || put.ACAO != f.site {
		t.Errorf("PUT at the endpoint (passthrough): %v, want 200 with the bucket's Access-Control-Allow-Origin %s", put, f.site)
	}
	if up := f.up.take(key); len(up) != 0 {
		t.Errorf("the function sent %v to S3; it must answer the preflight itself, and the PUT must bypass it", up)
	}
	f.checkStored(t, key, body, "video/quicktime")
}

// testGetInline: a cross-origin GET of an object under the inline limit is
// answered by the function, with its own CORS headers.
func (f *fixture) testGetInline(t *testing.T, p *page) {
	u := f.getURL(t, smallKey)
	r := call(t, p, "get", u, nil)
	r.wantOK(t, http.StatusOK)
	if r.Redirected || r.URL != u {
		t.Errorf("final URL %s (redirected %v), want the proxy's own: answered inline", redact(r.URL), r.Redirected)
	}
	if r.Type != "cors" {
		t.Errorf("response.type = %q, want cors", r.Type)
	}
	if r.Length != len(f.small) || r.SHA256 != sha256Hex(f.small) {
		t.Errorf("body: %d bytes sha256 %s, want %d bytes sha256 %s", r.Length, r.SHA256, len(f.small), sha256Hex(f.small))
	}
	if r.ETag == nil || *r.ETag != peertest.MD5ETag(f.small) {
		t.Errorf("ETag read by the page = %v, want %q", r.ETag, peertest.MD5ETag(f.small))
	}
	front := f.front.take(smallKey)
	if get := find(front, http.MethodGet); get == nil || get.Origin != f.site || get.ACAO != f.site {
		t.Errorf("GET at the proxy: %v, want Origin and Access-Control-Allow-Origin %s", get, f.site)
	}
	if pre := find(front, http.MethodOptions); pre != nil {
		t.Errorf("a simple GET was preflighted: %+v", *pre)
	}
	f.wantOneUpstreamGET(t, smallKey)
}

// testCredentialed: a page's fetch with credentials: 'include', which a
// browser lets the page read only when the answer (and the preflight, for
// a non-simple request) carries Access-Control-Allow-Credentials: true, as
// S3 sends for a rule that names the origin.
func (f *fixture) testCredentialed(t *testing.T, p *page, rng string) {
	u := f.getURL(t, smallKey)
	var r *result
	if rng == "" {
		r = call(t, p, "get", u, nil, "include")
		r.wantOK(t, http.StatusOK)
		if r.Length != len(f.small) || r.SHA256 != sha256Hex(f.small) {
			t.Errorf("body: %d bytes, want %d", r.Length, len(f.small))
		}
	} else {
		r = call(t, p, "get", u, rng, "include")
		r.wantOK(t, http.StatusPartialContent)
		if tail := f.small[len(f.small)-100:]; r.Length != 100 || r.SHA256 != sha256Hex(tail) {
			t.Errorf("body: %d bytes, want the last 100", r.Length)
		}
	}
	front := f.front.take(smallKey)
	if get := find(front, http.MethodGet); get == nil || get.ACAO != f.site || get.ACAC != "true" {
		t.Errorf("GET at the proxy: %+v, want Access-Control-Allow-Origin %s and Allow-Credentials true", get, f.site)
	}
	if pre := find(front, http.MethodOptions); rng != "" && (pre == nil || pre.ACAC != "true") {
		t.Errorf("preflight at the proxy: %+v, want Access-Control-Allow-Credentials true", pre)
	}
	f.wantOneUpstreamGET(t, smallKey)
}

// wantOneUpstreamGET checks that the function made exactly one request to
// S3 for key: the GET that S3 judged under the client's signature.
func (f *fixture) wantOneUpstreamGET(t *testing.T, key string) {
	t.Helper()
	up := f.up.take(key)
	if len(up) != 1 || up[0].Method != http.MethodGet {
		t.Errorf("the function sent %v to S3, want exactly one GET", up)
	}
}

// testRange: a ranged read above the inline limit. The proxy answers 307 to
// the endpoint; the browser follows it, and because the redirect crosses
// origins it sends Origin: null there, on the preflight (when the Range is
// not CORS-safelisted) and on the GET. Only a bucket CORS rule that matches
// the origin "null" lets the page read the answer.
func (f *fixture) testRange(t *testing.T, p *page, rr rangeRead, ruleApplied bool) {
	u := f.getURL(t, rr.key)
	r := call(t, p, "get", u, rr.header)
	front, edge := f.front.take(rr.key), f.edge.take(rr.key)
	t.Logf("Range: %s; the proxy saw %v; the endpoint saw %v", rr.header, front, edge)

	// The first hop is the same either way: the proxy's 307, readable by the
	// site (the redirect itself passes the CORS check), after the proxy's
	// own preflight answer when there is one.
	checkPreflight(t, "the proxy", find(front, http.MethodOptions), rr.preflighted, f.site, f.site)
	if get := find(front, http.MethodGet); get == nil || get.Status != http.StatusTemporaryRedirect || get.ACAO != f.site {
		t.Errorf("GET at the proxy: %v, want a 307 with Access-Control-Allow-Origin %s", get, f.site)
	}
	// The browser must have followed it, with Origin: null.
	if len(edge) == 0 {
		t.Fatalf("nothing reached the endpoint: the 307 was not followed (fetch: %s)\nconsole: %s", r.Error, r.consoleText())
	}
	for _, h := range edge {
		if h.Origin != "null" {
			t.Errorf("%s at the endpoint with Origin %q, want \"null\" after a cross-origin redirect", h.Method, h.Origin)
		}
	}
	pre, get := find(edge, http.MethodOptions), find(edge, http.MethodGet)
	f.wantOneUpstreamGET(t, rr.key)

	if !ruleApplied {
		r.wantTypeError(t)
		if rr.preflighted {
			// Refused at the preflight: the GET is never sent.
			if pre == nil || pre.Status == http.StatusOK || pre.ACAO != "" {
				t.Errorf("preflight at the endpoint: %v, want it refused (no Access-Control-Allow-Origin)", pre)
			}
			if get != nil {
				t.Errorf("the browser sent %v after a refused preflight", get)
			}
		} else if get == nil || get.ACAO != "" {
			// Sent, answered, and unreadable: no rule matched "null".
			t.Errorf("GET at the endpoint: %v, want one answered without Access-Control-Allow-Origin", get)
		}
		return
	}

	checkPreflight(t, "the endpoint", pre, rr.preflighted, "null", "")
	r.wantOK(t, http.StatusPartialContent)
	if !r.Redirected || !strings.HasPrefix(r.URL, f.endpoint+"/"+bucket+"/"+rr.key+"?") {
		t.Errorf("final URL %s (redirected %v), want the endpoint %s/%s/%s (the 307 followed)", redact(r.URL), r.Redirected, f.endpoint, bucket, rr.key)
	}
	want := f.large[rr.first : rr.last+1]
	if r.Length != len(want) || r.SHA256 != sha256Hex(want) {
		t.Errorf("body: %d bytes sha256 %s, want %d bytes sha256 %s", r.Length, r.SHA256, len(want), sha256Hex(want))
	}
	if wantCR := fmt.Sprintf("bytes %d-%d/%d", rr.first, rr.last, largeSize); r.ContentRange == nil || *r.ContentRange != wantCR {
		t.Errorf("Content-Range read by the page = %v, want %q (exposed by the redirect rule)", r.ContentRange, wantCR)
	}
	if r.ETag == nil || *r.ETag != peertest.MD5ETag(f.large) {
		t.Errorf("ETag read by the page = %v, want %q", r.ETag, peertest.MD5ETag(f.large))
	}
	if get == nil || get.Status != http.StatusPartialContent || get.Range != rr.header {
		t.Errorf("GET at the endpoint: %v, want Range %s answered 206", get, rr.header)
	}
}

// testRangeViaProxy: with S3PROXY_REDIRECT_VIA=proxy the 307 points at
// /_direct/… on the proxy's own origin, so following it does not taint the
// request's origin: the function answers the preflight, the endpoint sees
// the site's origin on the GET, and ShotGrid's site rule alone is enough
// (here with no redirect rule at all).
func (f *fixture) testRangeViaProxy(t *testing.T, p *page, rr rangeRead) {
	signed, err := f.signer.Get(context.Background(), rr.key, clientTTL)
	u := f.through(t, f.proxyVia, signed, err)
	r := call(t, p, "get", u, rr.header)
	front, edge := f.front.take(rr.key), f.edge.take(rr.key)
	t.Logf("Range: %s; the proxy saw %v; the endpoint saw %v", rr.header, front, edge)
	r.wantOK(t, http.StatusPartialContent)
	if !r.Redirected || !strings.HasPrefix(r.URL, f.proxyVia+"/_direct/"+bucket+"/"+rr.key+"?") {
		t.Errorf("final URL %s (redirected %v), want %s/_direct/%s/%s", redact(r.URL), r.Redirected, f.proxyVia, bucket, rr.key)
	}
	want := f.large[rr.first : rr.last+1]
	if r.Length != len(want) || r.SHA256 != sha256Hex(want) {
		t.Errorf("body: %d bytes sha256 %s, want %d bytes sha256 %s", r.Length, r.SHA256, len(want), sha256Hex(want))
	}
	if r.ETag == nil || *r.ETag != peertest.MD5ETag(f.large) {
		t.Errorf("ETag read by the page = %v, want %q", r.ETag, peertest.MD5ETag(f.large))
	}
	f.wantOneUpstreamGET(t, rr.key)
	if len(edge) == 0 {
		t.Fatal("nothing reached the endpoint")
	}
	for _, h := range edge {
		if h.Origin != f.site || h.ACAO != f.site {
			t.Errorf("at the endpoint: %v, want Origin and Access-Control-Allow-Origin %s (a same-origin redirect keeps the origin)", h, f.site)
		}
	}
	// /_direct carries GET and HEAD only: the preflight for the redirected
	// read is the function's to answer, as the object's, and never reaches
	// the endpoint.
	var directPre *hop
	for i, h := range front {
		if h.Method == http.MethodOptions && strings.HasPrefix(h.Path, "/_direct/") {
			directPre = &front[i]
		}
	}
	checkPreflight(t, "the proxy's /_direct", directPre, rr.preflighted, f.site, f.site)
	if pre := find(edge, http.MethodOptions); pre != nil {
		t.Errorf("a preflight reached the endpoint through /_direct: %v", *pre)
	}
	if get := find(edge, http.MethodGet); get == nil || get.Status != http.StatusPartialContent {
		t.Errorf("GET at the endpoint: %v, want 206", get)
	}
}

// checkPreflight checks that a preflight for a Range GET from origin came
// (or, for a CORS-safelisted range, did not) and was answered 200 allowing
// allow ("" for any).
func checkPreflight(t *testing.T, where string, pre *hop, want bool, origin, allow string) {
	t.Helper()
	switch {
	case !want && pre != nil:
		t.Errorf("%s saw a preflight (%v) for a CORS-safelisted Range", where, pre)
	case !want:
	case pre == nil:
		t.Errorf("%s saw no preflight for a Range that is not CORS-safelisted", where)
	case pre.Origin != origin || pre.ACRM != http.MethodGet || !strings.Contains(strings.ToLower(pre.ACRH), "range"):
		t.Errorf("preflight at %s: %+v; want Origin %q, Access-Control-Request-Method GET, -Headers range", where, *pre, origin)
	case pre.Status != http.StatusOK || pre.ACAO == "" || (allow != "" && pre.ACAO != allow):
		t.Errorf("preflight at %s answered %v, want 200 allowing %q", where, pre, allow)
	}
}

// testForeignPut: a page on an origin outside S3PROXY_ALLOWED_ORIGINS tries
// the same upload. The function refuses the preflight with 403, so the
// browser never sends the PUT.
func (f *fixture) testForeignPut(t *testing.T, p *page) {
	const key, name = "uploads/browser/foreign.mov", "foreign.mov"
	body := peertest.Bytes(100_000, 11)
	f.bodies.Store(name, body)
	r := call(t, p, "put", f.putURL(t, key), "/body/"+name, "video/quicktime")
	r.wantTypeError(t)
	front, edge := f.front.take(key), f.edge.take(key)
	pre := find(front, http.MethodOptions)
	switch {
	case pre == nil:
		t.Errorf("the proxy saw no preflight; saw %v", front)
	case pre.Origin != f.foreign || pre.Status != http.StatusForbidden:
		t.Errorf("preflight at the proxy: %+v; want Origin %s answered 403", *pre, f.foreign)
	case pre.ACAO != "":
		t.Errorf("the refused preflight carries Access-Control-Allow-Origin %q", pre.ACAO)
	}
	if put := find(front, http.MethodPut); put != nil {
		t.Errorf("the browser sent the PUT after a refused preflight: %+v", *put)
	}
	if len(edge) != 0 {
		t.Errorf("the endpoint saw %v, want nothing", edge)
	}
	if up := f.up.take(key); len(up) != 0 {
		t.Errorf("the function sent %v to S3, want the preflight refused without S3", up)
	}
	if _, err := f.gw.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		t.Errorf("object %q exists; nothing should have stored it", key)
	}
}

// testForeignGet: a simple GET needs no preflight, so it reaches the proxy,
// but the answer has no Access-Control-Allow-Origin for a foreign origin and
// the page cannot read it — even though the bucket's redirect rule allows
// "*": the proxy drops S3's CORS headers and sets its own.
func (f *fixture) testForeignGet(t *testing.T, p *page) {
	r := call(t, p, "get", f.getURL(t, smallKey), nil)
	r.wantTypeError(t)
	front := f.front.take(smallKey)
	if get := find(front, http.MethodGet); get == nil || get.Origin != f.foreign || get.ACAO != "" {
		t.Errorf("GET at the proxy: %v, want Origin %s answered with no Access-Control-Allow-Origin", get, f.foreign)
	}
	// CORS is not access control: the signed read itself goes ahead.
	f.wantOneUpstreamGET(t, smallKey)
}

func (f *fixture) checkStored(t *testing.T, key string, body []byte, contentType string) {
	t.Helper()
	out, err := f.gw.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Errorf("GetObject %q from the gateway: %v", key, err)
		return
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil {
		t.Errorf("GetObject %q: %v", key, err)
		return
	}
	if !bytes.Equal(got, body) {
		t.Errorf("stored %q: %d bytes sha256 %s, want %d bytes sha256 %s", key, len(got), sha256Hex(got), len(body), sha256Hex(body))
	}
	if ct := aws.ToString(out.ContentType); ct != contentType {
		t.Errorf("stored Content-Type = %q, want %q", ct, contentType)
	}
}

// ---- recording what the browser sent -------------------------------------------

// hop is one request as a server in front of the browser saw it.
type hop struct {
	Method, Path, Origin string
	ACRM, ACRH           string // Access-Control-Request-Method, -Headers
	Range                string
	Status               int
	ACAO                 string // the answer's Access-Control-Allow-Origin
	ACAC                 string // the answer's Access-Control-Allow-Credentials
	// The answer's Location (it holds a signature: never print it), and its
	// X-Content-Type-Options and Content-Security-Policy.
	Location, XCTO, CSP string
}

func (h hop) String() string {
	s := fmt.Sprintf("%s %s Origin=%q -> %d", h.Method, h.Path, h.Origin, h.Status)
	if h.ACAO != "" {
		s += " ACAO=" + h.ACAO
	}
	return s
}

// recorder keeps every request that passes through a handler it wraps.
type recorder struct {
	mu   sync.Mutex
	hops []hop
}

// wrap records each request when its answer's header is written: before
// the browser can see the answer, so a test that reads the page's result
// always finds the hops that produced it.
func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hop{
			Method: r.Method, Path: r.URL.Path, Origin: r.Header.Get("Origin"),
			ACRM: r.Header.Get("Access-Control-Request-Method"), ACRH: r.Header.Get("Access-Control-Request-Headers"),
			Range: r.Header.Get("Range"),
		}
		sw := &statusWriter{ResponseWriter: w, record: func(status int) {
			h.Status, h.ACAO = status, w.Header().Get("Access-Control-Allow-Origin")
			h.ACAC = w.Header().Get("Access-Control-Allow-Credentials")
			h.Location = w.Header().Get("Location")
			h.XCTO, h.CSP = w.Header().Get("X-Content-Type-Options"), w.Header().Get("Content-Security-Policy")
			rec.mu.Lock()
			rec.hops = append(rec.hops, h)
			rec.mu.Unlock()
		}}
		next.ServeHTTP(sw, r)
		sw.header(http.StatusOK) // a handler that wrote nothing
	})
}

// take removes and returns the hops for key, in order.
func (rec *recorder) take(key string) []hop {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var mine, rest []hop
	for _, h := range rec.hops {
		if strings.HasSuffix(h.Path, "/"+key) {
			mine = append(mine, h)
		} else {
			rest = append(rest, h)
		}
	}
	rec.hops = rest
	return mine
}

// peek returns the hops for key so far, leaving them recorded.
func (rec *recorder) peek(key string) []hop {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var mine []hop
	for _, h := range rec.hops {
		if strings.HasSuffix(h.Path, "/"+key) {
			mine = append(mine, h)
		}
	}
	return mine
}

func find(hops []hop, method string) *hop {
	for i := range hops {
		if hops[i].Method == method {
			return &hops[i]
		}
	}
	return nil
}

// statusWriter calls record once, with the status, as the header goes out.
type statusWriter struct {
	http.ResponseWriter
	record func(status int)
	done   bool
}

func (w *statusWriter) header(code int) {
	if !w.done {
		w.done = true
		w.record(code)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.header(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.header(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	w.header(http.StatusOK)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ---- a slow link -------------------------------------------------------------------

// throttle paces the answers for the keys in f.slow at their rate, as a
// link slower than S3 would, so that a media element's first request is
// still streaming while it plays and a seek far ahead needs a new one.
func (f *fixture) throttle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rate := 0
		f.slow.Range(func(k, v any) bool {
			if strings.HasSuffix(r.URL.Path, "/"+k.(string)) {
				rate = v.(int)
			}
			return rate == 0
		})
		if rate > 0 {
			w = &slowWriter{ResponseWriter: w, rate: rate, done: r.Context().Done()}
		}
		next.ServeHTTP(w, r)
	})
}

// slowWriter writes at most rate bytes a second, in small flushed chunks,
// and stops when the request is gone.
type slowWriter struct {
	http.ResponseWriter
	rate int
	done <-chan struct{}
}

func (w *slowWriter) Write(p []byte) (int, error) {
	const chunk = 4 << 10
	n := 0
	for len(p) > 0 {
		c := min(chunk, len(p))
		m, err := w.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		if fl, ok := w.ResponseWriter.(http.Flusher); ok {
			fl.Flush()
		}
		p = p[c:]
		select {
		case <-time.After(time.Duration(c) * time.Second / time.Duration(w.rate)):
		case <-w.done:
			return n, http.ErrAbortHandler
		}
	}
	return n, nil
}

func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ---- bytes -------------------------------------------------------------------------

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
