package load_test

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// Lambda's arm64 prices in us-east-1 (docs/cost.md §2 has the sources):
// per GB-second for the first 7.5 billion GB-s a month, and per request.
// Duration is billed per 1 ms, rounded up.
const (
	priceGBs     = 0.0000133334
	priceRequest = 0.20 / 1e6
)

// powerSizes are the memory sizes TestPower models, in MB; 1769 MB is one
// full vCPU (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
var powerSizes = []int{128, 256, 512, 1024, 1769}

// powerPeriods are the CFS periods the share is enforced over, in µs. The
// kernel refuses a quota under 1 ms, so the short period is 20 ms: 128 MB's
// share of it is 1.45 ms.
var powerPeriods = []int{100_000, 20_000}

// powerRow is one decision at one size and period.
type powerRow struct {
	PeriodMs  int     `json:"periodMs"`
	MemoryMB  int     `json:"memoryMB"`
	Decision  string  `json:"decision"`
	N         int     `json:"n"`
	P50Billed float64 `json:"p50BilledMs"`
	P99Billed float64 `json:"p99BilledMs"`
	Mean      float64 `json:"meanBilledMs"`
	DollarsM  float64 `json:"dollarsPerMillion"`
}

// powerCold is the cold start at one size and period.
type powerCold struct {
	PeriodMs    int       `json:"periodMs"`
	MemoryMB    int       `json:"memoryMB"`
	InitMs      []float64 `json:"initReportMs"`
	FirstBilled []float64 `json:"firstInvokeBilledMs"`
	ClientMs    []float64 `json:"spawnToFirstAnswerMs"`
}

// dollarsPerMillion is Lambda's charge for a million invocations billed
// meanMs each at memMB.
func dollarsPerMillion(memMB int, meanMs float64) float64 {
	return 1e6 * (priceRequest + float64(memMB)/1024*meanMs/1000*priceGBs)
}

// TestPower models Lambda's memory sizes before a deploy: the real
// bootstrap under the emulator, inside a cgroup CPU quota of memory/1769 of
// one core, for each decision the function makes. It reports the billed
// duration (the emulator's REPORT lines, rounded up to 1 ms as Lambda
// bills) and $ per million requests, and the cold start under the same
// quota. versitygw runs outside the quota, on loopback. `make power` runs
// it; it needs root and a cgroup CPU controller, and skips otherwise.
//
// The emulator is in the quota while it starts the function, so the cold
// start counts everything up to the first answer, then it is moved out: on
// Lambda the runtime API is not the function's CPU.
func TestPower(t *testing.T) {
	if os.Getenv("S3PROXY_POWER") != "1" {
		t.Skip("a measuring run: make power (S3PROXY_POWER=1)")
	}
	probe, err := newCPUQuota(fmt.Sprintf("s3proxy-power-probe-%d", os.Getpid()), 50_000, 100_000)
	if err != nil {
		t.Skipf("cannot model Lambda's CPU share here: %v", err)
	}
	_ = probe.remove()

	n := 25
	if v, err := strconv.Atoi(os.Getenv("S3PROXY_POWER_N")); err == nil && v > 0 {
		n = v
	}
	colds := 3
	gw := startKeepAliveGateway(t)
	objs := seedDecisions(t, gw)
	bin := peertest.Bootstrap(t)
	var rows []powerRow
	var coldRows []powerCold
	start := time.Now()
	for _, period := range powerPeriods {
		for _, mem := range powerSizes {
			quota := period * mem / 1769
			cg, err := newCPUQuota(fmt.Sprintf("s3proxy-power-%d-%d-%d", os.Getpid(), period, mem), quota, period)
			if err != nil {
				t.Fatalf("%d MB, period %d µs: %v", mem, period, err)
			}
			t.Cleanup(func() { _ = cg.remove() })
			cold := powerCold{PeriodMs: period / 1000, MemoryMB: mem}
			var d *decisionTarget
			var fn *function
			for c := range colds {
				env, cfg := decisionEnv(gw)
				env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(mem)
				fn = startFunction(t, env, bin, "")
				if err := cg.move(fn.riePID); err != nil {
					t.Fatalf("moving the emulator into the quota: %v", err)
				}
				d = newDecisionTarget(t, gw, cfg, fn, objs)
				if err := d.do("ping"); err != nil {
					t.Fatalf("cold ping: %v", err)
				}
				cold.ClientMs = append(cold.ClientMs, ms(time.Since(fn.startedAt)))
				_ = cg.release(fn.riePID)
				if inits := fn.log.inits(); len(inits) > 0 {
					cold.InitMs = append(cold.InitMs, inits[len(inits)-1])
				}
				for _, inv := range fn.log.byDecision()["ping"] {
					cold.FirstBilled = append(cold.FirstBilled, inv.billedMs)
				}
				if c < colds-1 {
					_ = fn.em.Close()
				}
			}
			coldRows = append(coldRows, cold)
			// Warm: a few of each first, then n of each, interleaved so
			// that a noisy moment spreads over every decision.
			for range 3 {
				for _, k := range decisionKinds {
					if err := d.do(k); err != nil {
						t.Fatalf("%d MB warm-up: %v", mem, err)
					}
				}
			}
			fn.log.reset()
			for range n {
				for _, k := range decisionKinds {
					if err := d.do(k); err != nil {
						t.Fatalf("%d MB: %v", mem, err)
					}
				}
			}
			waitReported(t, fn, n*len(decisionKinds))
			thr, thrMs := cg.throttled()
			byDec := fn.log.byDecision()
			for _, k := range decisionKinds {
				invs := byDec[logDecision(k)]
				if k != logDecision(k) {
					invs = filterInline(invs, k)
				}
				var billed []float64
				for _, inv := range invs {
					billed = append(billed, inv.billedMs)
				}
				sort.Float64s(billed)
				var sum float64
				for _, v := range billed {
					sum += v
				}
				mean := sum / math.Max(1, float64(len(billed)))
				rows = append(rows, powerRow{
					PeriodMs: period / 1000, MemoryMB: mem, Decision: k, N: len(billed),
					P50Billed: percentile(billed, 0.5), P99Billed: percentile(billed, 0.99),
					Mean: round3(mean), DollarsM: round3(dollarsPerMillion(mem, mean)),
				})
			}
			_ = fn.em.Close()
			t.Logf("period %d ms, %d MB (quota %d µs): done at %s; the quota held the function back in %d periods, %.0f ms in all",
				period/1000, mem, quota, time.Since(start).Round(time.Second), thr, thrMs)
		}
	}
	t.Logf("\n%s", powerTable(rows, coldRows))
	writeSummary(t, "power", map[string]any{
		"machine":   describeMachine(),
		"command":   "make power",
		"n":         n,
		"prices":    map[string]any{"region": "us-east-1", "arm64PerGBs": priceGBs, "perRequest": priceRequest * 1e6},
		"decisions": rows,
		"coldStart": coldRows,
	})
}

