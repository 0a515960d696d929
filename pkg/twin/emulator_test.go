package twin_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// buildBootstrap builds the function as deployed, for this machine's
// architecture so it runs natively under the emulator.
func buildBootstrap(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda bootstrap and aws-lambda-rie run on Linux only")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the bootstrap: %v", err)
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(goBin, "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/proxy")
	cmd.Dir = peertest.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building ./functions/proxy: %v\n%s", err, msg)
	}
	return out
}

// emulatorEnv is the function's whole environment: the sample contract,
// dummy credentials (minting a URL is local; nothing here reaches AWS) and
// nothing from the test's own environment.
func emulatorEnv(t *testing.T, env map[string]string) []string {
	base := map[string]string{
		"AWS_ACCESS_KEY_ID":         "AKIDEMULATORTEST0001",
		"AWS_SECRET_ACCESS_KEY":     "emulator/test/secret/not/a/real/key00000",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_LAMBDA_LOG_FORMAT":     "JSON",
		"HOME":                      t.TempDir(),
	}
	for k, v := range env {
		base[k] = v
	}
	var out []string
	for k, v := range base {
		out = append(out, k+"="+v)
	}
	return out
}

func startEmulator(t *testing.T, rie, bootstrap string, env []string) (*twin.Emulator, *peertest.Output, *peertest.Output) {
	t.Helper()
	stdout, stderr := &peertest.Output{}, &peertest.Output{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := twin.StartEmulator(ctx, twin.EmulatorOptions{
		RIE: rie, Bootstrap: bootstrap, Env: env,
		FunctionTimeout: 10 * time.Second,
		Stdout:          stdout, Stderr: stderr,
	})
	if err != nil {
		t.Fatalf("starting aws-lambda-rie: %v\nstderr:\n%s", err, stderr.Bytes())
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, stdout, stderr
}

// platformLine reports the emulator's own lines on the function's stdout.
func platformLine(line string) bool {
	for _, p := range []string{"START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START", "INIT_REPORT"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// functionLog is stdout without the emulator's START/END/REPORT lines.
func functionLog(out []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) != "" && !platformLine(line) {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

// waitReports waits until the emulator has reported n invocations on stdout,
// since its output arrives after the invocation's answer.
func waitReports(t *testing.T, stdout *peertest.Output, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for bytes.Count(stdout.Bytes(), []byte("REPORT RequestId:")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the emulator reported %d of %d invocations within 5s; stdout:\n%s",
				bytes.Count(stdout.Bytes(), []byte("REPORT RequestId:")), n, stdout.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmulator runs the real bootstrap under the Lambda Runtime Interface
// Emulator, one invocation at a time (the classic emulator crashes on
// concurrent ones), on loopback addresses only.
func TestEmulator(t *testing.T) {
	rie := peertest.Binary(t, "aws-lambda-rie")
	bootstrap := buildBootstrap(t)

	t.Run("samples", func(t *testing.T) {
		s3fake := newSampleS3()
		s3srv := httptest.NewServer(s3fake)
		defer s3srv.Close()
		env := sampleEnv(s3srv.URL)
		e, stdout, stderr := startEmulator(t, rie, bootstrap, emulatorEnv(t, env))

		files := sampleFiles(t)
		checkNoStaleSamples(t, files)
		var secrets, decisions, methods []string
		for _, file := range files {
			name := filepath.Base(file)
			exp := sampleExpectationFor(t, file)
			event, ev := loadSample(t, file, exp.fresh, time.Now().Add(-time.Minute))
			secrets = append(secrets, sampleSecrets(ev)...)
			decisions = append(decisions, exp.decision)
			methods = append(methods, ev.HTTPMethod)
			t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
				s3fake.reset()
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				payload, err := e.Invoke(ctx, event)
				if err != nil {
					t.Fatalf("invoke: %v\nstderr:\n%s", err, stderr.Bytes())
				}
				checkSample(t, exp, ev, payload, s3fake.recorded())
			})
		}

		// End to end through the emulated load balancer as well: a client's
		// HTTP request crosses twin.ALB, the emulator and the bootstrap.
		cfg, err := config.FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		alb := httptest.NewServer(twin.New(twin.Options{Config: cfg, Invoker: e, FunctionTimeout: 10 * time.Second}))
		defer alb.Close()
		resp, err := http.Get(alb.URL + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("GET /ping through twin.ALB and the emulator: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		decisions = append(decisions, "ping")
		methods = append(methods, "GET")

		// The function's log: JSON lines only, one per request with its
		// request ID and decision, in invocation order, and no secret.
		waitReports(t, stdout, len(decisions))
		out := stdout.Bytes()
		lines := checkSampleLogs(t, functionLog(out), secrets)
		for _, s := range secrets {
			if bytes.Contains(stderr.Bytes(), []byte(s)) {
				t.Errorf("the emulator's stderr carries a signature or token: %q", s)
			}
		}
		if len(lines) != len(decisions) {
			t.Fatalf("%d request log lines for %d invocations:\n%s", len(lines), len(decisions), functionLog(out))
		}
		seen := map[string]bool{}
		for i, l := range lines {
			if l.Decision != decisions[i] || l.Method != methods[i] {
				t.Errorf("log line %d: %s %s, want %s %s", i, l.Method, l.Decision, methods[i], decisions[i])
			}
			if seen[l.RequestID] {
				t.Errorf("request ID %s logged twice", l.RequestID)
			}
			seen[l.RequestID] = true
			if !bytes.Contains(out, []byte("START RequestId: "+l.RequestID)) {
				t.Errorf("logged requestId %q is not one the emulator started", l.RequestID)
			}
		}

		// An event the runtime cannot even decode still gets an S3-style
		// 400 from the adapter, never a runtime error the ALB would turn
		// into an opaque 502.
		payload, err := e.Invoke(context.Background(), []byte(`not json`))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		resp2, err := twin.DecodeResponse(payload)
		if err != nil {
			t.Errorf("garbage event: the ALB would reject the answer (%v): %s", err, payload)
		} else if resp2.StatusCode != http.StatusBadRequest || !bytes.Contains(resp2.Body(), []byte("<Error><Code>BadRequest</Code>")) {
			t.Errorf("garbage event: %d %s, want a 400 S3 XML error", resp2.StatusCode, resp2.Body())
		}
	})

	t.Run("config error at cold start", func(t *testing.T) {
		env := sampleEnv("http://127.0.0.1:1")
		delete(env, "S3PROXY_BUCKET")
		e, stdout, stderr := startEmulator(t, rie, bootstrap, emulatorEnv(t, env))
		event, _ := loadSample(t, filepath.Join(peertest.ModuleRoot(t), "events", "ping.json"), false, time.Time{})
		for i := range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			payload, err := e.Invoke(ctx, event)
			cancel()
			// The pinned emulator answers an init failure with HTTP 502
			// and no body, which Invoke reports as an error; older ones
			// answered 200 with errorMessage/errorType, which
			// DecodeResponse must refuse. Either way the ALB answers 502.
			if err == nil {
				if resp, derr := twin.DecodeResponse(payload); derr == nil {
					t.Fatalf("invoke %d succeeded with status %d though the function cannot start: %s", i, resp.StatusCode, payload)
				}
				if !bytes.Contains(payload, []byte("errorMessage")) {
					t.Errorf("invoke %d: payload %s is neither an answer nor an error report", i, payload)
				}
			}
		}
		cfg, err := config.FromEnv(func(k string) string {
			if k == "S3PROXY_BUCKET" {
				return sampleBucket
			}
			return env[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		alb := httptest.NewServer(twin.New(twin.Options{Config: cfg, Invoker: e, FunctionTimeout: 10 * time.Second}))
		defer alb.Close()
		resp, err := http.Get(alb.URL + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("GET /ping through twin.ALB to a function that cannot start: %d, want 502", resp.StatusCode)
		}
		all := append(stdout.Bytes(), stderr.Bytes()...)
		if !bytes.Contains(all, []byte("S3PROXY_BUCKET: is required")) {
			t.Errorf("the cold-start failure does not name the problem; output:\n%s", all)
		}
	})
}
