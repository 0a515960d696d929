package browser_test

// What a <video> does when the URL the proxy minted for it expires while it
// plays, and playback then seeks. docs/clients.md, "Video playback across a
// minted URL's expiry", reports what this test found.
//
// testdata/clip.webm is 40 s of VP8 at 320×180, 15 fps and a constant
// 200 kbit/s (999,921 bytes, no audio), made with Debian's ffmpeg 5.1:
//
//	ffmpeg -f lavfi -i testsrc2=size=320x180:rate=15:duration=40 \
//	  -vf noise=alls=30:allf=t -c:v libvpx -b:v 200k -minrate 200k -maxrate 200k \
//	  -bufsize 400k -g 30 -an -cues_to_front 1 -fflags +bitexact -flags +bitexact clip.webm
//
// The cues sit at the front, so Chromium can seek by byte offset without a
// request for the file's end; a key frame every 2 s keeps a seek's landing
// close to its target.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// shortTTL is the S3PROXY_REDIRECT_TTL of the twins the expiring cases
	// play through, so the minted URL expires while the video plays.
	shortTTL = 3 * time.Second
	// videoRate is the endpoint's pace for the clips, in bytes a second:
	// about twice their bitrate, so they play without stalling, and slow
	// enough that the first request is still streaming when playback seeks.
	videoRate = 48 << 10
	// seekTo is where playback jumps: byte 819,200 or so of the clip, at
	// least 600 KB past what the first request has delivered by then, far
	// beyond the distance Chromium waits for a running request to cover.
	seekTo = 34.0
	// afterSeek is how long the cases watch once they have seeked. Chromium
	// retries a failed media request 30 times, 0.3 s apart at first and
	// 50 ms more each time, before it reports MEDIA_ERR_NETWORK about 31 s
	// after the seek; 6 s shows the pattern and keeps the test short.
	afterSeek = 6 * time.Second
)

// videoState is what s3t.videoState reports.
type videoState struct {
	CurrentTime  float64 `json:"currentTime"`
	Duration     float64 `json:"duration"`
	Paused       bool    `json:"paused"`
	ReadyState   int     `json:"readyState"`
	NetworkState int     `json:"networkState"`
	Error        *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Buffered [][2]float64 `json:"buffered"`
	Events   []struct {
		Event       string  `json:"event"`
		CurrentTime float64 `json:"currentTime"`
		ReadyState  int     `json:"readyState"`
		Error       int     `json:"error"`
	} `json:"events"`
}

func (s videoState) fired(event string) bool {
	for _, e := range s.Events {
		if e.Event == event {
			return true
		}
	}
	return false
}

// HTMLMediaElement's readyState and error codes.
const (
	haveMetadata    = 1
	haveFutureData  = 3
	mediaErrNetwork = 2
)

// videoCase is one <video> playing one copy of the clip through one twin.
type videoCase struct {
	name    string
	base    string // the twin it plays through
	key     string
	expires bool // the minted URL expires before the seek
	direct  bool // the twin mints /_direct URLs on its own origin

	mint    time.Time // when the minted URL stops being accepted
	minted  string    // the 307's Location (a signature: never printed)
	playing videoState
	seeked  videoState
}

