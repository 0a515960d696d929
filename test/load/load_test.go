package load_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// The mixed workload. Sizes follow what ShotGrid serves: thumbnails and
// small frames inline, movies redirected, small uploads passed through.
const (
	mixInlineMax    = 716800 // S3PROXY_INLINE_MAX_BYTES's default, 700 KiB
	mixInlineSize   = 100_000
	mixRedirectSize = 1_000_000
	mixPutSize      = 16 << 10
)

// mixWeights is the share of each request kind, in percent.
var mixWeights = []struct {
	kind   string
	weight int
}{
	{"ping", 15},
	{"inline", 30},         // GET under the inline limit: 200 with the bytes
	{"redirect", 20},       // GET over it: 307, not followed
	{"redirect-follow", 5}, // the same, followed to the endpoint (here: versitygw)
	{"denied-tampered", 8}, // one signature digit changed: S3's 403, no Location
	{"denied-unsigned", 7}, // no query auth at all: the proxy's own 403, no S3 call
	{"put", 15},            // presigned PUT, passed through to S3 by the ALB rule
}

// mixObjects are the objects the mixed workload reads.
type mixObjects struct {
	inline, large []object
}

func seedMix(t testing.TB, st *stack) mixObjects {
	t.Helper()
	var o mixObjects
	for i := range 4 {
		o.inline = append(o.inline, seed(t, st.gw, fmt.Sprintf("load/thumbs/frame-%d.jpg", i), mixInlineSize, uint64(10+i)))
	}
	for i := range 2 {
		o.large = append(o.large, seed(t, st.gw, fmt.Sprintf("load/plates/plate v00%d.mov", i), mixRedirectSize, uint64(20+i)))
	}
	return o
}

// mix is the mixed workload aimed at one stack, with every URL minted up
// front so that signing is not part of what is measured.
type mix struct {
	st                          *stack
	objs                        mixObjects
	inlineURL, largeURL, forged []string
	unsigned                    []string
	puts                        [][]string // per worker
	putBody                     []byte
	noFollow, follow            *http.Client
}

func newMix(t testing.TB, st *stack, objs mixObjects, workers int) *mix {
	t.Helper()
	m := &mix{st: st, objs: objs, putBody: randomBytes(mixPutSize, 99)}
	m.noFollow, m.follow = newClients(t)
	for _, o := range objs.inline {
		m.inlineURL = append(m.inlineURL, through(t, st.base, st.signedGet(t, o.key)))
		m.forged = append(m.forged, tamper(t, m.inlineURL[len(m.inlineURL)-1]))
		m.unsigned = append(m.unsigned, st.base+"/"+o.key)
	}
	for _, o := range objs.large {
		m.largeURL = append(m.largeURL, through(t, st.base, st.signedGet(t, o.key)))
		m.forged = append(m.forged, tamper(t, m.largeURL[len(m.largeURL)-1]))
	}
	// Each worker writes its own keys, so no two uploads race on one.
	for w := range workers {
		var urls []string
		for j := range 4 {
			urls = append(urls, through(t, st.base, st.signedPut(t, fmt.Sprintf("load/uploads/w%02d-%d.bin", w, j))))
		}
		m.puts = append(m.puts, urls)
	}
	return m
}

// schedule is n request kinds in the mix's proportions, in a fixed
// pseudo-random order.
func schedule(n int, salt uint64) []string {
	total := 0
	for _, w := range mixWeights {
		total += w.weight
	}
	kinds := make([]string, 0, n)
	for i := 0; len(kinds) < n; i++ {
		for _, w := range mixWeights {
			for j := 0; j < w.weight && len(kinds) < n; j++ {
				kinds = append(kinds, w.kind)
			}
		}
	}
	r := rand.New(rand.NewPCG(uint64(n), salt))
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return kinds
}

