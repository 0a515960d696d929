// Package load_test puts the proxy under load and measures it: a mixed
// workload through the twin (emulated ALB, function in-process or as the
// real bootstrap under the Lambda Runtime Interface Emulator) against
// versitygw, which checks every signature; the same large-object workload
// through s3proxy and through a plain relaying proxy (./relay, standing in
// for ShotGrid's nginx), side by side; and the function's cold start.
//
// Only TestLoadSmoke and TestInitNoNetwork run by default. The measuring
// tests run with S3PROXY_LOAD=1 (scripts/load.sh); each writes a JSON
// summary to build/load/<name>.json and logs a table.
package load_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	bucket      = "shotgrid-media"
	signedHost  = bucket + ".s3.amazonaws.com"
	region      = "us-east-1"
	clientTTL   = 2 * time.Hour
	redirectTTL = 15 * time.Minute
)

// fullRun skips t unless S3PROXY_LOAD=1.
func fullRun(t *testing.T) {
	t.Helper()
	if os.Getenv("S3PROXY_LOAD") != "1" {
		t.Skip("a measuring run: set S3PROXY_LOAD=1 (scripts/load.sh)")
	}
}

func startGateway(t *testing.T) *peertest.S3 {
	t.Helper()
	return peertest.StartVersityGW(t, peertest.VersityGWOptions{
		Buckets: []string{bucket}, Region: region, VirtualDomain: "s3.amazonaws.com",
	})
}

// proxyEnv is the function's S3PROXY_* configuration in front of gw.
func proxyEnv(gw *peertest.S3, inlineMax int) map[string]string {
	return map[string]string{
		"S3PROXY_BUCKET":           bucket,
		"S3PROXY_REGION":           region,
		"S3PROXY_SIGNED_HOST":      signedHost,
		"S3PROXY_UPSTREAM_URL":     gw.URL,
		"S3PROXY_ENDPOINT_URL":     gw.URL,
		"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(inlineMax),
		"S3PROXY_REDIRECT_TTL":     redirectTTL.String(),
	}
}

// stack is the twin on loopback in front of gw, with the function either
// in this process or as the bootstrap under the emulator.
type stack struct {
	gw     *peertest.S3
	cfg    *config.Config
	base   string // the twin, http://127.0.0.1:PORT
	fn     *function
	inv    *countingInvoker
	signer *sgurl.Signer
}

func newStack(t *testing.T, gw *peertest.S3, process bool, inlineMax int) *stack {
	t.Helper()
	env := proxyEnv(gw, inlineMax)
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	st := &stack{gw: gw, cfg: cfg, signer: sgurl.NewSigner(gw.Credentials, region, bucket, signedHost)}
	logs := &peertest.Output{Max: 64 << 10}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("twin/function log tail:\n%s", logs)
		}
	})
	logger := lambdalog.New(logs, slog.LevelWarn)
	var inner twin.Invoker
	if process {
		env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"] = gw.AccessKeyID, gw.SecretAccessKey, region
		st.fn = startFunction(t, env, peertest.Bootstrap(t), "")
		inner = st.fn.em
	} else {
		h := proxy.Wire(cfg, gw.AWSConfig(), logger, lambdalog.RequestID)
		inner = twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithLogger(logger))}
	}
	st.inv = &countingInvoker{next: inner}
	alb := twin.New(twin.Options{
		Config: cfg, Passthrough: true, Invoker: st.inv, FunctionTimeout: 30 * time.Second, Logger: logger,
	})
	srv := httptest.NewServer(alb)
	t.Cleanup(srv.Close)
	st.base = srv.URL
	return st
}

// signedGet mints ShotGrid's URL for key (signed for the bucket's S3 host).
func (st *stack) signedGet(t testing.TB, key string) string {
	t.Helper()
	u, err := st.signer.Get(context.Background(), key, clientTTL)
	if err != nil {
		t.Fatalf("presign GET %s: %v", key, err)
	}
	return u
}

func (st *stack) signedPut(t testing.TB, key string) string {
	t.Helper()
	u, err := st.signer.Put(context.Background(), key, clientTTL)
	if err != nil {
		t.Fatalf("presign PUT %s: %v", key, err)
	}
	return u
}

