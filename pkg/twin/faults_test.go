package twin_test

// Faults: the proxy in front of an upstream that misbehaves on
// purpose. Every case has a defined answer, reached in bounded time, and
// the whole run leaves no goroutine behind.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	faultTimeout   = 2 * time.Second // the function's Timeout
	faultInlineMax = 64 << 10
	faultLargeSize = 64 << 20 // what the upstream declares for an unrequested whole object
)

// faultMode is how the fake upstream answers its next requests.
type faultMode int

const (
	faultHang         faultMode = iota // read the request, never answer
	fault500                           // 500 InternalError
	fault503                           // 503 SlowDown
	faultCut                           // declare 500 bytes, send 100, close
	faultFullSmall                     // ignore Range: 200 with a whole 1,000-byte object
	faultFullLarge                     // ignore Range: 200 with a whole 64 MiB object
	faultSlowDownOnce                  // 503 SlowDown to the first request, then as faultFullSmall
)

// faultUpstream is a raw TCP server playing a broken S3. It records, per
// request, the Range it was sent, how many body bytes it managed to write
// and whether the proxy closed the connection on it.
type faultUpstream struct {
	ln   net.Listener
	wg   sync.WaitGroup
	stop chan struct{}

	mu    sync.Mutex
	mode  faultMode
	conns map[net.Conn]bool
	seen  []faultSeen
	// gen counts setMode calls: a request still being answered from an
	// earlier case (the emulator lets an abandoned invocation run on) must
	// not write into the new case's record.
	gen int
}

type faultSeen struct {
	rng      string
	written  int64
	peerGone bool // the proxy closed the connection before the fake finished
	at       time.Time
	done     time.Time
}

func startFaultUpstream(t *testing.T) *faultUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &faultUpstream{ln: ln, stop: make(chan struct{}), conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go f.accept()
	return f
}

func (f *faultUpstream) url() string { return "http://" + f.ln.Addr().String() }

func (f *faultUpstream) setMode(m faultMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.seen = m, nil
	f.gen++
}

func (f *faultUpstream) requests() []faultSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]faultSeen(nil), f.seen...)
}

func (f *faultUpstream) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

// close stops the server and every connection, and waits for its
// goroutines.
func (f *faultUpstream) close() {
	close(f.stop)
	_ = f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *faultUpstream) serve(c net.Conn) {
	defer f.wg.Done()
	defer func() {
		_ = c.Close()
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		f.mu.Lock()
		mode := f.mode
		f.seen = append(f.seen, faultSeen{rng: req.Header.Get("Range"), at: time.Now()})
		i, gen := len(f.seen)-1, f.gen
		f.mu.Unlock()
		if mode == faultSlowDownOnce {
			mode = faultFullSmall
			if i == 0 {
				mode = fault503
			}
		}
		written, gone, keep := f.answer(c, br, mode)
		f.mu.Lock()
		if f.gen == gen {
			f.seen[i].written, f.seen[i].peerGone, f.seen[i].done = written, gone, time.Now()
		}
		f.mu.Unlock()
		if !keep {
			return
		}
	}
}

