package browser_test

// Headless Chromium, driven over the DevTools protocol (CDP) with the
// standard library only: a minimal RFC 6455 WebSocket client (handshake,
// masked client text frames, fragmented and control server frames) and a
// request/response multiplexer with flattened target sessions. Nothing here
// downloads a browser; Debian's chromium is installed by
// scripts/install-deps.sh.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

const (
	// chromeStartTimeout bounds Chromium's start until its DevTools socket
	// answers.
	chromeStartTimeout = 30 * time.Second
	// cdpCallTimeout bounds one DevTools command that is not given a
	// tighter context.
	cdpCallTimeout = 30 * time.Second
	// stopGrace is how long Chromium has to exit after SIGTERM before its
	// process group is killed.
	stopGrace = 5 * time.Second
	// maxMessage bounds one WebSocket message from the browser.
	maxMessage = 64 << 20
)

// chromeFlags are how Chromium must be started on these machines: headless,
// without a sandbox (root), and with every background service off, so that
// it never tries to reach a host outside loopback.
var chromeFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
	"--no-proxy-server", "--mute-audio", "--password-store=basic", "--use-mock-keychain",
}

// chrome is a running browser and a CDP connection to it.
type chrome struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *peertest.Output
	cdp  *cdpConn
}

// startChrome runs Chromium with a fresh profile in t.TempDir() and the
// DevTools server on a free loopback port (port 0: Chromium picks one and
// writes it to DevToolsActivePort, so there is no race for the port). It is
// stopped by its process group in t.Cleanup.
func startChrome(t *testing.T) *chrome {
	t.Helper()
	bin := peertest.Binary(t, "chromium")
	profile := t.TempDir()
	args := append(append([]string(nil), chromeFlags...),
		"--user-data-dir="+profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"about:blank")
	cmd := exec.Command(bin, args...)
	cmd.Env = chromeEnv(profile)
	out := &peertest.Output{Max: 32 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so the renderer, GPU and utility processes go
	// with it; and killed by the kernel should the test binary die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Zygote children handed to init may hold the output pipes open.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	c := &chrome{cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("chromium (pid %d) output:\n%s", cmd.Process.Pid, strings.TrimSpace(out.String()))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), chromeStartTimeout)
	defer cancel()
	wsURL, err := c.devToolsURL(ctx, profile)
	if err != nil {
		t.Fatalf("chromium did not start: %v\n%s", err, out.String())
	}
	if c.cdp, err = dialCDP(ctx, wsURL); err != nil {
		t.Fatalf("connecting to chromium's DevTools at %s: %v", wsURL, err)
	}
	var v struct {
		Product string `json:"product"`
	}
	if err := c.cdp.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		t.Fatalf("Browser.getVersion: %v", err)
	}
	t.Logf("browser: %s (pid %d)", v.Product, cmd.Process.Pid)
	return c
}

// chromeEnv is the test's environment without proxy settings, with HOME in
// the profile so nothing of the user's is read or written.
func chromeEnv(profile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(strings.ToLower(k), "_proxy") || k == "HOME" || k == "CHROMIUM_FLAGS" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+profile)
}

