package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
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

	var small, large, ping string
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
		if _, p, ok := strings.Cut(line, "Ping: curl -i "); ok {
			ping = p
		}
		if strings.HasPrefix(line, "Stop with") {
			break
		}
	}
	deadline.Stop()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if small == "" || large == "" || ping == "" {
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
