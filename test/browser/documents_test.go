package browser_test

// Stored active content, opened in a tab: an HTML page and an SVG image that
// a host-only presigned PUT stored with Content-Type text/html and
// image/svg+xml (the signature does not cover the type), each with an
// inline script that, if it runs, retitles the tab and tells a loopback
// beacon the origin it ran on. At the proxy's URL, inline and through
// /_direct, neither may run: the proxy's origin is the studio's own host.
// Straight from the endpoint the document is on the endpoint's origin,
// which the proxy does not answer for. And the media the web app shows
// (thumbnails, <video> with Range) still loads with the proxy's headers on.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// scriptGrace is how long a loaded document's script has to reach the
// beacon. An inline script runs while the document parses, before its load
// event, so its request is under way by then.
const scriptGrace = 700 * time.Millisecond

// beacon records what scripts in stored documents report.
type beacon struct {
	url  string
	mu   sync.Mutex
	hits []beaconHit
}

// beaconHit is one report: which document's script ran, and on which
// origin (self.origin, "null" for an opaque one).
type beaconHit struct{ Doc, Origin string }

func startBeacon(t *testing.T) *beacon {
	b := &beacon{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		b.mu.Lock()
		b.hits = append(b.hits, beaconHit{Doc: q.Get("doc"), Origin: q.Get("origin")})
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// take returns and forgets the reports from doc's script.
func (b *beacon) take(doc string) []beaconHit {
	b.mu.Lock()
	defer b.mu.Unlock()
	var mine, rest []beaconHit
	for _, h := range b.hits {
		if h.Doc == doc {
			mine = append(mine, h)
		} else {
			rest = append(rest, h)
		}
	}
	b.hits = rest
	return mine
}

// storedDoc is one active document and where it is opened.
type storedDoc struct {
	name        string // also its script's report name
	contentType string // what the uploader set on the PUT
	large       bool   // over the inline limit, so the proxy answers 307
	// via is the twin it is opened through: f.proxy (307s to the endpoint)
	// or f.proxyVia (307s to /_direct on the proxy's own origin).
	via string
}

func (d storedDoc) key() string {
	ext := ".html"
	if strings.Contains(d.contentType, "svg") {
		ext = ".svg"
	}
	return "uploads/browser/" + d.name + ext
}

// body is the document: its script retitles it and reports to the beacon.
// A large one is padded with a comment past the inline limit.
func (d storedDoc) body(beaconURL string) []byte {
	script := fmt.Sprintf("document.title = 'script ran';"+
		" fetch(%q + '/hit?doc=%s&origin=' + encodeURIComponent(self.origin), {mode: 'no-cors'});", beaconURL, d.name)
	pad := ""
	if d.large {
		pad = "<!-- " + strings.Repeat("padding ", (inlineMax+100_000)/8) + "-->"
	}
	if strings.Contains(d.contentType, "svg") {
		return []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">` +
			`<title>stored ` + d.name + `</title><rect width="64" height="64" fill="teal"/>` +
			`<script>//<![CDATA[` + "\n" + script + "\n//]]></script>" + pad + `</svg>`)
	}
	return []byte(`<!doctype html><html><head><meta charset="utf-8"><title>stored ` + d.name + `</title></head>` +
		`<body><p>A stored document.</p><script>` + script + `</script>` + pad + `</body></html>`)
}

// upload stores the document as the web uploader would: a PUT to a
// host-only presigned URL through the proxy (the passthrough), with the
// Content-Type the uploader chose, which the signature does not cover.
func (f *fixture) upload(t *testing.T, key string, body []byte, contentType string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, f.putURL(t, key), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", key, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s through the proxy: %s, want 200", key, resp.Status)
	}
	f.front.take(key)
	f.edge.take(key)
	f.checkStored(t, key, body, contentType)
}