// devToolsURL waits for Chromium to write DevToolsActivePort (port, then
// the browser target's path) and returns the browser's WebSocket URL.
func (c *chrome) devToolsURL(ctx context.Context, profile string) (string, error) {
	path := filepath.Join(profile, "DevToolsActivePort")
	for {
		if b, err := os.ReadFile(path); err == nil {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) == 2 {
				return "ws://127.0.0.1:" + strings.TrimSpace(lines[0]) + strings.TrimSpace(lines[1]), nil
			}
		}
		select {
		case <-c.done:
			return "", fmt.Errorf("chromium exited: %v", c.cmd.ProcessState)
		case <-ctx.Done():
			return "", fmt.Errorf("no %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends Chromium: Browser.close first, so that it ends and reaps its
// own renderer and utility processes; then, for whatever is left after
// stopGrace, SIGTERM and SIGKILL to its process group. Only the group this
// test started is signalled.
func (c *chrome) stop() {
	if c.cdp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		_ = c.cdp.call(ctx, "", "Browser.close", nil, nil)
		cancel()
		c.cdp.close()
	}
	pgid := c.cmd.Process.Pid
	select {
	case <-c.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(stopGrace):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // anything of the group left behind
	<-c.done
}

// ---- a page ------------------------------------------------------------------

// page is a browser tab attached as a flattened CDP session.
type page struct {
	c        *cdpConn
	session  string
	targetID string
	mu       sync.Mutex
	console  []string // Log.entryAdded and Runtime.consoleAPICalled texts
	// net is what the Network domain reported, once recordNetwork has
	// enabled it; netStart is when it did.
	net      []netEvent
	netStart time.Time
	// The main frame's last navigation and how many load events it fired.
	frame frameInfo
	loads int
}

// frameInfo is the main frame's document as Page.frameNavigated reports it.
type frameInfo struct {
	URL            string `json:"url"`
	SecurityOrigin string `json:"securityOrigin"`
	MimeType       string `json:"mimeType"`
	ParentID       string `json:"parentId"`
}

// newPage opens a blank tab and attaches to it.
func (c *chrome) newPage(t *testing.T) *page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cdpCallTimeout)
	defer cancel()
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := c.cdp.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		t.Fatalf("Target.createTarget: %v", err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.cdp.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatalf("Target.attachToTarget: %v", err)
	}
	p := &page{c: c.cdp, session: attached.SessionID, targetID: created.TargetID}
	c.cdp.subscribe(p.session, p.event)
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := c.cdp.call(ctx, p.session, m, nil, nil); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	// The suite's own requests must reach the servers, never the cache.
	if err := c.cdp.call(ctx, p.session, "Network.setCacheDisabled", map[string]any{"cacheDisabled": true}, nil); err != nil {
		t.Logf("Network.setCacheDisabled: %v (fetches use cache: 'no-store' anyway)", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.cdp.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": created.TargetID}, nil)
	})
	return p
}

func (p *page) event(method string, params json.RawMessage) {
	switch {
	case strings.HasPrefix(method, "Network."):
		p.networkEvent(method, params)
		return
	case method == "Page.frameNavigated":
		var e struct {
			Frame frameInfo `json:"frame"`
		}
		if json.Unmarshal(params, &e) == nil && e.Frame.ParentID == "" {
			p.mu.Lock()
			p.frame = e.Frame
			p.mu.Unlock()
		}
		return
	case method == "Page.loadEventFired":
		p.mu.Lock()
		p.loads++
		p.mu.Unlock()
		return
	}
	var text string
	switch method {
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		if json.Unmarshal(params, &e) == nil {
			text = fmt.Sprintf("[%s %s] %s", e.Entry.Source, e.Entry.Level, e.Entry.Text)
		}
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value any `json:"value"`
			} `json:"args"`
		}
		if json.Unmarshal(params, &e) == nil {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, fmt.Sprint(a.Value))
			}
			text = fmt.Sprintf("[console %s] %s", e.Type, strings.Join(parts, " "))
		}
	default:
		return
	}
	p.mu.Lock()
	p.console = append(p.console, redactText(text))
	p.mu.Unlock()
}

// takeConsole returns and clears the messages the page logged.
func (p *page) takeConsole() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.console
	p.console = nil
	return out
}

// ---- the network, as the browser saw it ----------------------------------------

// netEvent is one Network domain event about one request, as Chromium
// reported it: the request sent (or a redirect followed), its response, or
// its failure.
type netEvent struct {
	At       time.Duration // since recordNetwork
	Kind     string        // "request", "redirect", "response", "failed", "finished"
	ID       string        // Chromium's requestId; a redirect keeps it
	URL      string        // without its query (it holds a signature)
	Type     string        // the resource type: Media, Document, Image, Fetch…
	Range    string        // the request's Range header
	Status   int           // the response's (or, for a redirect, the redirect's) status
	Error    string        // loadingFailed's errorText
	Canceled bool          // loadingFailed's canceled: the page gave up on it
}

func (e netEvent) String() string {
	s := fmt.Sprintf("%6.2fs %-8s #%s %s %s", e.At.Seconds(), e.Kind, e.ID, e.Type, e.URL)
	if e.Range != "" {
		s += " Range=" + e.Range
	}
	if e.Status != 0 {
		s += fmt.Sprintf(" -> %d", e.Status)
	}
	if e.Error != "" {
		s += " error=" + e.Error
	}
	if e.Canceled {
		s += " (canceled)"
	}
	return s
}

// recordNetwork enables the Network domain for the page and starts keeping
// its events.
func (p *page) recordNetwork(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	p.net, p.netStart = nil, time.Now()
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cdpCallTimeout)
	defer cancel()
	if err := p.c.call(ctx, p.session, "Network.enable", nil, nil); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
}

// network returns a copy of the events recorded so far.
func (p *page) network() []netEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]netEvent(nil), p.net...)
}

