package load_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// pingEvent is the ALB event for GET /ping, the health check.
func pingEvent(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(twin.Event(httptest.NewRequest("GET", "/ping", nil), nil))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invokePing invokes f once with /ping and checks the answer is a 200.
func invokePing(t testing.TB, f *function) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	out, err := f.em.Invoke(ctx, pingEvent(t))
	d := time.Since(t0)
	if err != nil {
		t.Fatalf("invoking /ping: %v", err)
	}
	var resp struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/ping answered %.300q", out)
	}
	return d
}

// idleEnv is a valid configuration whose S3 is never contacted by /ping.
func idleEnv(upstream string) map[string]string {
	return map[string]string{
		"S3PROXY_BUCKET": bucket, "S3PROXY_REGION": region, "S3PROXY_SIGNED_HOST": signedHost,
		"S3PROXY_UPSTREAM_URL": upstream, "S3PROXY_ENDPOINT_URL": upstream,
		"AWS_REGION": region, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":     "session-token-for-the-cold-start-test",
	}
}

// TestInitNoNetwork holds the function to "no network call during init"
// (docs/architecture.md, "Contracts kept in one place"): the bootstrap starts under the emulator with every address
// it could reach — its S3 upstream, the endpoint, the SDK's endpoints and
// the EC2 metadata service — pointing at a loopback listener that counts
// connections, with credentials in the environment, and answers one /ping.
// Nothing may connect; then a presigned GET, as a control, must. Under strace (when installed) the stronger claim is
// checked too: the only connect(2) the bootstrap makes at all is to the
// emulator's runtime API.
func TestInitNoNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	trap := "http://" + ln.Addr().String()
	env := idleEnv(trap)
	env["AWS_ENDPOINT_URL"] = trap
	env["AWS_EC2_METADATA_DISABLED"] = "false"
	env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = trap

	var wrapper, traceOut string
	if strace, err := exec.LookPath("strace"); err == nil {
		dir := t.TempDir()
		traceOut = filepath.Join(dir, "connect.trace")
		wrapper = filepath.Join(dir, "strace-wrapper")
		script := fmt.Sprintf("#!/bin/sh\nexec %s -f -qq -e trace=connect -e signal=none -o %s \"$@\"\n", strace, traceOut)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	} else if os.Getenv(peertest.EnvRequirePeers) == "1" {
		t.Errorf("strace is not installed (scripts/install-deps.sh installs it); only the listener check runs")
	} else {
		t.Log("strace is not installed: only the listener check runs")
	}

	f := startFunction(t, env, peertest.Bootstrap(t), wrapper)
	invokePing(t, f)
	time.Sleep(200 * time.Millisecond) // a late dial would still be counted
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connection(s) reached the trap listener during init and /ping; want none", n)
	}

	// Positive control: a presigned GET makes the function send its one
	// upstream request, which must land on the trap (and show in the
	// trace). Without it, a trap the function never used would pass.
	signed, err := sgurl.NewSigner(credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
		region, bucket, signedHost).Get(context.Background(), "control/object.bin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := json.Marshal(twin.Event(httptest.NewRequest("GET", u.RequestURI(), nil), nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.em.Invoke(ctx, ev); err != nil {
		t.Fatalf("control GET: %v", err)
	}
	if conns.Load() == 0 {
		t.Fatal("control GET: the function's upstream request did not reach the trap listener, so the check above proves nothing")
	}
	if traceOut == "" {
		return
	}
	api := cmdlineFlag(f.riePID, "--runtime-api-address")
	_ = f.em.Close() // flushes the trace
	b, err := os.ReadFile(traceOut)
	if err != nil {
		t.Fatalf("reading the strace output: %v", err)
	}
	dests, other := connects(string(b))
	if dests[api] == 0 {
		t.Errorf("strace saw no connect to the runtime API %s: was the bootstrap traced?\n%s", api, b)
	}
	if dests[ln.Addr().String()] == 0 {
		t.Errorf("strace did not see the control GET's connect to %s\n%s", ln.Addr(), b)
	}
	for d, n := range dests {
		if d != api && d != ln.Addr().String() {
			t.Errorf("%d connect(2) call(s) to %s, neither the runtime API nor the trap", n, d)
		}
	}
	for _, l := range other {
		t.Errorf("unrecognised connect(2): %s", l)
	}
	t.Logf("init and /ping: 0 connections to the trap; strace: connect(2) only to the runtime API %s (%d), then the control GET's to the trap (%d)",
		api, dests[api], dests[ln.Addr().String()])
}