// testStoredDocument uploads d, opens it at the proxy's URL in a tab of its
// own, and checks that its script did not run on the proxy's origin.
func (f *fixture) testStoredDocument(t *testing.T, d storedDoc) {
	key, body := d.key(), d.body(f.beacon.url)
	f.upload(t, key, body, d.contentType)
	signed, err := f.signer.Get(context.Background(), key, clientTTL)
	u := f.through(t, d.via, signed, err)

	p := f.chrome.newPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	frame, err := p.load(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(scriptGrace)
	hits := f.beacon.take(d.name)
	title, err := p.title(ctx)
	if err != nil {
		t.Fatal(err)
	}
	front, edge := f.front.take(key), f.edge.take(key)
	t.Logf("document at %s (%s, origin %q); title %q; the script reported %v; the proxy saw %v; the endpoint saw %v",
		redact(frame.URL), frame.MimeType, frame.SecurityOrigin, title, hits, front, edge)

	// The document itself loaded, with its stored type: a script that did
	// not run for want of a document would prove nothing.
	if frame.MimeType != d.contentType {
		t.Fatalf("the tab holds a %q document, want the stored %q", frame.MimeType, d.contentType)
	}
	if up := f.up.take(key); len(up) != 1 || up[0].Method != http.MethodGet {
		t.Errorf("the function sent %v to S3 for the document, want one GET", up)
	}

	if d.large && d.via == f.proxy {
		// Endpoint mode: the 307 leads the tab off the proxy's origin. What
		// runs there runs on the endpoint's origin, for which the proxy
		// answers nothing; never on the proxy's.
		if !strings.HasPrefix(frame.URL, f.endpoint+"/") {
			t.Fatalf("the document is at %s, want the endpoint %s (the 307 followed)", redact(frame.URL), f.endpoint)
		}
		for _, h := range hits {
			if h.Origin != f.endpoint {
				t.Errorf("the script ran on %q, want only the endpoint's origin %s", h.Origin, f.endpoint)
			}
		}
		t.Logf("on the endpoint's origin the script ran %d time(s)", len(hits))
		return
	}

	// The proxy's origin: inline, or through /_direct.
	wantPath := "/" + key
	if d.large {
		wantPath = "/_direct/" + bucket + "/" + key
	}
	if fu, err := url.Parse(frame.URL); err != nil || "http://"+fu.Host != d.via || fu.Path != wantPath {
		t.Fatalf("the document is at %s, want %s%s", redact(frame.URL), d.via, wantPath)
	}
	if len(hits) != 0 {
		t.Errorf("the stored document's script ran on the proxy's origin: it reported %v", hits)
	}
	if title != "stored "+d.name {
		t.Errorf("the tab's title is %q, want %q: the document's script ran", title, "stored "+d.name)
	}
	// What the proxy's origin answered the document with.
	served := find(front, http.MethodGet)
	if d.large {
		served = nil
		for i := range front {
			if strings.HasPrefix(front[i].Path, "/_direct/") {
				served = &front[i]
			}
		}
	}
	if served == nil || served.Status != http.StatusOK {
		t.Fatalf("the proxy's origin answered the document with %v, want 200", served)
	}
	if served.XCTO != "nosniff" || !strings.Contains(served.CSP, "sandbox") {
		t.Errorf("the document was served with X-Content-Type-Options %q and Content-Security-Policy %q, want nosniff and a sandbox",
			served.XCTO, served.CSP)
	}
}

// testThumbnail: the web app's thumbnails are <img> elements without a
// crossorigin attribute. A small one (w×h of noise: a PNG of about 4wh
// bytes) is answered inline, a large one through a 307; either way it must
// still decode with the proxy's headers on.
func (f *fixture) testThumbnail(t *testing.T, key string, w, h int, via string) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	noise := peertest.Bytes(len(img.Pix), 21)
	copy(img.Pix, noise)
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xFF
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	f.seed(t, key, buf.Bytes(), "image/png")
	signed, err := f.signer.Get(context.Background(), key, clientTTL)
	u := f.through(t, via, signed, err)
	p := f.open(t, f.site)
	var r struct {
		OK            bool `json:"ok"`
		Width, Height int
		Error         *jsError `json:"error"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	if err := p.eval(ctx, fmt.Sprintf("s3t.image(%q)", u), &r); err != nil {
		t.Fatal(err)
	}
	front, edge := f.front.take(key), f.edge.take(key)
	t.Logf("%d bytes of PNG: the proxy saw %v; the endpoint saw %v", buf.Len(), front, edge)
	if !r.OK || r.Width != w || r.Height != h {
		t.Errorf("the <img> gave %+v (%s), want a %d×%d image", r, r.Error, w, h)
	}
	want := http.StatusOK
	if buf.Len() > inlineMax {
		want = http.StatusTemporaryRedirect
	}
	if get := find(notDirect(front), http.MethodGet); get == nil || get.Status != want {
		t.Errorf("GET at the proxy: %v, want %d for %d bytes", get, want, buf.Len())
	}
}

// testVideoRange: a <video> of a clip above the inline limit. Chromium asks
// with Range: bytes=0-, follows the proxy's 307, and plays what the
// endpoint answers 206.
func (f *fixture) testVideoRange(t *testing.T, key, via string) {
	clip, err := os.ReadFile(filepath.Join("testdata", "clip.webm"))
	if err != nil {
		t.Fatal(err)
	}
	f.seed(t, key, clip, "video/webm")
	signed, err := f.signer.Get(context.Background(), key, clientTTL)
	u := f.through(t, via, signed, err)
	p := f.open(t, f.site)
	if r := call(t, p, "video", "clip", u); r.Error != nil {
		t.Fatalf("play(): %s\nconsole: %s", r.Error, r.consoleText())
	}
	st := waitVideo(t, p, "clip", 10*time.Second, func(s videoState) bool { return s.CurrentTime >= 1 || s.Error != nil })
	front, edge := f.front.take(key), f.edge.take(key)
	t.Logf("currentTime %.2f, readyState %d; the proxy saw %v; the endpoint saw %v", st.CurrentTime, st.ReadyState, front, edge)
	if st.Error != nil || st.CurrentTime < 1 {
		t.Errorf("the video did not play: %+v", st)
	}
	if get := find(notDirect(front), http.MethodGet); get == nil || get.Status != http.StatusTemporaryRedirect || !strings.HasPrefix(get.Range, "bytes=") {
		t.Errorf("GET at the proxy: %v, want a Range request answered 307", get)
	}
	if get := find(edge, http.MethodGet); get == nil || get.Status != http.StatusPartialContent || !strings.HasPrefix(get.Range, "bytes=") {
		t.Errorf("GET at the endpoint: %v, want a Range request answered 206", get)
	}
}
