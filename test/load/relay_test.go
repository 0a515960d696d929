package load_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// The relay comparison's workload: what a studio's ShotGrid
// traffic is made of, large media both ways and thumbnails.
const (
	cmpBigSize   = 20_000_000 // shotgun_api3's single-PUT and part size
	cmpSmallSize = 100_000
	cmpConc      = 4 // the emulator serialises invocations; the same for both sides
)

// cmpPhases are run in this order, each against both sides.
var cmpPhases = []struct {
	name string
	n    int
}{
	{"get-20MB", 200},
	{"get-100KB", 200},
	{"put-20MB", 50},
}

// scaled divides n by 10 when S3PROXY_LOAD_QUICK=1, for trying the
// measuring tests out quickly; the numbers it gives are not the ones to
// publish.
func scaled(n int) int {
	if os.Getenv("S3PROXY_LOAD_QUICK") == "1" {
		return max(1, n/10)
	}
	return n
}

// relayProc is ./relay running as its own process on loopback.
type relayProc struct {
	pid         int
	base, stats string
}

func startRelay(t *testing.T, target string, env ...string) *relayProc {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "relay")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./test/load/relay")
	build.Dir = peertest.ModuleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the relay: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-target", target, "-host", signedHost)
	cmd.Env = append(os.Environ(), env...)
	logs := &peertest.Output{Max: 16 << 10}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the relay: %v", err)
	}
	done := make(chan struct{})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("relay stderr:\n%s", logs)
		}
	})
	var line string
	select {
	case line = <-first:
	case <-time.After(15 * time.Second):
		t.Fatalf("the relay did not start: %s", logs)
	}
	var r relayProc
	if _, err := fmt.Sscanf(line, "relay listening on %s stats %s", &r.base, &r.stats); err != nil {
		t.Fatalf("the relay said %q: %v; stderr: %s", line, err, logs)
	}
	r.pid = cmd.Process.Pid
	return &r
}

// relayCounters are the relay's client-facing byte counts.
type relayCounters struct {
	Requests            int64 `json:"requests"`
	RequestHeaderBytes  int64 `json:"requestHeaderBytes"`
	RequestBodyBytes    int64 `json:"requestBodyBytes"`
	ResponseHeaderBytes int64 `json:"responseHeaderBytes"`
	ResponseBodyBytes   int64 `json:"responseBodyBytes"`
}

func (c relayCounters) total() int64 {
	return c.RequestHeaderBytes + c.RequestBodyBytes + c.ResponseHeaderBytes + c.ResponseBodyBytes
}

func (r *relayProc) counters(t *testing.T) relayCounters {
	t.Helper()
	resp, err := http.Get(r.stats)
	if err != nil {
		t.Fatalf("relay stats: %v", err)
	}
	defer resp.Body.Close()
	var c relayCounters
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatalf("relay stats: %v", err)
	}
	return c
}

// cmpSide is one side's measurements in one phase.
type cmpSide struct {
	Run runResult `json:"run"`
	// Compute is the compute process: the bootstrap for s3proxy, the relay
	// process for the relay.
	Compute usage `json:"compute"`
	// ComputeBoundaryBytes crossed the compute's client-facing side: for
	// s3proxy the ALB event in plus the response payload out; for the
	// relay the request (line, headers, body) in plus the response out.
	ComputeBoundaryBytes int64 `json:"computeBoundaryBytes"`
	Invocations          int64 `json:"invocations,omitempty"`
	// Emulator is aws-lambda-rie, the stand-in for the Lambda service
	// (s3proxy only; not compute).
	Emulator *usage `json:"emulator,omitempty"`
	// TestProcess is this process: the clients, plus (for s3proxy) the
	// twin's ALB emulation and passthrough, which stand in for the ALB.
	TestProcess usage `json:"testProcess"`
	Gateway     usage `json:"versitygw"`
	// Durations are the function's, by decision, from the emulator's REPORT
	// lines and the handler's log (s3proxy only).
	Durations []decisionTiming `json:"durationsByDecision,omitempty"`
}

type cmpPhase struct {
	Name    string  `json:"name"`
	S3Proxy cmpSide `json:"s3proxy"`
	Relay   cmpSide `json:"relay"`
	Ratios  ratios  `json:"ratiosS3proxyOverRelay"`
}

type ratios struct {
	ComputeCPU     float64 `json:"computeCpu"`
	BoundaryBytes  float64 `json:"computeBoundaryBytes"`
	ComputeIOBytes float64 `json:"computeIoBytes"`
	P50            float64 `json:"clientP50,omitempty"`
	P99            float64 `json:"clientP99,omitempty"`
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round3(a / b)
}

