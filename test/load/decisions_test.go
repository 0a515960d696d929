package load_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// The decisions the function makes, each with the request that provokes
// it. Sizes are the inline classes that matter: a small thumbnail, a large
// one, and an object just under the default inline limit.
var decisionKinds = []string{"ping", "denied-cheap", "denied-by-s3", "inline-8KB", "inline-100KB", "inline-700KB", "redirect"}

// decisionSizes are the objects seeded for the reads, by kind.
var decisionSizes = map[string]int{
	"inline-8KB":   8_000,
	"inline-100KB": 100_000,
	"inline-700KB": 700_000,
	"redirect":     mixRedirectSize,
}

// buildBootstrapTagged builds ./functions/proxy as deployed, for goarch,
// with extra build tags, into dir.
func buildBootstrapTagged(t testing.TB, dir, goarch, tags string) string {
	t.Helper()
	out := filepath.Join(dir, "bootstrap-"+goarch)
	ldflags := "-ldflags=-s -w"
	if os.Getenv("S3PROXY_PROFILE_PERF") == "1" {
		ldflags = "-ldflags=" // symbols, for perf report
	}
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc"+tags, "-trimpath", ldflags, "-o", out, "./functions/proxy")
	cmd.Dir = peertest.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building ./functions/proxy (tags %q): %v\n%s", tags, err, b)
	}
	return out
}

// decisionTarget is the twin in front of one function process, with a
// ready URL for every decision kind.
type decisionTarget struct {
	base string
	urls map[string]string
	want map[string]int
	objs map[string]object
	c    *http.Client
}

// startKeepAliveGateway is versitygw reusing connections, as S3 does: the
// function's upstream client then keeps one connection, as it would in
// AWS, instead of dialling for every request.
func startKeepAliveGateway(t testing.TB) *peertest.S3 {
	t.Helper()
	return peertest.StartVersityGW(t, peertest.VersityGWOptions{
		Buckets: []string{bucket}, Region: region, VirtualDomain: "s3.amazonaws.com", KeepAlive: true,
	})
}

// seedDecisions stores the objects the decision kinds read.
func seedDecisions(t testing.TB, gw *peertest.S3) map[string]object {
	t.Helper()
	objs := map[string]object{}
	i := uint64(40)
	for kind, n := range decisionSizes {
		objs[kind] = seed(t, gw, fmt.Sprintf("power/%s.bin", kind), n, i)
		i++
	}
	return objs
}

// newDecisionTarget puts the twin in front of fn and mints every URL up
// front, so signing is not part of what is measured.
func newDecisionTarget(t testing.TB, gw *peertest.S3, cfg *config.Config, fn *function, objs map[string]object) *decisionTarget {
	t.Helper()
	alb := twin.New(twin.Options{Config: cfg, Passthrough: true, Invoker: fn.em, FunctionTimeout: 30 * time.Second})
	srv := httptest.NewServer(alb)
	t.Cleanup(srv.Close)
	signer := sgurl.NewSigner(gw.Credentials, region, bucket, signedHost)
	d := &decisionTarget{base: srv.URL, urls: map[string]string{}, want: map[string]int{}, objs: objs}
	d.c, _ = newClients(t)
	sign := func(key string) string {
		u, err := signer.Get(t.Context(), key, clientTTL)
		if err != nil {
			t.Fatal(err)
		}
		return through(t, srv.URL, u)
	}
	d.urls["ping"], d.want["ping"] = srv.URL+"/ping", http.StatusOK
	// Expired: the function refuses it without asking S3. (An unsigned
	// URL no longer reaches the function: the load balancer answers it.)
	d.urls["denied-cheap"], d.want["denied-cheap"] = expire(t, sign(objs["inline-8KB"].key)), http.StatusForbidden
	d.urls["denied-by-s3"], d.want["denied-by-s3"] = tamper(t, sign(objs["inline-8KB"].key)), http.StatusForbidden
	for _, k := range []string{"inline-8KB", "inline-100KB", "inline-700KB"} {
		d.urls[k], d.want[k] = sign(objs[k].key), http.StatusOK
	}
	d.urls["redirect"], d.want["redirect"] = sign(objs["redirect"].key), http.StatusTemporaryRedirect
	return d
}

// do sends one request of kind and checks status (and body, for reads).
func (d *decisionTarget) do(kind string) error {
	resp, err := send(d.c, http.MethodGet, d.urls[kind], nil)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != d.want[kind] {
		return fmt.Errorf("%s: status %d, want %d", kind, resp.StatusCode, d.want[kind])
	}
	if o, ok := d.objs[kind]; ok && resp.StatusCode == http.StatusOK {
		return checkBody(resp.Body, o)
	}
	return nil
}

// decisionEnv is the function's environment in front of gw: the stack's
// configuration with the execution role's credentials.
func decisionEnv(gw *peertest.S3) (map[string]string, *config.Config) {
	env := proxyEnv(gw, mixInlineMax)
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		panic(err)
	}
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"] = gw.AccessKeyID, gw.SecretAccessKey, region
	return env, cfg
}

