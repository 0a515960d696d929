package peertest

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// ProcessMode reports whether twin suites should run the function as the
// real bootstrap under the Lambda Runtime Interface Emulator
// (S3PROXY_TWIN_LAMBDA=process) rather than in-process. `make test` runs the
// suites both ways, so everything in-process mode proves holds for the
// deployed binary too.
func ProcessMode() bool { return os.Getenv("S3PROXY_TWIN_LAMBDA") == "process" }

type build struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// Bootstrap builds ./functions/proxy exactly as deployed (CGO off,
// lambda.norpc, trimpath, stripped) but for this machine's architecture.
func Bootstrap(t testing.TB) string { return BootstrapFor(t, runtime.GOARCH) }

// BootstrapFor builds the function for goarch, once per test process, into
// the module's build directory.
func BootstrapFor(t testing.TB, goarch string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the bootstrap and aws-lambda-rie run on Linux only")
	}
	buildsMu.Lock()
	b := builds[goarch]
	if b == nil {
		b = &build{}
		builds[goarch] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		// Test binaries of several packages build at once, and another may
		// be running the file: build beside it and rename into place, so
		// a running bootstrap keeps its inode and no reader sees half a
		// file.
		out := filepath.Join(root, "build", "test", goarch, "bootstrap")
		tmp := out + "." + strconv.Itoa(os.Getpid())
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./functions/proxy")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if b.out, b.err = cmd.CombinedOutput(); b.err == nil {
			b.err = os.Rename(tmp, out)
		}
		b.path = out
	})
	if b.err != nil {
		t.Fatalf("building ./functions/proxy for %s: %v\n%s", goarch, b.err, b.out)
	}
	return b.path
}

// StartFunction runs the bootstrap under the emulator with env as its whole
// environment (plus AWS_LAMBDA_LOG_FORMAT=JSON and an empty HOME), on
// loopback, and stops it when the test ends. Its output goes to the test log.
func StartFunction(t testing.TB, env map[string]string) *twin.Emulator {
	t.Helper()
	return StartFunctionWith(t, env, FunctionOptions{})
}

// FunctionOptions adjust StartFunctionWith. The zero value is
// StartFunction's behaviour.
type FunctionOptions struct {
	// Bootstrap is the function binary; empty builds the native one.
	Bootstrap string
	// Wrapper runs the bootstrap through another program, such as
	// qemu-aarch64-static for the arm64 artifact.
	Wrapper string
	// Output receives the emulator's and the function's output; nil sends
	// it to the test log.
	Output io.Writer
	// Timeout is the function's timeout; zero is 30s.
	Timeout time.Duration
}

// StartFunctionWith is StartFunction with o's adjustments.
func StartFunctionWith(t testing.TB, env map[string]string, o FunctionOptions) *twin.Emulator {
	t.Helper()
	rie := Binary(t, "aws-lambda-rie")
	if o.Bootstrap == "" {
		o.Bootstrap = Bootstrap(t)
	}
	if o.Output == nil {
		o.Output = testWriter{t}
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	vars := []string{"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := twin.StartEmulator(ctx, twin.EmulatorOptions{
		RIE: rie, Bootstrap: o.Bootstrap, Wrapper: o.Wrapper, Env: vars, FunctionTimeout: o.Timeout, Stdout: o.Output, Stderr: o.Output,
	})
	if err != nil {
		t.Fatalf("starting the function under aws-lambda-rie: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("function: %s", p)
	return len(p), nil
}

// Function is the proxy function for the S3PROXY_* settings in env, built
// as `s3proxy serve` builds it: in this process, or, in process mode, as the
// real bootstrap under the emulator. The peer's credentials sign the
// function's redirects, as the execution role's do in AWS. env is not
// changed.
func Function(t testing.TB, env map[string]string, peer *S3, logger *slog.Logger) (*config.Config, twin.Invoker) {
	t.Helper()
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("peertest: function config: %v", err)
	}
	if ProcessMode() {
		vars := maps.Clone(env)
		vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"], vars["AWS_REGION"] = peer.AccessKeyID, peer.SecretAccessKey, peer.Region
		if vars["S3PROXY_LOG_LEVEL"] == "" {
			vars["S3PROXY_LOG_LEVEL"] = "warn"
		}
		return cfg, StartFunction(t, vars)
	}
	h := proxy.Wire(cfg, peer.AWSConfig(), logger, lambdalog.RequestID)
	return cfg, twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithRefused(h.Refused))}
}