func (p *page) networkEvent(method string, params json.RawMessage) {
	var e struct {
		RequestID string `json:"requestId"`
		Type      string `json:"type"`
		Request   struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"request"`
		RedirectResponse *struct {
			Status int    `json:"status"`
			URL    string `json:"url"`
		} `json:"redirectResponse"`
		Response struct {
			Status int    `json:"status"`
			URL    string `json:"url"`
		} `json:"response"`
		ErrorText string `json:"errorText"`
		Canceled  bool   `json:"canceled"`
	}
	if json.Unmarshal(params, &e) != nil {
		return
	}
	var evs []netEvent
	switch method {
	case "Network.requestWillBeSent":
		if r := e.RedirectResponse; r != nil {
			evs = append(evs, netEvent{Kind: "redirect", URL: redact(r.URL), Status: r.Status})
		}
		rng := ""
		for k, v := range e.Request.Headers {
			if strings.EqualFold(k, "range") {
				rng = v
			}
		}
		evs = append(evs, netEvent{Kind: "request", URL: redact(e.Request.URL), Range: rng})
	case "Network.responseReceived":
		evs = append(evs, netEvent{Kind: "response", URL: redact(e.Response.URL), Status: e.Response.Status})
	case "Network.loadingFailed":
		evs = append(evs, netEvent{Kind: "failed", Error: e.ErrorText, Canceled: e.Canceled})
	case "Network.loadingFinished":
		evs = append(evs, netEvent{Kind: "finished"})
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.netStart.IsZero() {
		return
	}
	at := time.Since(p.netStart)
	for _, ev := range evs {
		ev.At, ev.ID, ev.Type = at, e.RequestID, e.Type
		p.net = append(p.net, ev)
	}
}

// load navigates the tab to u, as a user opening a link does, and waits
// for the document's load event. It returns the main frame's document:
// where redirects led, and the origin Chromium gave it. It runs nothing in
// the page, so it works on a document that may run no script.
func (p *page) load(ctx context.Context, u string) (frameInfo, error) {
	p.mu.Lock()
	loads := p.loads
	p.frame = frameInfo{}
	p.mu.Unlock()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.c.call(ctx, p.session, "Page.navigate", map[string]any{"url": u}, &nav); err != nil {
		return frameInfo{}, err
	}
	if nav.ErrorText != "" {
		return frameInfo{}, fmt.Errorf("navigating to %s: %s", redact(u), nav.ErrorText)
	}
	for {
		p.mu.Lock()
		done, f := p.loads > loads && p.frame.URL != "", p.frame
		p.mu.Unlock()
		if done {
			return f, nil
		}
		select {
		case <-ctx.Done():
			return f, fmt.Errorf("%s did not load: %w", redact(u), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// title is the tab's title, as the browser shows it: a script that sets
// document.title changes it.
func (p *page) title(ctx context.Context) (string, error) {
	var info struct {
		TargetInfo struct {
			Title string `json:"title"`
		} `json:"targetInfo"`
	}
	err := p.c.call(ctx, "", "Target.getTargetInfo", map[string]any{"targetId": p.targetID}, &info)
	return info.TargetInfo.Title, err
}

// navigate loads u and waits until the page's script has defined ready.
func (p *page) navigate(ctx context.Context, u, ready string) error {
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.c.call(ctx, p.session, "Page.navigate", map[string]any{"url": u}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", u, nav.ErrorText)
	}
	for {
		var ok bool
		if err := p.eval(ctx, "document.readyState === 'complete' && typeof "+ready+" !== 'undefined'", &ok); err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", u, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// eval evaluates expr in the page, awaiting it when it is a promise, and
// decodes its JSON value into out.
func (p *page) eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	params := map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}
	if err := p.c.call(ctx, p.session, "Runtime.evaluate", params, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("uncaught in the page: %s %s", e.Text, e.Exception.Description)
	}
	if out == nil {
		return nil
	}
	if len(res.Result.Value) == 0 {
		return fmt.Errorf("the page returned no value (type %s)", res.Result.Type)
	}
	return json.Unmarshal(res.Result.Value, out)
}

// ---- the DevTools protocol ---------------------------------------------------

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error,omitempty"`
}

// cdpConn multiplexes commands and events over one WebSocket to the
// browser target; page sessions are flattened onto it.
type cdpConn struct {
	ws       *wsConn
	mu       sync.Mutex
	next     int64
	pending  map[int64]chan cdpMessage
	handlers map[string]func(method string, params json.RawMessage)
	closed   chan struct{}
	err      error
}

func dialCDP(ctx context.Context, wsURL string) (*cdpConn, error) {
	ws, err := dialWebSocket(ctx, wsURL)
	if err != nil {
		return nil, err
	}
	c := &cdpConn{ws: ws, pending: map[int64]chan cdpMessage{}, handlers: map[string]func(string, json.RawMessage){}, closed: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *cdpConn) readLoop() {
	var err error
	defer func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.closed)
	}()
	for {
		var b []byte
		if b, err = c.ws.read(); err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		c.mu.Lock()
		if m.ID != 0 {
			if ch := c.pending[m.ID]; ch != nil {
				delete(c.pending, m.ID)
				ch <- m
			}
			c.mu.Unlock()
			continue
		}
		h := c.handlers[m.SessionID]
		c.mu.Unlock()
		if h != nil && m.Method != "" {
			h(m.Method, m.Params)
		}
	}
}

