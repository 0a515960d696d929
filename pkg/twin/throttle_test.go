package twin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// holdingInvoker keeps every invocation waiting until release is closed,
// so that a test decides when the function's slots are busy.
type holdingInvoker struct {
	next    twin.Invoker
	release chan struct{}
	entered atomic.Int32
}

func (h *holdingInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	h.entered.Add(1)
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.next.Invoke(ctx, event)
}

// A page of thumbnails arrives at once, over HTTP/2, at a function whose
// concurrency is capped. The requests that find a free slot get their
// thumbnail; every other one gets the ALB's throttling answer at once,
// while the slots are still busy: nothing is queued, nothing hangs, and no
// answer is anything else.
func TestBurstAboveConcurrency(t *testing.T) {
	const (
		capacity = 4
		burst    = 32
		// bound is a generous ceiling on any one request, counted, not
		// timed: a request over it is a hang.
		bound = 20 * time.Second
	)
	gw := startVGW(t)
	thumbs := make([][]byte, 8)
	var keys []string
	for i := range thumbs {
		thumbs[i] = bytes.Repeat([]byte{byte(i), 0xd8, 0xff}, 8_000/3)
		keys = append(keys, fmt.Sprintf("shotgun/thumbs/%04d.jpg", i))
		vgwPut(t, gw, keys[i], thumbs[i], "image/jpeg")
	}
	srv := httptest.NewUnstartedServer(nil)
	env := map[string]string{
		"S3PROXY_BUCKET":       vgwBucket,
		"S3PROXY_REGION":       vgwRegion,
		"S3PROXY_SIGNED_HOST":  vgwSignedHost,
		"S3PROXY_UPSTREAM_URL": gw.URL,
		"S3PROXY_ENDPOINT_URL": gw.URL,
	}
	logger := lambdalog.New(t.Output(), slog.LevelWarn)
	cfg, fn := peertest.Function(t, env, gw, logger)
	hold := &holdingInvoker{next: fn, release: make(chan struct{})}
	srv.Config.Handler = twin.New(twin.Options{
		Config: cfg, Invoker: hold, MaxConcurrency: capacity, FunctionTimeout: 30 * time.Second, Logger: logger,
	})
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at Close
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()
	signer := sgurl.NewSigner(gw.Credentials, vgwRegion, vgwBucket, vgwSignedHost)
	urls := make([]string, len(keys))
	for i, k := range keys {
		u, err := signer.Get(context.Background(), k, vgwClientTTL)
		if err != nil {
			t.Fatal(err)
		}
		if urls[i], err = sgurl.Through(srv.URL, u); err != nil {
			t.Fatal(err)
		}
	}

	type result struct {
		i      int
		status int
		proto  string
		server string
		body   []byte
		err    error
		took   time.Duration
	}
	results := make(chan result, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urls[i%len(urls)], nil)
			start := time.Now()
			resp, err := client.Do(req)
			r := result{i: i, err: err}
			if err == nil {
				r.status, r.proto, r.server = resp.StatusCode, resp.Proto, resp.Header.Get("Server")
				r.body, r.err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			r.took = time.Since(start)
			results <- r
		})
	}
	// The throttled answers come back while the slots are still held.
	var early []result
	deadline := time.After(bound)
	for len(early) < burst-capacity {
		select {
		case r := <-results:
			early = append(early, r)
		case <-deadline:
			t.Fatalf("only %d of the %d requests over the cap were answered while the function was busy", len(early), burst-capacity)
		}
	}
	if n := hold.entered.Load(); n != capacity {
		t.Errorf("%d invocations reached the function, want the cap, %d", n, capacity)
	}
	close(hold.release)
	wg.Wait()
	close(results)
	all := append(early, slicesOf(results)...)

	var ok, throttled, other, hung int
	for _, r := range all {
		switch {
		case r.err != nil:
			other++
			t.Errorf("request %d: %v", r.i, r.err)
		case r.took > bound:
			hung++
		case r.status == http.StatusOK:
			ok++
			if want := thumbs[r.i%len(thumbs)]; !bytes.Equal(r.body, want) {
				t.Errorf("request %d: a 200 with %d bytes, not its thumbnail", r.i, len(r.body))
			}
		case r.status == twin.ThrottledStatus && r.server == "awselb/2.0" && bytes.Contains(r.body, []byte("502 Bad Gateway")):
			throttled++
		default:
			other++
			t.Errorf("request %d: status %d (%s), body %.120q", r.i, r.status, r.server, r.body)
		}
		if r.proto != "" && r.proto != "HTTP/2.0" {
			t.Errorf("request %d went over %s, not HTTP/2", r.i, r.proto)
		}
	}
	for _, r := range early {
		if r.status == http.StatusOK {
			t.Errorf("request %d was answered 200 before the function was let run", r.i)
		}
	}
	t.Logf("burst of %d at a cap of %d: %d thumbnails, %d throttled (%d), %d other, %d over %s", burst, capacity, ok, throttled, twin.ThrottledStatus, other, hung, bound)
	if ok != capacity || throttled != burst-capacity || other != 0 || hung != 0 {
		t.Errorf("want %d thumbnails and %d throttled, nothing else", capacity, burst-capacity)
	}

	// With the burst over, a page that fits the cap is served whole.
	for i := range capacity {
		resp, err := client.Get(urls[i])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, thumbs[i]) {
			t.Errorf("after the burst, thumbnail %d: status %d, %d bytes", i, resp.StatusCode, len(body))
		}
	}
}

func slicesOf[T any](c <-chan T) []T {
	var out []T
	for v := range c {
		out = append(out, v)
	}
	return out
}