// answer writes the mode's response; keep says whether the connection may
// serve another request.
func (f *faultUpstream) answer(c net.Conn, br *bufio.Reader, mode faultMode) (written int64, peerGone, keep bool) {
	xmlErr := func(status int, code string) {
		body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>` + code + `</Code><Message>fault injected</Message></Error>`
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s", status, http.StatusText(status), len(body), body)
	}
	switch mode {
	case faultHang:
		// Wait for the proxy to give up (it closes the connection) or for
		// the test to end.
		done := make(chan struct{})
		go func() {
			_, _ = br.ReadByte()
			close(done)
		}()
		select {
		case <-done:
			return 0, true, false
		case <-f.stop:
			_ = c.Close()
			<-done
			return 0, false, false
		}
	case fault500:
		xmlErr(500, "InternalError")
		return 0, false, true
	case fault503:
		xmlErr(503, "SlowDown")
		return 0, false, true
	case faultCut:
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 500\r\nETag: \"cut\"\r\n\r\n")
		n, _ := c.Write(bytes.Repeat([]byte("c"), 100))
		return int64(n), false, false
	case faultFullSmall:
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\nETag: \"small\"\r\n\r\n")
		n, _ := c.Write(bytes.Repeat([]byte("s"), 1000))
		return int64(n), false, true
	case faultFullLarge:
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\nETag: \"large\"\r\n\r\n", faultLargeSize)
		chunk := bytes.Repeat([]byte("L"), 32<<10)
		for written < faultLargeSize {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Write(chunk)
			written += int64(n)
			if err != nil {
				return written, true, false
			}
		}
		return written, false, true
	}
	return 0, false, false
}

// faultInvoker wraps the in-process function to time each invocation.
type faultInvoker struct {
	next twin.Invoker
	mu   sync.Mutex
	ends []time.Time
}

func (i *faultInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	defer func() {
		i.mu.Lock()
		i.ends = append(i.ends, time.Now())
		i.mu.Unlock()
	}()
	return i.next.Invoke(ctx, event)
}

func (i *faultInvoker) returned() []time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]time.Time(nil), i.ends...)
}

// faultStack is the twin in front of one upstream URL.
type faultStack struct {
	srv      *httptest.Server
	upstream *http.Client
	invoker  *faultInvoker
	signer   *sgurl.Signer
	logs     *peertest.Output
}

func newFaultStack(t *testing.T, upstreamURL string, logs *peertest.Output) *faultStack {
	t.Helper()
	env := map[string]string{
		"S3PROXY_BUCKET":           hostileBucket,
		"S3PROXY_REGION":           hostileRegion,
		"S3PROXY_SIGNED_HOST":      hostileSignedHost,
		"S3PROXY_UPSTREAM_URL":     upstreamURL,
		"S3PROXY_ENDPOINT_URL":     "https://bucket.vpce-0fault.s3.us-east-1.vpce.amazonaws.com",
		"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(faultInlineMax),
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider("AKIAFAULTFUNCTION000", "faultFunctionSecretKey0123456789abcdefghij", "")
	awsCfg := aws.Config{Region: hostileRegion, Credentials: creds}
	logger := lambdalog.New(logs, slog.LevelDebug)
	st := &faultStack{upstream: proxy.NewUpstreamClient(), logs: logs}
	h := proxy.New(cfg, proxy.Deps{
		Upstream: st.upstream, Signer: proxy.NewSigner(awsCfg, cfg), Credentials: creds,
		Logger: logger, RequestID: lambdalog.RequestID,
	})
	var fn twin.Invoker = twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithRefused(h.Refused))}
	if peertest.ProcessMode() {
		// The real bootstrap, with the same timeout as the twin gives the
		// in-process function, so its deadline arithmetic is what is tested.
		vars := maps.Clone(env)
		vars["S3PROXY_LOG_LEVEL"] = "debug"
		vars["AWS_REGION"], vars["AWS_ACCESS_KEY_ID"] = hostileRegion, "AKIAFAULTFUNCTION000"
		vars["AWS_SECRET_ACCESS_KEY"] = "faultFunctionSecretKey0123456789abcdefghij"
		fn = peertest.StartFunctionWith(t, vars, peertest.FunctionOptions{Output: logs, Timeout: faultTimeout})
	}
	st.invoker = &faultInvoker{next: fn}
	st.srv = httptest.NewServer(twin.New(twin.Options{Config: cfg, Invoker: st.invoker, FunctionTimeout: faultTimeout, Logger: logger}))
	clientCreds := credentials.NewStaticCredentialsProvider("ASIAFAULTCLIENT00000", "faultClientSecretKey0123456789abcdefghijk", "faultClientSessionToken/+=value")
	st.signer = sgurl.NewSigner(clientCreds, hostileRegion, hostileBucket, hostileSignedHost)
	return st
}

func (st *faultStack) close() {
	st.srv.Close()
	st.upstream.CloseIdleConnections()
}

func (st *faultStack) url(t *testing.T, key string) string {
	t.Helper()
	signed, err := st.signer.Get(context.Background(), key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, err := sgurl.Through(st.srv.URL, signed)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// faultClient never follows redirects and keeps no connections.
func faultClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

func faultGet(t *testing.T, c *http.Client, u string) (hostileResponse, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return hostileResponse{status: resp.StatusCode, header: resp.Header, body: body}, time.Since(start)
}

// faultWantS3Error asserts an S3 XML error from the function (not the
// ALB's HTML page) with no Location.
func faultWantS3Error(t *testing.T, r hostileResponse, status int, code string) {
	t.Helper()
	if r.header.Get("Server") == "awselb/2.0" {
		t.Fatalf("the load balancer answered %d itself (the function was killed or failed); want the function's %d %s", r.status, status, code)
	}
	var x struct {
		XMLName xml.Name
		Code    string `xml:"Code"`
	}
	if err := xml.Unmarshal(r.body, &x); err != nil || x.XMLName.Local != "Error" {
		t.Errorf("body is not an S3 <Error> (%v): %.300q", err, r.body)
	}
	if r.status != status || x.Code != code {
		t.Errorf("got %d %s, want %d %s; body %.300q", r.status, x.Code, status, code, r.body)
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("Location %q on a failed request", vgwRedact(loc))
	}
}

func TestFaults(t *testing.T) {
	leak := faultGoroutines()
	logs := &peertest.Output{}
	up := startFaultUpstream(t)
	st := newFaultStack(t, up.url(), logs)

	// A closed port: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	_ = ln.Close()
	refused := newFaultStack(t, closedURL, logs)
	c := faultClient()

	t.Run("connection refused", func(t *testing.T) {
		r, took := faultGet(t, c, refused.url(t, "shotgun/a.mov"))
		faultWantS3Error(t, r, 503, "ServiceUnavailable")
		if took > time.Second {
			t.Errorf("took %v to answer a refused connection, want < 1s", took)
		}
		if !strings.Contains(logs.String(), `"upstreamAttempts":3`) {
			t.Errorf("no request line records 3 upstream attempts for the refused connection")
		}
	})

	t.Run("hangs past the deadline", func(t *testing.T) {
		up.setMode(faultHang)
		r, took := faultGet(t, c, st.url(t, "shotgun/a.mov"))
		faultWantS3Error(t, r, 503, "ServiceUnavailable")
		// The function gives up at its deadline less half a second and
		// answers itself, inside the invocation: never the ALB's 502.
		if took >= faultTimeout || took < faultTimeout-time.Second {
			t.Errorf("answered after %v, want between %v and the %v function timeout", took, faultTimeout-time.Second, faultTimeout)
		}
		faultWaitPeerGone(t, up, "the hung upstream connection")
	})

	for _, tc := range []struct {
		mode   faultMode
		status int
		code   string
	}{{fault500, 500, "InternalError"}, {fault503, 503, "SlowDown"}} {
		t.Run(fmt.Sprintf("upstream answers %d", tc.status), func(t *testing.T) {
			up.setMode(tc.mode)
			r, took := faultGet(t, c, st.url(t, "shotgun/a.mov"))
			// Tried three times within the deadline, then passed through:
			// S3's own answer, not one the proxy made up.
			faultWantS3Error(t, r, tc.status, tc.code)
			if took > time.Second {
				t.Errorf("took %v, want < 1s", took)
			}
			seen := up.requests()
			if len(seen) != 3 {
				t.Errorf("%d upstream requests, want 3 (the first and two retries)", len(seen))
			}
			if len(seen) > 1 && seen[1].at.Sub(seen[0].at) < 50*time.Millisecond {
				t.Errorf("retried after %v, want a backoff of at least 50ms", seen[1].at.Sub(seen[0].at))
			}
		})
	}

	t.Run("upstream answers SlowDown once, then the object", func(t *testing.T) {
		up.setMode(faultSlowDownOnce)
		r, _ := faultGet(t, c, st.url(t, "shotgun/a.mov"))
		if r.status != 200 || !bytes.Equal(r.body, bytes.Repeat([]byte("s"), 1000)) {
			t.Errorf("got %d with %d bytes (%.200s); want 200 with the object the retry got", r.status, len(r.body), r.body)
		}
		seen := up.requests()
		if len(seen) != 2 || seen[1].rng != seen[0].rng {
			t.Errorf("upstream saw %+v, want the same request twice", seen)
		}
		if !strings.Contains(logs.String(), `"upstreamAttempts":2`) {
			t.Errorf("no request line records 2 upstream attempts")
		}
	})

	t.Run("a relayed write is never sent twice", func(t *testing.T) {
		up.setMode(fault503)
		signed, err := st.signer.Put(context.Background(), "shotgun/upload.mov", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		u, err := sgurl.Through(st.srv.URL, signed)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPut, u, strings.NewReader("the only copy of the body"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("PUT: status %d, want S3's 503 passed on", resp.StatusCode)
		}
		if n := len(up.requests()); n != 1 {
			t.Errorf("%d upstream requests for one PUT, want 1", n)
		}
	})

	t.Run("body cut mid-stream", func(t *testing.T) {
		up.setMode(faultCut)
		r, took := faultGet(t, c, st.url(t, "shotgun/a.mov"))
		faultWantS3Error(t, r, 503, "ServiceUnavailable")
		if bytes.Contains(r.body, []byte("ccccc")) {
			t.Error("the partial body reached the client")
		}
		if took > time.Second {
			t.Errorf("took %v, want < 1s", took)
		}
	})

	t.Run("unrequested 200 to the probe, small object", func(t *testing.T) {
		up.setMode(faultFullSmall)
		r, took := faultGet(t, c, st.url(t, "shotgun/a.mov"))
		if r.status != 200 || !bytes.Equal(r.body, bytes.Repeat([]byte("s"), 1000)) || r.header.Get("Location") != "" {
			t.Errorf("got %d with %d bytes, Location %q; want 200 with the 1000-byte object inline", r.status, len(r.body), r.header.Get("Location"))
		}
		if seen := up.requests(); len(seen) != 1 || seen[0].rng != "bytes=0-"+strconv.Itoa(faultInlineMax-1) {
			t.Errorf("upstream saw %+v, want one probe with Range bytes=0-%d", seen, faultInlineMax-1)
		}
		if took > time.Second {
			t.Errorf("took %v, want < 1s", took)
		}
	})

	t.Run("unrequested 200 to the probe, large object", func(t *testing.T) {
		up.setMode(faultFullLarge)
		r, took := faultGet(t, c, st.url(t, "shotgun/big.mov"))
		if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") == "" || len(r.body) != 0 {
			t.Fatalf("got %d with %d bytes, Location %q; want a 307 with no body", r.status, len(r.body), vgwRedact(r.header.Get("Location")))
		}
		if took > 2*time.Second {
			t.Errorf("took %v, want < 2s", took)
		}
		// The proxy closed the upstream body unread: the fake's writes
		// failed long before the 64 MiB it declared.
		seen := faultWaitPeerGone(t, up, "the large unrequested body")
		if seen.written >= faultLargeSize/2 {
			t.Errorf("the upstream wrote %d of %d bytes before the proxy hung up; want a small fraction", seen.written, faultLargeSize)
		}
		t.Logf("upstream wrote %d bytes (%.1f%% of the object, socket buffers included) before the proxy closed the connection",
			seen.written, 100*float64(seen.written)/faultLargeSize)
	})

	t.Run("client disconnects while the upstream hangs", func(t *testing.T) {
		up.setMode(faultHang)
		before := len(st.invoker.returned())
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.url(t, "shotgun/a.mov"), nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		// Wait for the request to reach the upstream, then walk away.
		deadline := time.Now().Add(time.Second)
		for len(up.requests()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if len(up.requests()) == 0 {
			t.Fatal("the request never reached the upstream")
		}
		cancelled := time.Now()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("client error %v, want context.Canceled", err)
		}
		// The invocation ends with the client, well before its deadline.
		for time.Since(cancelled) < faultTimeout && len(st.invoker.returned()) == before {
			time.Sleep(5 * time.Millisecond)
		}
		ends := st.invoker.returned()
		if len(ends) == before {
			t.Fatalf("the invocation was still running %v after the client left", faultTimeout)
		}
		if took := ends[len(ends)-1].Sub(cancelled); took > 500*time.Millisecond {
			t.Errorf("the invocation ended %v after the client left, want < 500ms", took)
		}
		faultWaitPeerGone(t, up, "the abandoned request's upstream connection")
	})

	// Nothing secret in the logs of any of it.
	for _, s := range []string{"faultClientSessionToken", "faultClientSecretKey", "faultFunctionSecretKey", "X-Amz-Signature"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs carry %q", s)
		}
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("a panic was logged: %s", logs.String())
	}

	st.close()
	refused.close()
	up.close()
	c.CloseIdleConnections()
	if !peertest.ProcessMode() {
		// Under the emulator the function's goroutines live in the
		// bootstrap process; only the in-process function can be checked.
		leak(t)
	}
}

// faultWaitPeerGone waits for the fake to see the proxy close the last
// connection, and returns what it recorded.
func faultWaitPeerGone(t *testing.T, up *faultUpstream, what string) faultSeen {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		seen := up.requests()
		if len(seen) > 0 && !seen[len(seen)-1].done.IsZero() {
			if !seen[len(seen)-1].peerGone {
				t.Errorf("%s: the proxy did not close the connection", what)
			}
			return seen[len(seen)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the proxy still holds the upstream connection after 2s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// faultGoroutines records the goroutines running now; the returned check
// fails the test if others are still running once things have had time to
// settle, and lists their stacks.
func faultGoroutines() func(t *testing.T) {
	before := faultStacks()
	return func(t *testing.T) {
		t.Helper()
		var extra []string
		for deadline := time.Now().Add(5 * time.Second); ; {
			extra = extra[:0]
			for id, stack := range faultStacks() {
				if _, ok := before[id]; !ok && !faultBenign(stack) {
					extra = append(extra, stack)
				}
			}
			if len(extra) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			t.Errorf("%d goroutines leaked:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
		}
	}
}

// faultBenign are goroutines the runtime starts lazily on its own.
func faultBenign(stack string) bool {
	return strings.Contains(stack, "os/signal.signal_recv") || strings.Contains(stack, "runtime.ensureSigM")
}

func faultStacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
		out[id] = g
	}
	return out
}
