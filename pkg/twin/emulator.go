package twin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// EmulatorOptions start the real bootstrap binary under the Lambda Runtime
// Interface Emulator.
type EmulatorOptions struct {
	// RIE is the aws-lambda-rie binary.
	RIE string
	// Bootstrap is the function binary, as deployed.
	Bootstrap string
	// Wrapper, if set, runs the bootstrap through another program, such as
	// qemu-aarch64-static for the arm64 artifact on an amd64 machine.
	Wrapper string
	// Env is the function's whole environment; nothing is inherited.
	Env             []string
	FunctionTimeout time.Duration
	Stdout, Stderr  io.Writer
}

// Emulator is a running emulator. The classic emulator crashes on concurrent
// invokes, so Invoke serialises them.
type Emulator struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	client *http.Client
	done   chan struct{}
}

// StartEmulator starts the emulator on two free loopback ports (both
// addresses must be given: its defaults listen on every interface) and waits
// until it accepts connections.
func StartEmulator(ctx context.Context, o EmulatorOptions) (*Emulator, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if o.FunctionTimeout == 0 {
		o.FunctionTimeout = 30 * time.Second
	}
	args := []string{"--runtime-interface-emulator-address", apiAddr, "--runtime-api-address", runtimeAddr}
	if o.Wrapper != "" {
		args = append(args, o.Wrapper)
	}
	args = append(args, o.Bootstrap)
	cmd := exec.Command(o.RIE, args...)
	cmd.Env = append(append([]string(nil), o.Env...),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(o.FunctionTimeout/time.Second)))
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A function process that outlives the emulator would hold the output
	// pipes open and make Wait block for ever; give up on them shortly
	// after the emulator itself has exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	e := &Emulator{
		cmd:    cmd,
		url:    "http://" + apiAddr + "/2015-03-31/functions/function/invocations",
		client: &http.Client{Transport: &http.Transport{Proxy: nil}},
		done:   make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); close(e.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", apiAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.done:
			return nil, errors.New("the emulator exited during start-up")
		case <-ctx.Done():
			_ = e.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = e.Close()
			return nil, errors.New("the emulator did not start listening within 10s")
		}
	}
}

// Invoke posts one event and returns the function's response payload.
func (e *Emulator) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator answered %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 8<<20))
}

// Close stops the emulator and the function process with it.
func (e *Emulator) Close() error {
	if e.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