var (
	connectRE = regexp.MustCompile(`connect\(\d+, \{sa_family=(\w+)(.*?)\}, \d+\)`)
	inet4RE   = regexp.MustCompile(`sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)`)
)

// connects counts the traced connect(2) calls by IPv4 destination
// (host:port) and returns, as they are, the lines it cannot read as one.
func connects(trace string) (dests map[string]int, other []string) {
	dests = map[string]int{}
	for _, line := range strings.Split(trace, "\n") {
		if !strings.Contains(line, "connect(") {
			continue
		}
		m := connectRE.FindStringSubmatch(line)
		if m == nil || m[1] != "AF_INET" {
			other = append(other, line)
			continue
		}
		a := inet4RE.FindStringSubmatch(m[2])
		if a == nil {
			other = append(other, line)
			continue
		}
		dests[net.JoinHostPort(a[2], a[1])]++
	}
	return dests, other
}

// startStat is one cold start.
type startStat struct {
	// SpawnToFirstAnswerMs runs from spawning the emulator to the first
	// answered invoke: the emulator's own start, then the bootstrap's.
	SpawnToFirstAnswerMs float64 `json:"spawnToFirstAnswerMs"`
	// FirstInvokeMs is the first invoke's round trip: the emulator starts
	// the bootstrap, which initialises, registers and answers /ping. This is
	// the cold start as a client of Lambda would see it.
	FirstInvokeMs float64 `json:"firstInvokeMs"`
	// InitReportMs is the emulator's INIT REPORT durationMs, Lambda's
	// "Init Duration".
	InitReportMs float64 `json:"initReportMs"`
	// WarmInvokeMs is the second invoke's round trip.
	WarmInvokeMs float64 `json:"warmInvokeMs"`
}

type startSummary struct {
	Runs                 int         `json:"runs"`
	MedianSpawnToFirstMs float64     `json:"medianSpawnToFirstAnswerMs"`
	MedianFirstInvokeMs  float64     `json:"medianFirstInvokeMs"`
	MedianInitReportMs   float64     `json:"medianInitReportMs"`
	MedianWarmInvokeMs   float64     `json:"medianWarmInvokeMs"`
	All                  []startStat `json:"all"`
}

func coldStarts(t *testing.T, n int, bin, wrapper string) startSummary {
	t.Helper()
	var s startSummary
	for range n {
		f := startFunction(t, idleEnv("http://127.0.0.1:9"), bin, wrapper)
		first := invokePing(t, f)
		answered := time.Since(f.startedAt)
		warm := invokePing(t, f)
		var initMs float64
		if in := f.log.inits(); len(in) > 0 {
			initMs = in[0]
		}
		_ = f.em.Close()
		s.All = append(s.All, startStat{
			SpawnToFirstAnswerMs: ms(answered), FirstInvokeMs: ms(first), InitReportMs: initMs, WarmInvokeMs: ms(warm),
		})
	}
	med := func(get func(startStat) float64) float64 {
		var v []float64
		for _, x := range s.All {
			v = append(v, get(x))
		}
		sort.Float64s(v)
		return round3(percentile(v, 0.5))
	}
	s.Runs = n
	s.MedianSpawnToFirstMs = med(func(x startStat) float64 { return x.SpawnToFirstAnswerMs })
	s.MedianFirstInvokeMs = med(func(x startStat) float64 { return x.FirstInvokeMs })
	s.MedianInitReportMs = med(func(x startStat) float64 { return x.InitReportMs })
	s.MedianWarmInvokeMs = med(func(x startStat) float64 { return x.WarmInvokeMs })
	return s
}

