package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// The README promises that `make run` serves the two printed URLs as
// described: this runs the same command on free ports and uses them.
func TestServeEmbeddedDefault(t *testing.T) {
	testServe(t, nil)
}

// --lambda=process runs the real bootstrap under the emulator behind the
// same emulated ALB; the printed URLs must behave the same.
func TestServeProcessMode(t *testing.T) {
	rie := peertest.Binary(t, "aws-lambda-rie")
	testServe(t, []string{"--lambda", "process", "--rie", rie, "--bootstrap", peertest.Bootstrap(t)})
}

func testServe(t *testing.T, extra []string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	var stderr peertest.Output
	done := make(chan int, 1)
	getenv := func(string) string { return "" } // a fresh machine: nothing configured
	args := append([]string{"--addr", "127.0.0.1:0", "--embedded-s3-addr", "127.0.0.1:0"}, extra...)
	go func() {
		done <- serve(ctx, args, getenv, w, &stderr)
		w.Close()
	}()

	var small, large, multipart, ping, multipartLine string
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(30*time.Second, func() { w.CloseWithError(io.ErrUnexpectedEOF) })
	for lines.Scan() {
		line := lines.Text()
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "curl -i '"); ok {
			if small == "" {
				small = strings.TrimSuffix(u, "'")
			} else if large == "" {
				large = strings.TrimSuffix(u, "'")
			}
		}
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "curl -sSL -D - -o /dev/null '"); ok {
			multipart = strings.TrimSuffix(u, "'")
		}
		if strings.HasPrefix(line, "Multipart object") {
			multipartLine = line
		}
		if _, p, ok := strings.Cut(line, "Ping: curl -i "); ok {
			ping = p
		}
		if strings.HasPrefix(line, "Stop with") {
			break
		}
	}
	deadline.Stop()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if small == "" || large == "" || multipart == "" || ping == "" {
		t.Fatalf("example URLs not printed; stderr:\n%s", stderr.String())
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	follow := &http.Client{Timeout: 10 * time.Second}
	get := func(c *http.Client, u string) (*http.Response, []byte) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	if resp, _ := get(noFollow, ping); resp.StatusCode != 200 {
		t.Errorf("ping: %d", resp.StatusCode)
	}
	resp, body := get(noFollow, small)
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("Hello from s3proxy")) || resp.Header.Get("ETag") == "" {
		t.Errorf("small: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(noFollow, large)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") == "" {
		t.Fatalf("large: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = get(follow, large)
	if resp.StatusCode != 200 || len(body) != demoLargeSize {
		t.Errorf("large followed: %d, %d bytes", resp.StatusCode, len(body))
	}
	// The multipart object is really in parts, and served by redirect.
	if want := fmt.Sprintf("Multipart object (%d bytes in 3 parts,", demoMultipartSize); !strings.HasPrefix(multipartLine, want) {
		t.Errorf("multipart line %q, want %q…", multipartLine, want)
	}
	if resp, _ = get(noFollow, multipart); resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("multipart: %d, want 307", resp.StatusCode)
	}
	resp, body = get(follow, multipart)
	if resp.StatusCode != 200 || len(body) != demoMultipartSize || resp.Header.Get("ETag") == "" {
		t.Errorf("multipart followed: %d, %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}
	// A tampered signature is refused by the embedded S3 itself (the proxy
	// cannot know), and the refusal carries no Location.
	i := strings.Index(large, "X-Amz-Signature=") + len("X-Amz-Signature=")
	flip := map[byte]byte{'0': '1'}
	c := large[i]
	if r, ok := flip[c]; ok {
		c = r
	} else {
		c = '0'
	}
	tampered := large[:i] + string(c) + large[i+1:]
	for name, u := range map[string]string{"tampered large": tampered, "tampered small": strings.Replace(small, "X-Amz-Signature=", "X-Amz-Signature=f", 1)[:len(small)]} {
		resp, body = get(noFollow, u)
		if resp.StatusCode != 403 || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d, Location %q, %s", name, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if strings.Contains(stderr.String(), "X-Amz-Signature") {
		t.Error("logs carry a signature")
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	code := serve(context.Background(), []string{"--lambda", "thread"}, func(string) string { return "" }, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--lambda") {
		t.Errorf("got %d, %q", code, stderr.String())
	}
}

func TestServeReportsBadConfig(t *testing.T) {
	var stderr bytes.Buffer
	env := map[string]string{"S3PROXY_BUCKET": "media", "S3PROXY_REDIRECT_VIA": "sideways", "S3PROXY_INLINE_MAX_BYTES": "9999999"}
	code := serve(context.Background(), []string{"--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "S3PROXY_REDIRECT_VIA") || !strings.Contains(stderr.String(), "S3PROXY_INLINE_MAX_BYTES") ||
		!strings.Contains(stderr.String(), "S3PROXY_REGION") {
		t.Errorf("got %d, %q", code, stderr.String())
	}
}

// startServe runs serve with args and env until it prints its first
// line, and returns that line, what follows, and its exit status.
func startServe(t *testing.T, ctx context.Context, args []string, env map[string]string) (first string, stdout *peertest.Output, stderr *peertest.Output, done <-chan int) {
	t.Helper()
	out, w := io.Pipe()
	stderr = &peertest.Output{}
	stdout = &peertest.Output{}
	ch := make(chan int, 1)
	go func() {
		ch <- serve(ctx, args, func(k string) string { return env[k] }, w, stderr)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(30*time.Second, func() { w.CloseWithError(io.ErrUnexpectedEOF) })
	if lines.Scan() {
		first = lines.Text()
	}
	deadline.Stop()
	go func() {
		for lines.Scan() {
			_, _ = stdout.Write([]byte(lines.Text() + "\n"))
		}
	}()
	return first, stdout, stderr, ch
}

// SIGINT and SIGTERM stop serve with one line and exit status 0, which is
// what keeps `make run` from reporting an error on Ctrl-C.
func TestServeStopsCleanlyOnSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		line string
	}{
		{"SIGINT", syscall.SIGINT, "s3proxy: interrupted (SIGINT), stopped"},
		{"SIGTERM", syscall.SIGTERM, "s3proxy: terminated (SIGTERM), stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"S3PROXY_BUCKET": "media", "S3PROXY_REGION": "us-east-1", "S3PROXY_ENDPOINT_URL": "http://127.0.0.1:1"}
			first, stdout, stderr, done := startServe(t, context.Background(), []string{"--addr", "127.0.0.1:0"}, env)
			if !strings.Contains(first, "listening on") {
				t.Fatalf("first line %q; stderr:\n%s", first, stderr.String())
			}
			// serve has its handler in place once it listens.
			if err := syscall.Kill(os.Getpid(), tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serve did not stop")
			}
			time.Sleep(50 * time.Millisecond) // let the reader drain the pipe
			if got := strings.TrimSpace(stdout.String()); got != tc.line {
				t.Errorf("after the listening line: %q, want %q", got, tc.line)
			}
		})
	}
}

// Process mode without its binaries fails before anything listens, naming
// each missing file and the make target that builds it.
func TestServeProcessModeFailsFast(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "bootstrap-not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	env := map[string]string{"S3PROXY_BUCKET": "media", "S3PROXY_REGION": "us-east-1"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{"no bootstrap", []string{"--bootstrap", missing, "--rie", "/bin/true"},
			[]string{"--bootstrap " + missing + ": no such file; build it with `make build/native/bootstrap`"}, []string{"--rie"}},
		{"no emulator", []string{"--bootstrap", "/bin/true", "--rie", missing},
			[]string{"--rie " + missing + ": no such file; build it with `make rie`"}, []string{"--bootstrap"}},
		{"neither", []string{"--bootstrap", missing, "--rie", missing}, []string{"make build/native/bootstrap", "make rie"}, nil},
		{"bootstrap not executable", []string{"--bootstrap", notExec, "--rie", "/bin/true"}, []string{"not executable"}, nil},
		{"bootstrap is a directory", []string{"--bootstrap", dir, "--rie", "/bin/true"}, []string{"is a directory"}, nil},
		{"no wrapper", []string{"--bootstrap", "/bin/true", "--rie", "/bin/true", "--wrapper", "qemu-nowhere-static"}, []string{"--wrapper qemu-nowhere-static: not found", "qemu-user-static"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--lambda=process", "--addr", "127.0.0.1:0"}, tc.args...)
			code := serve(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
			if code != 1 || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q; want 1 and nothing listening", code, stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr has %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// A bootstrap that is no Lambda runtime fails at start, not on the first
// request.
func TestServeProcessModeChecksTheFunctionAnswers(t *testing.T) {
	rie := peertest.Binary(t, "aws-lambda-rie")
	env := map[string]string{"S3PROXY_BUCKET": "media", "S3PROXY_REGION": "us-east-1"}
	var stdout, stderr bytes.Buffer
	args := []string{"--lambda=process", "--addr", "127.0.0.1:0", "--rie", rie, "--bootstrap", "/bin/true", "--timeout", "3s"}
	code := serve(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != 1 || strings.Contains(stdout.String(), "listening") || !strings.Contains(stderr.String(), "does not answer under the emulator") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

// A configuration without a redirect endpoint starts, with a warning that
// says what it means and how to fix it; the embedded default has one.
func TestServeWarnsWithoutEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		warn bool
	}{
		{"no endpoint", map[string]string{"S3PROXY_BUCKET": "media", "S3PROXY_REGION": "eu-west-1"}, true},
		{"endpoint", map[string]string{"S3PROXY_BUCKET": "media", "S3PROXY_REGION": "eu-west-1", "S3PROXY_ENDPOINT_URL": "https://bucket.vpce-1.s3.eu-west-1.vpce.amazonaws.com"}, false},
		{"embedded default", map[string]string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			first, _, stderr, done := startServe(t, ctx, []string{"--addr", "127.0.0.1:0", "--embedded-s3-addr", "127.0.0.1:0"}, tc.env)
			cancel()
			<-done
			if !strings.Contains(first, "listening on") {
				t.Fatalf("first line %q; stderr:\n%s", first, stderr.String())
			}
			warned := strings.Contains(stderr.String(), "warning: S3PROXY_ENDPOINT_URL is not set, so every read larger than 716800 bytes (S3PROXY_INLINE_MAX_BYTES) gets 502; set it to the S3 interface endpoint's URL, e.g. https://bucket.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.eu-west-1.vpce.amazonaws.com")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v; stderr:\n%s", warned, tc.warn, stderr.String())
			}
		})
	}
}

func TestDefaultPublicURL(t *testing.T) {
	const base = "http://127.0.0.1:8080"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"proxy mode, unset", map[string]string{"S3PROXY_REDIRECT_VIA": "proxy"}, base},
		{"proxy mode, set", map[string]string{"S3PROXY_REDIRECT_VIA": "proxy", "S3PROXY_PUBLIC_URL": "https://s3-proxy.studio.com"}, "https://s3-proxy.studio.com"},
		{"endpoint mode", map[string]string{"S3PROXY_REDIRECT_VIA": "endpoint"}, ""},
		{"default mode", map[string]string{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := overlay(func(k string) string { return tc.env[k] })
			defaultPublicURL(e, base)
			if got := e.get("S3PROXY_PUBLIC_URL"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