func (c *cdpConn) subscribe(session string, h func(string, json.RawMessage)) {
	c.mu.Lock()
	c.handlers[session] = h
	c.mu.Unlock()
}

// call sends one command (to session, or to the browser when "") and
// decodes its result into out, bounded by ctx or cdpCallTimeout.
func (c *cdpConn) call(ctx context.Context, session, method string, params, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cdpCallTimeout)
		defer cancel()
	}
	var raw json.RawMessage
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return err
		}
		raw = b
	}
	ch := make(chan cdpMessage, 1)
	c.mu.Lock()
	if c.err != nil || isClosed(c.closed) {
		c.mu.Unlock()
		return fmt.Errorf("%s: the DevTools connection is closed: %v", method, c.err)
	}
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()
	b, err := json.Marshal(cdpMessage{ID: id, SessionID: session, Method: method, Params: raw})
	if err != nil {
		return err
	}
	if err := c.ws.writeText(b); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d) %s", method, m.Error.Message, m.Error.Code, m.Error.Data)
		}
		if out != nil && len(m.Result) > 0 {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-c.closed:
		return fmt.Errorf("%s: the DevTools connection closed: %v", method, c.err)
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (c *cdpConn) close() {
	_ = c.ws.close()
	<-c.closed
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ---- a minimal WebSocket client (RFC 6455) -----------------------------------

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

type wsConn struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex
}

// dialWebSocket performs the opening handshake. It sends no Origin header,
// which is what lets a non-browser client past Chromium's
// --remote-allow-origins check.
func dialWebSocket(ctx context.Context, raw string) (*wsConn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("unsupported WebSocket URL %q", raw)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, fmt.Errorf("handshake refused: %s", resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	return &wsConn{conn: conn, br: br}, nil
}

// writeFrame sends one final frame, masked as RFC 6455 requires of clients.
func (w *wsConn) writeFrame(opcode byte, payload []byte) error {
	var hdr [14]byte
	hdr[0] = 0x80 | opcode
	n := 2
	switch l := len(payload); {
	case l < 126:
		hdr[1] = 0x80 | byte(l)
	case l <= 0xFFFF:
		hdr[1] = 0x80 | 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 0x80 | 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	copy(hdr[n:], mask[:])
	n += 4
	buf := make([]byte, n+len(payload))
	copy(buf, hdr[:n])
	for i, b := range payload {
		buf[n+i] = b ^ mask[i%4]
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(cdpCallTimeout))
	_, err := w.conn.Write(buf)
	return err
}

func (w *wsConn) writeText(p []byte) error { return w.writeFrame(0x1, p) }

// read returns the next complete text or binary message, answering pings
// and reassembling fragments.
func (w *wsConn) read() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0F
		masked := h[1]&0x80 != 0
		length := uint64(h[1] & 0x7F)
		switch length {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			length = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			length = binary.BigEndian.Uint64(b[:])
		}
		if length > maxMessage || uint64(len(msg))+length > maxMessage {
			return nil, fmt.Errorf("WebSocket message over %d bytes", maxMessage)
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(w.br, mask[:]); err != nil {
				return nil, err
			}
		}
		payload := make([]byte, length)
		if _, err := io.ReadFull(w.br, payload); err != nil {
			return nil, err
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch opcode {
		case 0x8: // close
			_ = w.writeFrame(0x8, nil)
			return nil, io.EOF
		case 0x9: // ping
			if err := w.writeFrame(0xA, payload); err != nil {
				return nil, err
			}
			continue
		case 0xA: // pong
			continue
		case 0x0, 0x1, 0x2:
			msg = append(msg, payload...)
		default:
			return nil, fmt.Errorf("WebSocket opcode %#x", opcode)
		}
		if fin {
			return msg, nil
		}
	}
}

func (w *wsConn) close() error {
	_ = w.writeFrame(0x8, []byte{0x03, 0xE8}) // 1000: normal closure
	err := w.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// ---- small helpers -------------------------------------------------------------

// redact drops a URL's query (it holds a signature) for messages.
func redact(u string) string {
	p, _, _ := strings.Cut(u, "?")
	return p
}

// redactText drops the query of every URL in a message: presigned queries
// hold signatures.
func redactText(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "http")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, " '\"\n")
		if end < 0 {
			end = len(s)
		}
		u, _, _ := strings.Cut(s[:end], "?")
		b.WriteString(u)
		s = s[end:]
	}
}