// TestVideoAcrossExpiry plays three videos side by side and seeks each once
// the minted URLs of two of them have expired: through a twin that points
// 307s at the endpoint and through one that points them at /_direct, both
// with a 3 s S3PROXY_REDIRECT_TTL, and through the 5-minute twin as the
// control. It finds that Chromium re-requests the minted URL, never the
// proxy's, so after expiry the seek stalls on S3's 403s; before expiry the
// same seek plays on.
func TestVideoAcrossExpiry(t *testing.T) {
	f := newFixture(t)
	clip, err := os.ReadFile(filepath.Join("testdata", "clip.webm"))
	if err != nil {
		t.Fatal(err)
	}
	viaEndpoint := f.startProxy(t, f.edgeURL, map[string]string{"S3PROXY_REDIRECT_TTL": shortTTL.String()})
	viaProxy := f.startProxy(t, f.edgeURL, map[string]string{"S3PROXY_REDIRECT_TTL": shortTTL.String(), "S3PROXY_REDIRECT_VIA": "proxy"})
	cases := []*videoCase{
		{name: "expired-endpoint", base: viaEndpoint, key: "shots/030/review-e.webm", expires: true},
		{name: "expired-direct", base: viaProxy, key: "shots/030/review-d.webm", expires: true, direct: true},
		{name: "fresh-endpoint", base: f.proxy, key: "shots/030/review-f.webm"},
	}
	for _, c := range cases {
		f.seed(t, c.key, clip, "video/webm")
		f.slow.Store(c.key, videoRate)
	}
	// One page for all three: Chromium defers media in a tab in the
	// background.
	f.chrome = startChrome(t)
	p := f.open(t, f.site)
	p.recordNetwork(t)

	// Play all three, and wait until each has played a second.
	var wg sync.WaitGroup
	for _, c := range cases {
		signed, err := f.signer.Get(context.Background(), c.key, clientTTL)
		u := f.through(t, c.base, signed, err)
		if r := call(t, p, "video", c.name, u); r.Error != nil {
			t.Fatalf("%s: play(): %s\nconsole: %s", c.name, r.Error, r.consoleText())
		}
	}
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.playing = waitVideo(t, p, c.name, 10*time.Second, func(s videoState) bool { return s.CurrentTime >= 1 || s.Error != nil })
		}()
	}
	wg.Wait()
	var lastExpiry time.Time
	for _, c := range cases {
		if c.playing.CurrentTime < 1 {
			t.Fatalf("%s did not play: %+v", c.name, c.playing)
		}
		front := notDirect(f.front.peek(c.key))
		if len(front) != 1 || front[0].Status != http.StatusTemporaryRedirect || front[0].Location == "" {
			t.Fatalf("%s: the proxy saw %v, want one GET answered 307", c.name, front)
		}
		c.minted = front[0].Location
		c.mint = mintExpiry(t, c.minted)
		if c.expires && c.mint.After(lastExpiry) {
			lastExpiry = c.mint
		}
		if !c.expires && time.Until(c.mint) < time.Minute {
			t.Fatalf("%s: the minted URL expires in %v; the control must outlive the test", c.name, time.Until(c.mint))
		}
	}

	// Past the expiry (and S3's clock, which has whole seconds), seek.
	time.Sleep(time.Until(lastExpiry.Add(time.Second)))
	seekAt := time.Now()
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
		var ok bool
		err := p.eval(ctx, "s3t.seek('"+c.name+"', "+strconv.FormatFloat(seekTo, 'f', 1, 64)+")", &ok)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.seeked = waitVideo(t, p, c.name, afterSeek, func(s videoState) bool {
				return !c.expires && s.CurrentTime >= seekTo+1
			})
		}()
	}
	wg.Wait()
	t.Logf("seeked %.1f s after the mints expired", seekAt.Sub(lastExpiry).Seconds())

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { f.checkVideo(t, c, mediaEvents(p.network(), c.key), seekAt) })
	}
}

// checkVideo holds one case to what the measurement found.
func (f *fixture) checkVideo(t *testing.T, c *videoCase, events []netEvent, seekAt time.Time) {
	front, edge := notDirect(f.front.take(c.key)), f.edge.take(c.key)
	defer func() {
		if t.Failed() {
			for _, e := range events {
				t.Logf("chromium: %s", e)
			}
			t.Logf("the proxy saw %v; the endpoint saw %v", front, edge)
		}
	}()
	t.Logf("after the seek: currentTime %.2f, readyState %d, networkState %d, paused %v, error %v, buffered %v",
		c.seeked.CurrentTime, c.seeked.ReadyState, c.seeked.NetworkState, c.seeked.Paused, c.seeked.Error, c.seeked.Buffered)

	// Before and after the seek, the proxy saw the one GET it answered 307:
	// the media element keeps the URL the redirect led to and never asks
	// the proxy again, fresh or expired.
	if len(front) != 1 {
		t.Errorf("the proxy saw %v, want only the first GET: no request came back to the proxy's URL", front)
	}
	mintedPath := "/" + bucket + "/" + c.key
	if c.direct {
		mintedPath = "/_direct" + mintedPath
	}
	// Chromium's own account: the proxy's URL once, then only the minted
	// URL, whose refusals it reports as failed loads.
	sent, failed := 0, 0
	for _, e := range events {
		switch e.Kind {
		case "request":
			want := "/" + c.key
			if sent > 0 {
				want = mintedPath
			}
			if u, err := url.Parse(e.URL); err != nil || u.Path != want {
				t.Errorf("Chromium's media request %d went to %s, want the path %s", sent+1, e.URL, want)
			}
			sent++
		case "failed":
			if !e.Canceled {
				failed++
			}
		}
	}

	// What reached the endpoint after the first request: the seek's.
	if len(edge) < 2 || edge[0].Status != http.StatusPartialContent {
		t.Fatalf("the endpoint saw %v, want the first 206 and the seek's requests", edge)
	}
	later := edge[1:]
	if !c.expires {
		// The control: a new Range request at the minted URL, answered 206,
		// and playback goes on from the seek.
		for _, h := range later {
			if h.Status != http.StatusPartialContent || !strings.HasPrefix(h.Range, "bytes=") {
				t.Errorf("after the seek the endpoint saw %v (Range %s), want Range GETs answered 206", h, h.Range)
			}
		}
		if c.seeked.Error != nil || c.seeked.CurrentTime < seekTo+1 || c.seeked.ReadyState < haveFutureData {
			t.Errorf("the fresh video did not play on from %.0f s: %+v", seekTo, c.seeked)
		}
		return
	}

	// Expired: every request after the seek goes to the expired minted URL
	// with the same Range, S3 refuses each with 403, and Chromium keeps
	// retrying it, never the proxy's URL, while playback stalls.
	for _, h := range later {
		if h.Status != http.StatusForbidden || h.Range != later[0].Range {
			t.Errorf("after expiry the endpoint answered %v (Range %s), want 403 to the same Range", h, h.Range)
		}
	}
	if len(later) < 5 {
		t.Errorf("after expiry the endpoint saw %d requests in %v, want Chromium's retries (at least 5)", len(later), afterSeek)
	}
	// The last refusal may still be on its way to Chromium's report.
	if failed < len(later)-1 {
		t.Errorf("Chromium reported %d failed media requests, want one for each of the %d refused", failed, len(later))
	}
	if c.seeked.CurrentTime >= seekTo+0.5 || c.seeked.ReadyState > haveMetadata || !c.seeked.fired("waiting") {
		t.Errorf("the expired video played on after the seek: %+v", c.seeked)
	}
	if e := c.seeked.Error; e != nil && e.Code != mediaErrNetwork {
		t.Errorf("media error %d (%s), want none yet, or MEDIA_ERR_NETWORK", e.Code, e.Message)
	}
	// And the refusal is S3's expiry, not anything else about the URL.
	f.wantExpired(t, c.minted)
	t.Logf("%d requests to the expired URL in %v, all 403; stalled: %v", len(later), time.Since(seekAt).Round(100*time.Millisecond), c.seeked.fired("stalled"))
}

