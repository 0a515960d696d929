package load_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// inlineCPURow is one side's CPU per read at one size, in one round.
type inlineCPURow struct {
	Round int     `json:"round"`
	Side  string  `json:"side"`
	Kind  string  `json:"kind"`
	Reads int     `json:"reads"`
	CPUms float64 `json:"computeCpuMsPerRead"`
	// TickCPUms is the same from /proc/<pid>/stat's 10 ms ticks, as a
	// check on the schedstat sum.
	TickCPUms float64 `json:"tickCpuMsPerRead"`
	EmuCPUms  float64 `json:"emulatorCpuMsPerRead,omitempty"`
}

// buildBaseline builds the bootstrap from git revision rev of this
// repository, for the side-by-side measurement.
func buildBaseline(t *testing.T, rev, goarch string) string {
	t.Helper()
	src := t.TempDir()
	root := peertest.ModuleRoot(t)
	archive := exec.Command("sh", "-c", "git -C \"$0\" archive \"$1\" | tar -x -C \"$2\"", root, rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, out)
	}
	out := filepath.Join(t.TempDir(), "bootstrap-baseline")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "./functions/proxy")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the baseline bootstrap at %s: %v\n%s", rev, err, b)
	}
	return out
}

// TestInlineCPU measures the compute CPU of one inline read, 8 KB and
// 100 KB, for the relay (the stand-in for ShotGrid's nginx), the bootstrap
// at S3PROXY_BASELINE_REV (when set) and the bootstrap of this tree, in
// alternating rounds of one run, against one keep-alive versitygw. The
// function is told it has 512 MB, the template's default.
//
//	S3PROXY_LOAD=1 S3PROXY_BASELINE_REV=<rev> go test -count=1 -run TestInlineCPU -v ./test/load/
func TestInlineCPU(t *testing.T) {
	fullRun(t)
	reads, rounds := 300, 3
	if n, err := strconv.Atoi(os.Getenv("S3PROXY_INLINE_READS")); err == nil && n > 0 {
		reads = n
	}
	gw := startKeepAliveGateway(t)
	objs := seedDecisions(t, gw)
	// One P, as the function has at 512 MB and as nginx has one worker: the
	// relay is then Go's own floor for the read, with no runtime API.
	relay := startRelay(t, gw.URL, "GOMAXPROCS=1")
	type side struct {
		name string
		fn   *function
		d    *decisionTarget
	}
	var sides []side
	// S3PROXY_INLINE_ARCH=arm64 runs both builds for arm64 under
	// qemu-user: only their ratio means anything then, not the relay's.
	goarch, wrapper := runtime.GOARCH, ""
	if a := os.Getenv("S3PROXY_INLINE_ARCH"); a != "" && a != runtime.GOARCH {
		q, err := exec.LookPath("qemu-aarch64-static")
		if err != nil {
			t.Skip("qemu-aarch64-static is not installed")
		}
		goarch, wrapper = a, q
	}
	bins := [][2]string{{"s3proxy", buildBootstrapTagged(t, t.TempDir(), goarch, "")}}
	if rev := os.Getenv("S3PROXY_BASELINE_REV"); rev != "" {
		bins = append([][2]string{{"baseline " + rev, buildBaseline(t, rev, goarch)}}, bins...)
	}
	for _, b := range bins {
		env, cfg := decisionEnv(gw)
		env["S3PROXY_LOG_LEVEL"] = "warn"
		env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "512"
		fn := startFunction(t, env, b[1], wrapper)
		sides = append(sides, side{b[0], fn, newDecisionTarget(t, gw, cfg, fn, objs)})
	}
	// The relays are aimed at with the same signed URLs, through their own
	// bases: the Go relay, and nginx with ShotGrid's configuration where it
	// is installed.
	type relaySide struct {
		name   string
		proc   *relayProc
		target decisionTarget
	}
	relays := []*relaySide{{name: "relay", proc: relay}}
	if ng := startNginx(t, gw.URL); ng != nil {
		relays = append(relays, &relaySide{name: "nginx", proc: ng})
	}
	for _, rs := range relays {
		rs.target = *sides[0].d
		rs.target.urls = map[string]string{}
		for k, u := range sides[0].d.urls {
			rs.target.urls[k] = rs.proc.base + u[len(sides[0].d.base):]
		}
	}
	kinds := []string{"inline-8KB", "inline-100KB"}
	if k := os.Getenv("S3PROXY_INLINE_KINDS"); k != "" {
		kinds = strings.Fields(k) // e.g. "ping inline-8KB", to see the floor
	}
	for _, sd := range sides {
		for _, k := range kinds {
			for range 20 {
				if err := sd.d.do(k); err != nil {
					t.Fatalf("warm-up %s: %v", sd.name, err)
				}
			}
		}
	}
	// The relay only reads objects: S3 answers its /ping with a 403.
	relayKinds := slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return !strings.HasPrefix(k, "inline-") })
	for _, rs := range relays {
		for _, k := range relayKinds {
			for range 20 {
				if err := rs.target.do(k); err != nil {
					t.Fatalf("warm-up %s: %v", rs.name, err)
				}
			}
		}
	}
	var rows []inlineCPURow
	measure := func(round int, name string, d *decisionTarget, pid, emu int, kind string) {
		before, err := procRunSeconds(pid)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ticksBefore, _ := procCPU(pid)
		var emuBefore float64
		if emu > 0 {
			emuBefore, _ = procRunSeconds(emu)
		}
		for range reads {
			if err := d.do(kind); err != nil {
				t.Fatalf("%s %s: %v", name, kind, err)
			}
		}
		after, _ := procRunSeconds(pid)
		ticksAfter, _ := procCPU(pid)
		row := inlineCPURow{Round: round, Side: name, Kind: kind, Reads: reads, CPUms: round3((after - before) * 1000 / float64(reads)),
			TickCPUms: round3((ticksAfter - ticksBefore) * 1000 / float64(reads))}
		if emu > 0 {
			emuAfter, _ := procRunSeconds(emu)
			row.EmuCPUms = round3((emuAfter - emuBefore) * 1000 / float64(reads))
		}
		rows = append(rows, row)
		t.Logf("round %d  %-22s %-13s %.3f ms CPU per read (%.3f in ticks)", round, name, kind, row.CPUms, row.TickCPUms)
	}
	for round := 1; round <= rounds; round++ {
		for _, k := range kinds {
			if slices.Contains(relayKinds, k) {
				for _, rs := range relays {
					measure(round, rs.name, &rs.target, rs.proc.pid, 0, k)
				}
			}
			for _, sd := range sides {
				measure(round, sd.name, sd.d, sd.fn.bootstrapPID(t), sd.fn.riePID, k)
			}
		}
	}
	writeSummary(t, "inlinecpu-"+goarch, map[string]any{
		"machine": describeMachine(),
		"command": "S3PROXY_LOAD=1 S3PROXY_BASELINE_REV=<rev> go test -count=1 -run TestInlineCPU -v ./test/load/",
		"rows":    rows,
	})
}