// logDecision maps a decision kind to the handler's logged decision.
func logDecision(kind string) string {
	if strings.HasPrefix(kind, "inline-") {
		return "inline"
	}
	if kind == "redirect" {
		return "redirect"
	}
	return kind
}

// filterInline keeps the inline invocations of one size class: the log's
// inlineBytes tells them apart.
func filterInline(invs []invocation, kind string) []invocation {
	want := decisionSizes[kind]
	var out []invocation
	for _, inv := range invs {
		if inv.inlineBytes == want {
			out = append(out, inv)
		}
	}
	return out
}

// waitReported waits until the emulator has reported n invocations.
func waitReported(t *testing.T, fn *function, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got := 0
		for _, invs := range fn.log.byDecision() {
			got += len(invs)
		}
		if got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	counts := map[string]int{}
	for d, invs := range fn.log.byDecision() {
		counts[d] = len(invs)
	}
	t.Fatalf("the emulator reported fewer than %d invocations: %v", n, counts)
}

// powerTable is the decision table and the cold-start table, in Markdown.
func powerTable(rows []powerRow, colds []powerCold) string {
	var b strings.Builder
	b.WriteString("| period ms | memory MB | decision | n | p50 billed ms | p99 billed ms | mean billed ms | $ per million |\n| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d | %s | %d | %.0f | %.0f | %.2f | %.3f |\n", r.PeriodMs, r.MemoryMB, r.Decision, r.N, r.P50Billed, r.P99Billed, r.Mean, r.DollarsM)
	}
	b.WriteString("\n| period ms | memory MB | INIT REPORT ms (each) | first invoke billed ms | spawn → first answer ms |\n| ---: | ---: | --- | --- | --- |\n")
	for _, c := range colds {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s |\n", c.PeriodMs, c.MemoryMB, join(c.InitMs), join(c.FirstBilled), join(c.ClientMs))
	}
	return b.String()
}

func join(vs []float64) string {
	s := slices.Clone(vs)
	var parts []string
	for _, v := range s {
		parts = append(parts, strconv.FormatFloat(v, 'f', 1, 64))
	}
	return strings.Join(parts, " · ")
}