// through swaps a signed URL's scheme and host for base's, as ShotGrid does
// with the "S3 Proxy Host Address".
func through(t testing.TB, base, signed string) string {
	t.Helper()
	u, err := sgurl.Through(base, signed)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tamper changes one hex digit of the URL's signature.
func tamper(t testing.TB, u string) string {
	t.Helper()
	const p = "X-Amz-Signature="
	i := strings.Index(u, p)
	if i < 0 || len(u) < i+len(p)+64 {
		t.Fatal("no signature in a presigned URL")
	}
	j := i + len(p) + 17
	c := byte('a')
	if u[j] == 'a' {
		c = 'b'
	}
	return u[:j] + string(c) + u[j+1:]
}

// object is a seeded object and how to check a download of it.
type object struct {
	key  string
	size int
	crc  uint32
}

// seed stores n pseudo-random bytes under key, straight into the gateway.
func seed(t testing.TB, gw *peertest.S3, key string, n int, salt uint64) object {
	t.Helper()
	b := randomBytes(n, salt)
	gw.Seed(t, bucket, key, b, "application/octet-stream")
	return object{key: key, size: n, crc: crc32.ChecksumIEEE(b)}
}

func randomBytes(n int, salt uint64) []byte {
	r := rand.New(rand.NewPCG(uint64(n), salt))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkBody reads the body to the end and compares length and CRC.
func checkBody(r io.Reader, o object) error {
	h := crc32.NewIEEE()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.key, err)
	}
	if int(n) != o.size || h.Sum32() != o.crc {
		return fmt.Errorf("%s: got %d bytes (crc %08x), want %d (crc %08x)", o.key, n, h.Sum32(), o.size, o.crc)
	}
	return nil
}

// HTTP clients as the real ones behave: one stopping at the first answer
// (to inspect a 307), one following redirects (urllib, RV, <video>).
func newClients(t testing.TB) (noFollow, follow *http.Client) {
	tr := &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	noFollow = &http.Client{Transport: tr, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	follow = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	return noFollow, follow
}

// countingInvoker counts what crosses the function boundary: the ALB event
// in and the response payload out.
type countingInvoker struct {
	next                    twin.Invoker
	invokes, in, out, fails atomic.Int64
}

func (c *countingInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	c.invokes.Add(1)
	c.in.Add(int64(len(event)))
	p, err := c.next.Invoke(ctx, event)
	c.out.Add(int64(len(p)))
	if err != nil {
		c.fails.Add(1)
	}
	return p, err
}

// boundary is a snapshot of a countingInvoker.
type boundary struct {
	Invokes  int64 `json:"invokes"`
	BytesIn  int64 `json:"eventBytesIn"`
	BytesOut int64 `json:"responseBytesOut"`
}

func (c *countingInvoker) snapshot() boundary {
	return boundary{Invokes: c.invokes.Load(), BytesIn: c.in.Load(), BytesOut: c.out.Load()}
}

func (b boundary) sub(o boundary) boundary {
	return boundary{b.Invokes - o.Invokes, b.BytesIn - o.BytesIn, b.BytesOut - o.BytesOut}
}

// function is the real bootstrap running under aws-lambda-rie.
type function struct {
	em     *twin.Emulator
	riePID int
	log    *fnLog
	// startedAt is just before the emulator process was spawned.
	startedAt time.Time
}

// startFunction runs bin (through wrapper, when set) under the emulator on
// loopback with env as the function's whole environment (plus an empty
// HOME, and the EC2 metadata service off unless env says otherwise). The
// emulator's and the function's output is parsed for REPORT lines and the
// function's request log, not copied to the test log (a tail is, on
// failure).
func startFunction(t testing.TB, env map[string]string, bin, wrapper string) *function {
	t.Helper()
	log := &fnLog{byID: map[string]*invocation{}}
	before := childrenNamed(os.Getpid(), "aws-lambda-rie")
	started := time.Now()
	em := peertest.StartFunctionWith(t, env, peertest.FunctionOptions{Bootstrap: bin, Wrapper: wrapper, Output: log})
	f := &function{em: em, log: log, startedAt: started}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator/function output tail:\n%s", log.tailString())
		}
	})
	for pid := range childrenNamed(os.Getpid(), "aws-lambda-rie") {
		if !before[pid] {
			f.riePID = pid
		}
	}
	if f.riePID == 0 {
		t.Fatal("cannot find the aws-lambda-rie process among this test's children")
	}
	return f
}

// bootstrapPID is the function process: the emulator's child, which exists
// once the first invocation has started it. With a wrapper it is the
// wrapper's process (qemu running the arm64 binary, say).
func (f *function) bootstrapPID(t testing.TB) int {
	t.Helper()
	kids := childPIDs(f.riePID)
	if len(kids) != 1 {
		t.Fatalf("aws-lambda-rie (pid %d) has children %v, want exactly the bootstrap", f.riePID, kids)
	}
	return kids[0]
}