func ratiosOf(s, r cmpSide) ratios {
	return ratios{
		ComputeCPU:     ratio(s.Compute.CPUSeconds, r.Compute.CPUSeconds),
		BoundaryBytes:  ratio(float64(s.ComputeBoundaryBytes), float64(r.ComputeBoundaryBytes)),
		ComputeIOBytes: ratio(float64(s.Compute.BytesRead+s.Compute.BytesWritten), float64(r.Compute.BytesRead+r.Compute.BytesWritten)),
		P50:            ratio(s.Run.Overall.P50Ms, r.Run.Overall.P50Ms),
		P99:            ratio(s.Run.Overall.P99Ms, r.Run.Overall.P99Ms),
	}
}

type cmpSummary struct {
	Command     string     `json:"command"`
	Machine     machine    `json:"machine"`
	Concurrency int        `json:"concurrency"`
	Phases      []cmpPhase `json:"phases"`
	Total       struct {
		S3Proxy cmpSide `json:"s3proxy"`
		Relay   cmpSide `json:"relay"`
		Ratios  ratios  `json:"ratiosS3proxyOverRelay"`
	} `json:"total"`
	// LargeReadBytesPerRequest is what crossed the function boundary per
	// 20 MB read through s3proxy (the physical limit is zero), and what the
	// bootstrap read and wrote in all (rchar+wchar, its S3 probe included).
	LargeReadBoundaryBytesPerRequest float64 `json:"largeReadBoundaryBytesPerRequest"`
	LargeReadIOBytesPerRequest       float64 `json:"largeReadIoBytesPerRequest"`
	BootstrapPeakRSSMiB              float64 `json:"bootstrapPeakRssMiB"`
	RelayPeakRSSMiB                  float64 `json:"relayPeakRssMiB"`
}