func send(c *http.Client, method, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// do sends one request of kind and checks the answer is the expected one.
func (m *mix) do(kind string, w, i int) error {
	var (
		resp *http.Response
		err  error
		want = http.StatusOK
	)
	switch kind {
	case "ping":
		resp, err = send(m.noFollow, http.MethodGet, m.st.base+"/ping", nil)
	case "inline":
		resp, err = send(m.noFollow, http.MethodGet, m.inlineURL[i%len(m.inlineURL)], nil)
	case "redirect":
		resp, err = send(m.noFollow, http.MethodGet, m.largeURL[i%len(m.largeURL)], nil)
		want = http.StatusTemporaryRedirect
	case "redirect-follow":
		resp, err = send(m.follow, http.MethodGet, m.largeURL[i%len(m.largeURL)], nil)
	case "denied-tampered":
		resp, err = send(m.noFollow, http.MethodGet, m.forged[i%len(m.forged)], nil)
		want = http.StatusForbidden
	case "denied-unsigned":
		resp, err = send(m.noFollow, http.MethodGet, m.unsigned[i%len(m.unsigned)], nil)
		want = http.StatusForbidden
	case "put":
		resp, err = send(m.noFollow, http.MethodPut, m.puts[w][i%len(m.puts[w])], m.putBody)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("status %d, want %d: %s", resp.StatusCode, want, b)
	}
	switch kind {
	case "inline":
		return checkBody(resp.Body, m.objs.inline[i%len(m.objs.inline)])
	case "redirect-follow":
		return checkBody(resp.Body, m.objs.large[i%len(m.objs.large)])
	case "redirect":
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, m.st.gw.URL+"/") || !strings.Contains(loc, "X-Amz-SignedHeaders=host&") {
			return fmt.Errorf("307 to %.80q, want a URL on the endpoint signing host only", loc)
		}
	case "denied-tampered", "denied-unsigned":
		if loc := resp.Header.Get("Location"); loc != "" {
			return errors.New("a denied request carries a Location")
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if !bytes.Contains(b, []byte("<Error>")) {
			return fmt.Errorf("403 without an S3 error body: %.200q", b)
		}
	case "put":
		if resp.Header.Get("ETag") == "" {
			return errors.New("PUT answered without an ETag")
		}
	}
	return nil
}

// TestLoadSmoke is the short version that runs in `make test`: a few
// hundred mixed requests at concurrency 8, every one answered as expected.
// Under S3PROXY_TWIN_LAMBDA=process the function is the real bootstrap.
func TestLoadSmoke(t *testing.T) {
	gw := startGateway(t)
	st := newStack(t, gw, peertest.ProcessMode(), mixInlineMax)
	m := newMix(t, st, seedMix(t, st), 8)
	kinds := schedule(400, 1)
	res := run(kinds, 8, m.do)
	t.Logf("smoke (%s):\n%s", modeName(peertest.ProcessMode()), res.table())
	if res.Unexpected != 0 {
		t.Errorf("%d unexpected answers; first: %v", res.Unexpected, res.FirstErrors)
	}
	if f := st.inv.fails.Load(); f != 0 {
		t.Errorf("%d invocations failed at the function boundary", f)
	}
	for _, w := range mixWeights {
		if res.kind(w.kind).N == 0 {
			t.Errorf("the schedule sent no %s request", w.kind)
		}
	}
}

func modeName(process bool) string {
	if process {
		return "bootstrap under aws-lambda-rie"
	}
	return "in-process"
}

// loadSummary is build/load/load.json.
type loadSummary struct {
	Command   string       `json:"command"`
	Machine   machine      `json:"machine"`
	Mix       []mixShare   `json:"mix"`
	InProcess loadInProc   `json:"inProcess"`
	Process   loadEmulated `json:"process"`
}

type mixShare struct {
	Kind    string `json:"kind"`
	Percent int    `json:"percent"`
}

type loadInProc struct {
	Run runResult `json:"run"`
	// TestProcessPeakRSSMiB is VmHWM of the test process (client, twin and
	// function together), reset just before the run.
	TestProcessPeakRSSMiB float64  `json:"testProcessPeakRssMiB"`
	TestProcessCPUSeconds float64  `json:"testProcessCpuSeconds"`
	GatewayPeakRSSMiB     float64  `json:"versitygwPeakRssMiB"`
	GatewayCPUSeconds     float64  `json:"versitygwCpuSeconds"`
	Boundary              boundary `json:"functionBoundary"`
}

type loadEmulated struct {
	Run runResult `json:"run"`
	// BootstrapPeakRSSMiB is VmHWM of the bootstrap over its whole life
	// (init, warm-up and the run).
	BootstrapPeakRSSMiB   float64          `json:"bootstrapPeakRssMiB"`
	BootstrapCPUSeconds   float64          `json:"bootstrapCpuSeconds"`
	EmulatorCPUSeconds    float64          `json:"emulatorCpuSeconds"`
	TestProcessPeakRSSMiB float64          `json:"testProcessPeakRssMiB"`
	TestProcessCPUSeconds float64          `json:"testProcessCpuSeconds"`
	Boundary              boundary         `json:"functionBoundary"`
	Durations             []decisionTiming `json:"durationsByDecision"`
}

// decisionTiming is the function's time per invocation, by decision: the
// handler's own measure and the emulator's REPORT Duration, which is what
// Lambda bills (rounded up to 1 ms).
type decisionTiming struct {
	Decision        string  `json:"decision"`
	N               int     `json:"n"`
	HandlerP50Ms    float64 `json:"handlerP50Ms"`
	HandlerP99Ms    float64 `json:"handlerP99Ms"`
	ReportP50Ms     float64 `json:"reportDurationP50Ms"`
	ReportP99Ms     float64 `json:"reportDurationP99Ms"`
	BilledMeanMs    float64 `json:"billedDurationMeanMs"`
	ReportedMeanMs  float64 `json:"reportDurationMeanMs"`
	HandlerMeanMs   float64 `json:"handlerMeanMs"`
	DecisionPercent float64 `json:"percentOfInvocations"`
}

func timings(l *fnLog) []decisionTiming {
	by := l.byDecision()
	total := 0
	for _, v := range by {
		total += len(v)
	}
	var out []decisionTiming
	for _, d := range slices.Sorted(maps.Keys(by)) {
		inv := by[d]
		var h, r, b []float64
		for _, x := range inv {
			h, r, b = append(h, x.handlerMs), append(r, x.durationMs), append(b, x.billedMs)
		}
		hs, rs, bs := summarize(d, h, 0), summarize(d, r, 0), summarize(d, b, 0)
		out = append(out, decisionTiming{
			Decision: d, N: len(inv),
			HandlerP50Ms: hs.P50Ms, HandlerP99Ms: hs.P99Ms, HandlerMeanMs: hs.MeanMs,
			ReportP50Ms: rs.P50Ms, ReportP99Ms: rs.P99Ms, ReportedMeanMs: rs.MeanMs,
			BilledMeanMs:    bs.MeanMs,
			DecisionPercent: round3(100 * float64(len(inv)) / float64(max(total, 1))),
		})
	}
	return out
}

func timingTable(ts []decisionTiming) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-14s %6s %12s %12s %12s %12s %12s\n", "decision", "n", "handler p50", "handler p99", "REPORT p50", "REPORT p99", "billed mean")
	for _, d := range ts {
		fmt.Fprintf(&b, "  %-14s %6d %12.3f %12.3f %12.3f %12.3f %12.3f\n", d.Decision, d.N, d.HandlerP50Ms, d.HandlerP99Ms, d.ReportP50Ms, d.ReportP99Ms, d.BilledMeanMs)
	}
	return b.String()
}