// invocation is what the emulator's REPORT line and the function's request
// log line say about one request ID.
type invocation struct {
	decision   string
	handlerMs  float64 // the handler's own durationMs
	durationMs float64 // REPORT Duration (the emulator's clock)
	billedMs   float64
	reported   bool
	// inlineBytes is the handler's count of body bytes answered inline.
	inlineBytes int
}

// fnLog parses the emulator's and the function's output, line by line.
type fnLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string // the last few, for diagnosis
	byID    map[string]*invocation
	initMs  []float64 // INIT REPORT durationMs, one per init
}

func (l *fnLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(bytes.TrimRight(l.partial[:i], "\r")))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *fnLog) rec(id string) *invocation {
	r := l.byID[id]
	if r == nil {
		r = &invocation{}
		l.byID[id] = r
	}
	return r
}

func (l *fnLog) line(s string) {
	if len(l.lines) >= 200 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, s)
	switch {
	case strings.HasPrefix(s, "REPORT RequestId: "):
		fields := strings.Split(strings.TrimPrefix(s, "REPORT RequestId: "), "\t")
		r := l.rec(strings.TrimSpace(fields[0]))
		r.reported = true
		for _, f := range fields[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(f), ": ")
			if !ok {
				continue
			}
			ms, err := strconv.ParseFloat(strings.TrimSuffix(v, " ms"), 64)
			if err != nil {
				continue
			}
			switch k {
			case "Duration":
				r.durationMs = ms
			case "Billed Duration":
				r.billedMs = ms
			}
		}
	case strings.Contains(s, "INIT REPORT(durationMs: "):
		v := s[strings.Index(s, "INIT REPORT(durationMs: ")+len("INIT REPORT(durationMs: "):]
		v, _, _ = strings.Cut(v, ")")
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			l.initMs = append(l.initMs, ms)
		}
	case strings.HasPrefix(s, "{"):
		var m struct {
			Message        string  `json:"message"`
			Decision       string  `json:"decision"`
			RequestID      string  `json:"requestId"`
			DurationMs     float64 `json:"durationMs"`
			UpstreamStatus int     `json:"upstreamStatus"`
			InlineBytes    int     `json:"inlineBytes"`
		}
		if json.Unmarshal([]byte(s), &m) == nil && m.Message == "request" && m.RequestID != "" {
			r := l.rec(m.RequestID)
			r.decision, r.handlerMs, r.inlineBytes = m.Decision, m.DurationMs, m.InlineBytes
			// A denial decided without S3 (the cheap checks) costs less
			// than one S3 refused: keep them apart.
			if m.Decision == "denied" {
				r.decision = "denied-by-s3"
				if m.UpstreamStatus == 0 {
					r.decision = "denied-cheap"
				}
			}
		}
	}
}

// reset forgets the invocations seen so far (a warm-up, say).
func (l *fnLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byID = map[string]*invocation{}
}

// byDecision groups the reported invocations by the handler's decision.
func (l *fnLog) byDecision() map[string][]invocation {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]invocation{}
	for _, r := range l.byID {
		if r.reported && r.decision != "" {
			out[r.decision] = append(out[r.decision], *r)
		}
	}
	return out
}

func (l *fnLog) inits() []float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]float64(nil), l.initMs...)
}

func (l *fnLog) tailString() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// machine describes where the numbers were taken.
type machine struct {
	CPUModel   string  `json:"cpuModel"`
	CPUs       int     `json:"cpus"`
	GOARCH     string  `json:"goarch"`
	GoVersion  string  `json:"goVersion"`
	Kernel     string  `json:"kernel"`
	MemTotalGB float64 `json:"memTotalGiB"`
	LoadAvg    string  `json:"loadAvgAtStart"`
	Date       string  `json:"date"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GOARCH: runtime.GOARCH, GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if kb, err := procStatusKBFile("/proc/meminfo", "MemTotal"); err == nil {
		m.MemTotalGB = float64(kb) / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

func procStatusKBFile(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", name, path)
}

// writeSummary writes v as build/load/<name>.json under the module root.
func writeSummary(t testing.TB, name string, v any) {
	t.Helper()
	dir := filepath.Join(peertest.ModuleRoot(t), "build", "load")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary written to %s", p)
}