// TestRelayComparison runs one workload against one versitygw through
// (a) s3proxy — the twin, with the function as the real bootstrap under
// the emulator; large reads get a 307 the client follows to the endpoint,
// and uploads pass through the ALB rule — and (b) a plain relaying proxy,
// ShotGrid's nginx in Go. Compute is the bootstrap for (a) and the relay
// process for (b).
func TestRelayComparison(t *testing.T) {
	fullRun(t)
	gw := startGateway(t)
	st := newStack(t, gw, true, mixInlineMax)
	relay := startRelay(t, gw.URL)
	self := os.Getpid()

	var big, small []object
	for i := range 4 {
		big = append(big, seed(t, gw, fmt.Sprintf("cmp/plates/shot%02d plate.mov", i), cmpBigSize, uint64(40+i)))
		small = append(small, seed(t, gw, fmt.Sprintf("cmp/thumbs/shot%02d.jpg", i), cmpSmallSize, uint64(50+i)))
	}
	putBody := randomBytes(cmpBigSize, 60)
	_, follow := newClients(t)

	type side struct {
		name string
		base string
	}
	sides := []side{{"s3proxy", st.base}, {"relay", relay.base}}
	urls := func(base string, objs []object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, through(t, base, st.signedGet(t, o.key)))
		}
		return out
	}
	doer := func(sd side, phase string) func(kind string, w, i int) error {
		bigURL, smallURL := urls(sd.base, big), urls(sd.base, small)
		puts := make([][]string, cmpConc)
		for w := range cmpConc {
			for j := range 2 {
				puts[w] = append(puts[w], through(t, sd.base, st.signedPut(t, fmt.Sprintf("cmp/uploads/%s/w%d-%d.mov", sd.name, w, j))))
			}
		}
		return func(kind string, w, i int) error {
			var (
				resp *http.Response
				err  error
				obj  *object
			)
			switch phase {
			case "get-20MB":
				obj = &big[i%len(big)]
				resp, err = send(follow, http.MethodGet, bigURL[i%len(bigURL)], nil)
			case "get-100KB":
				obj = &small[i%len(small)]
				resp, err = send(follow, http.MethodGet, smallURL[i%len(smallURL)], nil)
			case "put-20MB":
				resp, err = send(follow, http.MethodPut, puts[w][i%2], putBody)
			}
			if err != nil {
				return err
			}
			defer drain(resp)
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				return fmt.Errorf("%s: status %d: %s", sd.name, resp.StatusCode, b)
			}
			if obj != nil {
				return checkBody(resp.Body, *obj)
			}
			if resp.Header.Get("ETag") == "" {
				return errors.New("PUT answered without an ETag")
			}
			return nil
		}
	}

	// Warm-up: the function's init (cold start) and the first connections
	// are not what this compares.
	for _, sd := range sides {
		for _, ph := range cmpPhases {
			if r := run([]string{ph.name}, 1, doer(sd, ph.name)); r.Unexpected != 0 {
				t.Fatalf("warm-up %s %s: %v", sd.name, ph.name, r.FirstErrors)
			}
		}
	}
	boot, rie := st.fn.bootstrapPID(t), st.fn.riePID
	_ = resetPeakRSS(relay.pid)

	sum := cmpSummary{
		Command:     "S3PROXY_LOAD=1 go test -count=1 -timeout 30m -v -run 'TestRelayComparison' ./test/load/",
		Machine:     describeMachine(),
		Concurrency: cmpConc,
	}
	measure := func(sd side, phase string, n int) cmpSide {
		do := doer(sd, phase)
		kinds := make([]string, n)
		for i := range kinds {
			kinds[i] = phase
		}
		compute := relay.pid
		if sd.name == "s3proxy" {
			compute = boot
		}
		st.fn.log.reset()
		c0, e0, s0, g0 := snap(compute), snap(rie), snap(self), snap(gw.PID)
		i0, r0 := st.inv.snapshot(), relay.counters(t)
		res := run(kinds, cmpConc, do)
		c1, e1, s1, g1 := snap(compute), snap(rie), snap(self), snap(gw.PID)
		i1, r1 := st.inv.snapshot(), relay.counters(t)
		out := cmpSide{Run: res, Compute: since(c0, c1), TestProcess: since(s0, s1), Gateway: since(g0, g1)}
		if sd.name == "s3proxy" {
			d := i1.sub(i0)
			out.ComputeBoundaryBytes, out.Invocations = d.BytesIn+d.BytesOut, d.Invokes
			e := since(e0, e1)
			out.Emulator = &e
			time.Sleep(100 * time.Millisecond) // the last REPORT lines
			out.Durations = timings(st.fn.log)
		} else {
			out.ComputeBoundaryBytes = r1.total() - r0.total()
		}
		if res.Unexpected != 0 {
			t.Errorf("%s %s: %d unexpected; first: %v", sd.name, phase, res.Unexpected, res.FirstErrors)
		}
		return out
	}
	for pi, ph := range cmpPhases {
		n := scaled(ph.n)
		p := cmpPhase{Name: ph.name}
		order := []int{0, 1}
		if pi%2 == 1 {
			order = []int{1, 0} // alternate who goes first
		}
		for _, si := range order {
			m := measure(sides[si], ph.name, n)
			if si == 0 {
				p.S3Proxy = m
			} else {
				p.Relay = m
			}
		}
		p.Ratios = ratiosOf(p.S3Proxy, p.Relay)
		sum.Phases = append(sum.Phases, p)
		if ph.name == "get-20MB" {
			sum.LargeReadBoundaryBytesPerRequest = round3(float64(p.S3Proxy.ComputeBoundaryBytes) / float64(n))
			sum.LargeReadIOBytesPerRequest = round3(float64(p.S3Proxy.Compute.BytesRead+p.S3Proxy.Compute.BytesWritten) / float64(n))
		}
	}
	if now := st.fn.bootstrapPID(t); now != boot {
		t.Errorf("the bootstrap was restarted during the run (pid %d, then %d)", boot, now)
	}
	sum.BootstrapPeakRSSMiB = round3(peakRSSMiB(boot))
	sum.RelayPeakRSSMiB = round3(peakRSSMiB(relay.pid))

	// Totals. Latency is compared per phase only: the phases' requests are
	// too different for one percentile over all of them to mean much.
	for _, p := range sum.Phases {
		tot := &sum.Total
		tot.S3Proxy.Compute = tot.S3Proxy.Compute.add(p.S3Proxy.Compute)
		tot.Relay.Compute = tot.Relay.Compute.add(p.Relay.Compute)
		tot.S3Proxy.TestProcess = tot.S3Proxy.TestProcess.add(p.S3Proxy.TestProcess)
		tot.Relay.TestProcess = tot.Relay.TestProcess.add(p.Relay.TestProcess)
		tot.S3Proxy.Gateway = tot.S3Proxy.Gateway.add(p.S3Proxy.Gateway)
		tot.Relay.Gateway = tot.Relay.Gateway.add(p.Relay.Gateway)
		if p.S3Proxy.Emulator != nil {
			if tot.S3Proxy.Emulator == nil {
				tot.S3Proxy.Emulator = &usage{}
			}
			*tot.S3Proxy.Emulator = tot.S3Proxy.Emulator.add(*p.S3Proxy.Emulator)
		}
		tot.S3Proxy.ComputeBoundaryBytes += p.S3Proxy.ComputeBoundaryBytes
		tot.Relay.ComputeBoundaryBytes += p.Relay.ComputeBoundaryBytes
		tot.S3Proxy.Invocations += p.S3Proxy.Invocations
		tot.S3Proxy.Run.Requests += p.S3Proxy.Run.Requests
		tot.Relay.Run.Requests += p.Relay.Run.Requests
		tot.S3Proxy.Run.WallSeconds += p.S3Proxy.Run.WallSeconds
		tot.Relay.Run.WallSeconds += p.Relay.Run.WallSeconds
		tot.S3Proxy.Run.Unexpected += p.S3Proxy.Run.Unexpected
		tot.Relay.Run.Unexpected += p.Relay.Run.Unexpected
	}
	sum.Total.Ratios = ratios{
		ComputeCPU:     ratio(sum.Total.S3Proxy.Compute.CPUSeconds, sum.Total.Relay.Compute.CPUSeconds),
		BoundaryBytes:  ratio(float64(sum.Total.S3Proxy.ComputeBoundaryBytes), float64(sum.Total.Relay.ComputeBoundaryBytes)),
		ComputeIOBytes: ratio(float64(sum.Total.S3Proxy.Compute.BytesRead+sum.Total.S3Proxy.Compute.BytesWritten), float64(sum.Total.Relay.Compute.BytesRead+sum.Total.Relay.Compute.BytesWritten)),
	}
	t.Logf("relay comparison, concurrency %d, same versitygw:\n%s", cmpConc, cmpTable(sum))
	writeSummary(t, "relay", sum)
}

