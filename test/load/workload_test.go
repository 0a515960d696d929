package load_test

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latency summarises one kind of request, client-side.
type latency struct {
	Kind       string  `json:"kind"`
	N          int     `json:"n"`
	Unexpected int     `json:"unexpected"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	MeanMs     float64 `json:"meanMs"`
}

// percentile is the nearest-rank p-quantile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func summarize(kind string, ms []float64, unexpected int) latency {
	s := slices.Clone(ms)
	sort.Float64s(s)
	l := latency{Kind: kind, N: len(s), Unexpected: unexpected}
	if len(s) == 0 {
		return l
	}
	var sum float64
	for _, v := range s {
		sum += v
	}
	l.P50Ms, l.P99Ms, l.MaxMs, l.MeanMs = round3(percentile(s, 0.5)), round3(percentile(s, 0.99)), round3(s[len(s)-1]), round3(sum/float64(len(s)))
	return l
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// runResult is one run of a workload.
type runResult struct {
	Requests      int       `json:"requests"`
	Concurrency   int       `json:"concurrency"`
	WallSeconds   float64   `json:"wallSeconds"`
	ThroughputRPS float64   `json:"throughputRps"`
	Unexpected    int       `json:"unexpected"`
	Overall       latency   `json:"overall"`
	Kinds         []latency `json:"kinds"`
	FirstErrors   []string  `json:"firstErrors,omitempty"`
}

func (r runResult) kind(k string) latency {
	for _, l := range r.Kinds {
		if l.Kind == k {
			return l
		}
	}
	return latency{Kind: k}
}

// run sends len(kinds) requests, kinds[i] being the i-th, from conc
// workers; do performs one and returns nil when the answer was the expected
// one. Latency is measured around do, so it includes reading the body.
func run(kinds []string, conc int, do func(kind string, worker, seq int) error) runResult {
	type sample struct {
		kind string
		ms   float64
		err  error
	}
	per := make([][]sample, conc)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(kinds) {
					return
				}
				t0 := time.Now()
				err := do(kinds[i], w, i)
				per[w] = append(per[w], sample{kinds[i], float64(time.Since(t0).Microseconds()) / 1000, err})
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)

	byKind := map[string][]float64{}
	bad := map[string]int{}
	var all []float64
	res := runResult{Requests: len(kinds), Concurrency: conc, WallSeconds: round3(wall.Seconds())}
	for _, ss := range per {
		for _, s := range ss {
			byKind[s.kind] = append(byKind[s.kind], s.ms)
			all = append(all, s.ms)
			if s.err != nil {
				bad[s.kind]++
				res.Unexpected++
				if len(res.FirstErrors) < 10 {
					res.FirstErrors = append(res.FirstErrors, s.kind+": "+s.err.Error())
				}
			}
		}
	}
	res.ThroughputRPS = math.Round(float64(len(kinds)) / wall.Seconds())
	res.Overall = summarize("overall", all, res.Unexpected)
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		res.Kinds = append(res.Kinds, summarize(k, byKind[k], bad[k]))
	}
	return res
}

// table renders latencies as a fixed-width table.
func (r runResult) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, concurrency %d, %.2f s, %.0f req/s, %d unexpected\n",
		r.Requests, r.Concurrency, r.WallSeconds, r.ThroughputRPS, r.Unexpected)
	fmt.Fprintf(&b, "  %-18s %7s %5s %9s %9s %9s %9s\n", "kind", "n", "bad", "p50 ms", "p99 ms", "max ms", "mean ms")
	for _, l := range append(slices.Clone(r.Kinds), r.Overall) {
		fmt.Fprintf(&b, "  %-18s %7d %5d %9.3f %9.3f %9.3f %9.3f\n", l.Kind, l.N, l.Unexpected, l.P50Ms, l.P99Ms, l.MaxMs, l.MeanMs)
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	return b.String()
}