func ms(d time.Duration) float64 { return round3(float64(d.Microseconds()) / 1000) }

type binarySize struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Note  string `json:"note"`
}

type coldStartSummary struct {
	Command  string        `json:"command"`
	Machine  machine       `json:"machine"`
	Native   startSummary  `json:"native"`
	Arm64    *startSummary `json:"arm64UnderQemu,omitempty"`
	Arm64Why string        `json:"arm64Skipped,omitempty"`
	Sizes    []binarySize  `json:"binarySizes"`
}

// TestColdStart measures the function's cold start under the emulator:
// the native build ten times from fresh processes (medians reported), and
// the arm64 deploy artifact under qemu-aarch64-static, whose figures say
// more about qemu than about Graviton; plus the size of the deploy artifact,
// built exactly as `make build` builds it.
func TestColdStart(t *testing.T) {
	fullRun(t)
	sum := coldStartSummary{
		Command: "S3PROXY_LOAD=1 go test -count=1 -timeout 30m -v -run 'TestColdStart' ./test/load/",
		Machine: describeMachine(),
	}
	root := peertest.ModuleRoot(t)

	// The deploy artifact, with the Makefile's LAMBDA_FLAGS and LAMBDA_ENV,
	// into build/load so that it is current and no one else's build races it.
	arm := filepath.Join(root, "build", "load", "proxy-arm64", "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -buildid=", "-o", arm, "./functions/proxy")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the arm64 artifact: %v\n%s", err, out)
	}
	native := peertest.Bootstrap(t)
	for _, b := range []struct{ path, note string }{
		{arm, "linux/arm64, CGO_ENABLED=0, -tags lambda.norpc -trimpath -ldflags='-s -w -buildid=' (make build's flags), built by this test"},
		{filepath.Join(root, "build", "proxy", "bootstrap"), "make build's output as found (may be stale)"},
		{native, "native test build (peertest.Bootstrap: -s -w, build ID kept)"},
	} {
		if fi, err := os.Stat(b.path); err == nil {
			rel, _ := filepath.Rel(root, b.path)
			sum.Sizes = append(sum.Sizes, binarySize{Path: rel, Bytes: fi.Size(), Note: b.note})
		}
	}

	sum.Native = coldStarts(t, 10, native, "")
	if qemu, err := exec.LookPath("qemu-aarch64-static"); err == nil {
		s := coldStarts(t, 3, arm, qemu)
		sum.Arm64 = &s
	} else {
		sum.Arm64Why = "qemu-aarch64-static not installed"
	}

	var b strings.Builder
	fmt.Fprintf(&b, "  %-28s %5s %16s %14s %14s %12s\n", "build", "runs", "spawn→answer ms", "1st invoke ms", "INIT REPORT ms", "warm ms")
	line := func(name string, s startSummary) {
		fmt.Fprintf(&b, "  %-28s %5d %16.1f %14.1f %14.1f %12.2f\n", name, s.Runs, s.MedianSpawnToFirstMs, s.MedianFirstInvokeMs, s.MedianInitReportMs, s.MedianWarmInvokeMs)
	}
	line("native "+sum.Machine.GOARCH+" (median)", sum.Native)
	if sum.Arm64 != nil {
		line("arm64 under qemu (median)", *sum.Arm64)
	}
	for _, s := range slices.Clone(sum.Sizes) {
		fmt.Fprintf(&b, "  size %-40s %10d bytes (%.2f MiB)\n", s.Path, s.Bytes, float64(s.Bytes)/(1<<20))
	}
	t.Logf("cold start under aws-lambda-rie:\n%s", b.String())
	writeSummary(t, "coldstart", sum)
}