func cmpTable(s cmpSummary) string {
	var b strings.Builder
	mb := func(n int64) float64 { return float64(n) / 1e6 }
	fmt.Fprintf(&b, "  %-10s %-8s %5s %9s %9s %9s %12s %12s %9s %9s\n", "phase", "side", "n", "p50 ms", "p99 ms", "cpu s", "boundary MB", "io MB", "twin+cl s", "gw cpu s")
	row := func(phase, name string, c cmpSide) {
		fmt.Fprintf(&b, "  %-10s %-8s %5d %9.1f %9.1f %9.3f %12.3f %12.3f %9.3f %9.3f\n", phase, name, c.Run.Requests,
			c.Run.Overall.P50Ms, c.Run.Overall.P99Ms, c.Compute.CPUSeconds, mb(c.ComputeBoundaryBytes),
			mb(c.Compute.BytesRead+c.Compute.BytesWritten), c.TestProcess.CPUSeconds, c.Gateway.CPUSeconds)
	}
	for _, p := range s.Phases {
		row(p.Name, "s3proxy", p.S3Proxy)
		row(p.Name, "relay", p.Relay)
		fmt.Fprintf(&b, "  %-10s %-8s %5s %9.3f %9.3f %9.3f %12.4f %12.4f\n", p.Name, "ratio", "", p.Ratios.P50, p.Ratios.P99, p.Ratios.ComputeCPU, p.Ratios.BoundaryBytes, p.Ratios.ComputeIOBytes)
	}
	t := s.Total
	fmt.Fprintf(&b, "  total: compute CPU s3proxy %.3f s / relay %.3f s = %.4f; boundary bytes %.3f MB / %.3f MB = %.5f; compute I/O %.3f MB / %.3f MB = %.5f\n",
		t.S3Proxy.Compute.CPUSeconds, t.Relay.Compute.CPUSeconds, t.Ratios.ComputeCPU,
		mb(t.S3Proxy.ComputeBoundaryBytes), mb(t.Relay.ComputeBoundaryBytes), t.Ratios.BoundaryBytes,
		mb(t.S3Proxy.Compute.BytesRead+t.S3Proxy.Compute.BytesWritten), mb(t.Relay.Compute.BytesRead+t.Relay.Compute.BytesWritten), t.Ratios.ComputeIOBytes)
	if t.S3Proxy.Emulator != nil {
		fmt.Fprintf(&b, "  not compute: emulator %.3f s CPU; test process (clients + twin ALB/passthrough) %.3f s for s3proxy vs %.3f s (clients only) for the relay, so the twin ≈ %.3f s\n",
			t.S3Proxy.Emulator.CPUSeconds, t.S3Proxy.TestProcess.CPUSeconds, t.Relay.TestProcess.CPUSeconds, t.S3Proxy.TestProcess.CPUSeconds-t.Relay.TestProcess.CPUSeconds)
	}
	fmt.Fprintf(&b, "  per 20 MB read through s3proxy: %.0f bytes across the function boundary (%.4f%% of the object), %.0f bytes of bootstrap I/O in all (its S3 probe included); the physical limit is 0\n",
		s.LargeReadBoundaryBytesPerRequest, 100*s.LargeReadBoundaryBytesPerRequest/cmpBigSize, s.LargeReadIOBytesPerRequest)
	fmt.Fprintf(&b, "  peak RSS: bootstrap %.1f MiB, relay %.1f MiB\n", s.BootstrapPeakRSSMiB, s.RelayPeakRSSMiB)
	for _, p := range s.Phases {
		if len(p.S3Proxy.Durations) > 0 {
			fmt.Fprintf(&b, "  function time by decision in %s (ms):\n%s", p.Name, timingTable(p.S3Proxy.Durations))
		}
	}
	return b.String()
}
