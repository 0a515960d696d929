package lambdart_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mediaisolation/s3proxy/pkg/lambdart"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// asBootstrap, in the environment, makes the test binary the function
// that TestUnderTheEmulator runs under the emulator.
const asBootstrap = "LAMBDART_TEST_BOOTSTRAP"

func TestMain(m *testing.M) {
	if os.Getenv(asBootstrap) == "echo" {
		fmt.Fprintln(os.Stderr, lambdart.Start(handlerFunc(echo)))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// echo answers an event with its own bytes, after "echo:", or fails when
// the event says so or the invocation's context is not as Lambda sets it.
func echo(ctx context.Context, p []byte) ([]byte, error) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.AwsRequestID == "" || !strings.HasPrefix(lc.InvokedFunctionArn, "arn:aws:lambda:") {
		return nil, fmt.Errorf("invocation context %+v", lc)
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) <= 0 {
		return nil, errors.New("no deadline ahead")
	}
	if bytes.Equal(p, []byte(`"fail"`)) {
		return nil, errors.New("asked to fail")
	}
	return append([]byte("echo:"), p...), nil
}

// TestUnderTheEmulator serves events of every size class through the real
// emulator, which sends an event over 2 KiB chunked and a smaller one with
// its length.
func TestUnderTheEmulator(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs on Linux only")
	}
	rie := peertest.Binary(t, "aws-lambda-rie")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &peertest.Output{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := twin.StartEmulator(ctx, twin.EmulatorOptions{
		RIE: rie, Bootstrap: self, FunctionTimeout: 10 * time.Second,
		Env:    []string{asBootstrap + "=echo", "AWS_REGION=us-east-1", "HOME=" + t.TempDir()},
		Stdout: &peertest.Output{}, Stderr: stderr,
	})
	if err != nil {
		t.Fatalf("starting aws-lambda-rie: %v\n%s", err, stderr.Bytes())
	}
	t.Cleanup(func() { _ = e.Close() })
	for _, tc := range []struct {
		name  string
		event string
		want  string
	}{
		{"small", `{"n":1}`, `echo:{"n":1}`},
		{"2 KiB, with a length", pad(2048), "echo:" + pad(2048)},
		{"2 KiB and a byte, chunked", pad(2049), "echo:" + pad(2049)},
		{"100 KiB, chunked", pad(100 << 10), "echo:" + pad(100<<10)},
		{"small again", `{"n":2}`, `echo:{"n":2}`},
		{"1 MiB, chunked", pad(1 << 20), "echo:" + pad(1<<20)},
		{"a handler error", `"fail"`, `{"errorMessage":"asked to fail","errorType":"errorString"}`},
		{"after the error", `{"n":3}`, `echo:{"n":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			got, err := e.Invoke(ctx, []byte(tc.event))
			if err != nil {
				t.Fatalf("invoke: %v\n%s", err, stderr.Bytes())
			}
			if string(got) != tc.want {
				t.Errorf("answer %.80q… (%d bytes), want %.80q… (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
		})
	}
}

// pad is a JSON event of n bytes.
func pad(n int) string {
	return `{"p":"` + strings.Repeat("x", n-8) + `"}`
}