// wantExpired checks that S3 refuses the minted URL because it has
// expired.
func (f *fixture) wantExpired(t *testing.T, minted string) {
	t.Helper()
	u, err := url.Parse(minted)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(u.Path, "/_direct/") {
		// The ALB's /_direct rule: the same URL, on the endpoint.
		u.Path = strings.TrimPrefix(u.Path, "/_direct")
		u.RawPath = ""
	}
	u.Scheme, u.Host = f.edgeURL.Scheme, f.edgeURL.Host
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = f.edgeURL.Host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(strings.ToLower(string(body)), "expired") {
		t.Errorf("the minted URL now gets %d %.200s, want 403 for expiry", resp.StatusCode, body)
	}
}

// mintExpiry is when a minted URL stops being accepted: X-Amz-Date plus
// X-Amz-Expires.
func mintExpiry(t *testing.T, location string) time.Time {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	at, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date of the minted URL: %v", err)
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		t.Fatalf("X-Amz-Expires of the minted URL: %v", err)
	}
	return at.Add(time.Duration(secs) * time.Second)
}

// notDirect drops the hops on /_direct: those the proxy's origin carried
// to the endpoint for a minted URL, which the endpoint saw too.
func notDirect(hops []hop) []hop {
	var out []hop
	for _, h := range hops {
		if !strings.HasPrefix(h.Path, "/_direct/") {
			out = append(out, h)
		}
	}
	return out
}

// mediaEvents are the events of the media requests for key: those whose
// request names it.
func mediaEvents(all []netEvent, key string) []netEvent {
	mine := map[string]bool{}
	for _, e := range all {
		if e.Type == "Media" && e.Kind == "request" && strings.HasSuffix(e.URL, "/"+key) {
			mine[e.ID] = true
		}
	}
	var out []netEvent
	for _, e := range all {
		if mine[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// waitVideo polls the named media element until done holds or d passes,
// and returns its last state with every event it fired meanwhile.
func waitVideo(t *testing.T, p *page, name string, d time.Duration, done func(videoState) bool) videoState {
	t.Helper()
	deadline := time.Now().Add(d)
	var events []struct {
		Event       string  `json:"event"`
		CurrentTime float64 `json:"currentTime"`
		ReadyState  int     `json:"readyState"`
		Error       int     `json:"error"`
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
		var s videoState
		err := p.eval(ctx, "s3t.videoState('"+name+"')", &s)
		cancel()
		if err != nil {
			t.Errorf("s3t.videoState: %v", err)
			return s
		}
		events = append(events, s.Events...)
		s.Events = events
		if done(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}