// TestLoad is the bounded load run: 10,000 mixed requests at concurrency 32
// through the twin with the function in-process, then 1,000 at concurrency
// 4 with the function as the real bootstrap under the emulator, which
// serialises invocations (passthrough PUTs and followed redirects do not
// reach the function, so they still overlap).
func TestLoad(t *testing.T) {
	fullRun(t)
	const (
		inN, inConc     = 10_000, 32
		procN, procConc = 1_000, 4
	)
	sum := loadSummary{
		Command: "S3PROXY_LOAD=1 go test -count=1 -timeout 30m -v -run 'TestLoad$' ./test/load/",
		Machine: describeMachine(),
	}
	for _, w := range mixWeights {
		sum.Mix = append(sum.Mix, mixShare{w.kind, w.weight})
	}
	gw := startGateway(t)
	self := os.Getpid()

	t.Run("inprocess", func(t *testing.T) {
		st := newStack(t, gw, false, mixInlineMax)
		m := newMix(t, st, seedMix(t, st), inConc)
		if r := run(schedule(200, 7), inConc, m.do); r.Unexpected != 0 {
			t.Fatalf("warm-up: %d unexpected; first: %v", r.Unexpected, r.FirstErrors)
		}
		_ = resetPeakRSS(self)
		_ = resetPeakRSS(gw.PID)
		b0, g0, i0 := snap(self), snap(gw.PID), st.inv.snapshot()
		res := run(schedule(scaled(inN), 2), inConc, m.do)
		b1, g1 := snap(self), snap(gw.PID)
		sum.InProcess = loadInProc{
			Run:                   res,
			TestProcessPeakRSSMiB: round3(peakRSSMiB(self)),
			TestProcessCPUSeconds: round3(since(b0, b1).CPUSeconds),
			GatewayPeakRSSMiB:     round3(peakRSSMiB(gw.PID)),
			GatewayCPUSeconds:     round3(since(g0, g1).CPUSeconds),
			Boundary:              st.inv.snapshot().sub(i0),
		}
		t.Logf("in-process function, versitygw:\n%s  peak RSS: test process %.1f MiB (client+twin+function), versitygw %.1f MiB; CPU: test process %.2f s, versitygw %.2f s",
			res.table(), sum.InProcess.TestProcessPeakRSSMiB, sum.InProcess.GatewayPeakRSSMiB, sum.InProcess.TestProcessCPUSeconds, sum.InProcess.GatewayCPUSeconds)
		if res.Unexpected != 0 {
			t.Errorf("%d unexpected answers; first: %v", res.Unexpected, res.FirstErrors)
		}
	})

	t.Run("process", func(t *testing.T) {
		st := newStack(t, gw, true, mixInlineMax)
		m := newMix(t, st, seedMix(t, st), procConc)
		if r := run(schedule(50, 7), procConc, m.do); r.Unexpected != 0 {
			t.Fatalf("warm-up: %d unexpected; first: %v", r.Unexpected, r.FirstErrors)
		}
		boot := st.fn.bootstrapPID(t)
		st.fn.log.reset()
		_ = resetPeakRSS(self)
		s0, b0, e0, i0 := snap(self), snap(boot), snap(st.fn.riePID), st.inv.snapshot()
		res := run(schedule(scaled(procN), 3), procConc, m.do)
		s1, b1, e1 := snap(self), snap(boot), snap(st.fn.riePID)
		if now := st.fn.bootstrapPID(t); now != boot {
			t.Errorf("the bootstrap was restarted during the run (pid %d, then %d)", boot, now)
		}
		time.Sleep(100 * time.Millisecond) // the last REPORT lines
		sum.Process = loadEmulated{
			Run:                   res,
			BootstrapPeakRSSMiB:   round3(peakRSSMiB(boot)),
			BootstrapCPUSeconds:   round3(since(b0, b1).CPUSeconds),
			EmulatorCPUSeconds:    round3(since(e0, e1).CPUSeconds),
			TestProcessPeakRSSMiB: round3(peakRSSMiB(self)),
			TestProcessCPUSeconds: round3(since(s0, s1).CPUSeconds),
			Boundary:              st.inv.snapshot().sub(i0),
			Durations:             timings(st.fn.log),
		}
		t.Logf("bootstrap under aws-lambda-rie, versitygw:\n%s  peak RSS: bootstrap %.1f MiB, test process %.1f MiB; CPU: bootstrap %.2f s, emulator %.2f s, test process %.2f s\n  function time by decision (ms):\n%s",
			res.table(), sum.Process.BootstrapPeakRSSMiB, sum.Process.TestProcessPeakRSSMiB,
			sum.Process.BootstrapCPUSeconds, sum.Process.EmulatorCPUSeconds, sum.Process.TestProcessCPUSeconds, timingTable(sum.Process.Durations))
		if res.Unexpected != 0 {
			t.Errorf("%d unexpected answers; first: %v", res.Unexpected, res.FirstErrors)
		}
	})
	writeSummary(t, "load", sum)
}