// TestProfileInline profiles the real bootstrap under the emulator through
// a run of inline reads of one size: CPU and allocations from the runtime
// API through the upstream read to the response post. It runs only with
// S3PROXY_PROFILE=<dir> (relative to the module root); the profiles land
// in <dir>/<kind>/. The bootstrap
// is built with the pprof tag (functions/proxy/profile.go).
//
//	S3PROXY_PROFILE=build/profile go test -count=1 -run TestProfileInline -v ./test/load/
//	go tool pprof -top build/profile/inline-100KB/cpu.pprof
func TestProfileInline(t *testing.T) {
	root := os.Getenv("S3PROXY_PROFILE")
	if root == "" {
		t.Skip("set S3PROXY_PROFILE=<dir> to profile the bootstrap")
	}
	if !filepath.IsAbs(root) {
		root = filepath.Join(peertest.ModuleRoot(t), root)
	}
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("S3PROXY_PROFILE_N")); err == nil && v > 0 {
		n = v // more reads for finer profiles
	}
	gw := startKeepAliveGateway(t)
	objs := seedDecisions(t, gw)
	goarch := runtime.GOARCH
	if a := os.Getenv("S3PROXY_PROFILE_ARCH"); a != "" {
		goarch = a
	}
	bin := buildBootstrapTagged(t, t.TempDir(), goarch, ",pprof")
	wrapper := os.Getenv("S3PROXY_PROFILE_WRAPPER")
	if goarch != runtime.GOARCH {
		q, err := exec.LookPath("qemu-aarch64-static")
		if err != nil {
			t.Skip("qemu-aarch64-static is not installed")
		}
		wrapper = q
	}
	kinds := []string{"inline-8KB", "inline-100KB"}
	if k := os.Getenv("S3PROXY_PROFILE_KINDS"); k != "" {
		kinds = strings.Fields(k) // any of decisionKinds, such as ping
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(root, kind)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			env, cfg := decisionEnv(gw)
			env["S3PROXY_PROFILE_DIR"] = dir
			env["S3PROXY_LOG_LEVEL"] = "warn"
			// Extra settings to try, such as "GOMAXPROCS=1 GOGC=400".
			for _, kv := range strings.Fields(os.Getenv("S3PROXY_PROFILE_ENV")) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			fn := startFunction(t, env, bin, wrapper)
			d := newDecisionTarget(t, gw, cfg, fn, objs)
			for range 20 { // warm-up, and the bootstrap's start
				if err := d.do(kind); err != nil {
					t.Fatal(err)
				}
			}
			pid := fn.bootstrapPID(t)
			// S3PROXY_PROFILE_PERF=1 also records the reads with perf
			// (software cpu-clock, call graphs, kernel included) into
			// perf.data: pprof's signal-driven samples miss the time the
			// kernel spends switching the runtime's threads, which perf sees.
			var perf *exec.Cmd
			if os.Getenv("S3PROXY_PROFILE_PERF") == "1" {
				perf = exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-p", strconv.Itoa(pid), "-o", filepath.Join(dir, "perf.data"))
				if err := perf.Start(); err != nil {
					t.Fatalf("perf: %v", err)
				}
				time.Sleep(300 * time.Millisecond)
			}
			before, _ := procCPU(pid)
			start := time.Now()
			for range n {
				if err := d.do(kind); err != nil {
					t.Fatal(err)
				}
			}
			wall := time.Since(start)
			after, _ := procCPU(pid)
			if perf != nil {
				_ = perf.Process.Signal(syscall.SIGINT)
				_ = perf.Wait()
			}
			// The emulator kills the function as soon as it is told to stop:
			// signal the bootstrap itself first, and wait for its profiles.
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 100 && !exists(filepath.Join(dir, "allocs.pprof")); i++ {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			_ = fn.em.Close()
			for _, f := range []string{"cpu.pprof", "allocs.pprof"} {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Fatalf("no %s written in %s: %v", f, dir, err)
				}
			}
			t.Logf("%s: %d reads, bootstrap CPU %.3f ms per read (/proc, 10 ms ticks), wall %.3f ms per read; profiles in %s",
				kind, n, (after-before)*1000/float64(n), float64(wall.Microseconds())/1000/float64(n), dir)
		})
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// expire moves a presigned URL's X-Amz-Date years back, so that it has
// expired whatever its X-Amz-Expires.
func expire(t testing.TB, u string) string {
	t.Helper()
	const p = "X-Amz-Date="
	i := strings.Index(u, p)
	if i < 0 || len(u) < i+len(p)+16 {
		t.Fatal("no X-Amz-Date in a presigned URL")
	}
	return u[:i+len(p)] + "20200101T000000Z" + u[i+len(p)+16:]
}
