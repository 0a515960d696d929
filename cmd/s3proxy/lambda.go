package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// Ways to run the function, for serve and invoke alike.
const (
	lambdaInProcess = "inprocess"
	lambdaProcess   = "process"
)

// lambdaFlags say how serve and invoke run the function.
type lambdaFlags struct {
	mode      string
	bootstrap string
	rie       string
	wrapper   string
	timeout   time.Duration
}

func (l *lambdaFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&l.mode, "lambda", lambdaInProcess, "how to run the function: inprocess, or process (the real bootstrap under the Lambda Runtime Interface Emulator)")
	fs.StringVar(&l.bootstrap, "bootstrap", "build/native/bootstrap", "function binary for --lambda=process (make build/native/bootstrap)")
	fs.StringVar(&l.rie, "rie", "bin/aws-lambda-rie", "aws-lambda-rie binary for --lambda=process (make rie)")
	fs.StringVar(&l.wrapper, "wrapper", "", "program to run the bootstrap through, e.g. qemu-aarch64-static for the arm64 artifact")
	fs.DurationVar(&l.timeout, "timeout", 30*time.Second, "function timeout")
	_ = cmd.RegisterFlagCompletionFunc("lambda", cobra.FixedCompletions(
		[]cobra.Completion{lambdaInProcess, lambdaProcess}, cobra.ShellCompDirectiveNoFileComp))
}

func (l *lambdaFlags) validate() error {
	if l.mode != lambdaInProcess && l.mode != lambdaProcess {
		return usageError{fmt.Sprintf("--lambda must be %s or %s, not %q", lambdaInProcess, lambdaProcess, l.mode)}
	}
	return nil
}

// preflight checks, before anything starts, that process mode has its
// binaries. Without them the emulator would start, say nothing, and answer
// every invocation with an error buried in its log.
func (l *lambdaFlags) preflight() error {
	if l.mode != lambdaProcess {
		return nil
	}
	var errs []error
	if err := executable(l.bootstrap); err != nil {
		errs = append(errs, fmt.Errorf("--bootstrap %s: %w; build it with `make build/native/bootstrap`", l.bootstrap, err))
	}
	if err := executable(l.rie); err != nil {
		errs = append(errs, fmt.Errorf("--rie %s: %w; build it with `make rie`", l.rie, err))
	}
	if l.wrapper != "" {
		if _, err := exec.LookPath(l.wrapper); err != nil {
			errs = append(errs, fmt.Errorf("--wrapper %s: not found; for qemu-aarch64-static install the Debian package qemu-user-static", l.wrapper))
		}
	}
	return errors.Join(errs...)
}

func executable(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("no such file")
	case err != nil:
		return err
	case st.IsDir():
		return errors.New("is a directory")
	case st.Mode().Perm()&0o111 == 0:
		return errors.New("not executable")
	}
	return nil
}

// start runs the function the chosen way. In process mode, with warmUp,
// it invokes a ping first: a bootstrap that cannot run (wrong architecture,
// crash in init) fails here, once, with the emulator's log just above the
// message, rather than on every request.
func (l *lambdaFlags) start(ctx context.Context, cfg *config.Config, e *env, logger *slog.Logger, stderr io.Writer, warmUp bool) (twin.Invoker, func(), error) {
	if l.mode == lambdaProcess {
		em, err := twin.StartEmulator(ctx, twin.EmulatorOptions{
			RIE: l.rie, Bootstrap: l.bootstrap, Wrapper: l.wrapper,
			Env: functionEnv(e), FunctionTimeout: l.timeout, Stdout: stderr, Stderr: stderr,
		})
		if err != nil {
			return nil, nil, err
		}
		if warmUp {
			if err := ping(ctx, em, l.timeout); err != nil {
				_ = em.Close()
				return nil, nil, fmt.Errorf("the function %s does not answer under the emulator (its log is above): %w", l.bootstrap, err)
			}
		}
		return em, func() { _ = em.Close() }, nil
	}
	awsCfg, err := awsConfig(ctx, cfg, e)
	if err != nil {
		return nil, nil, err
	}
	h := proxy.Wire(cfg, awsCfg, logger, lambdalog.RequestID)
	return twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithRefused(h.Refused))}, func() {}, nil
}

// pingEvent is the ALB's health check, which the function answers without
// calling S3.
const pingEvent = `{"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s3proxy/0"}},` +
	`"httpMethod":"GET","path":"/ping","multiValueQueryStringParameters":{},` +
	`"multiValueHeaders":{"host":["localhost"],"user-agent":["s3proxy-warm-up"]},"body":"","isBase64Encoded":false}`

func ping(ctx context.Context, inv twin.Invoker, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := inv.Invoke(ctx, []byte(pingEvent))
	if err != nil {
		return err
	}
	var resp struct {
		StatusCode   int    `json:"statusCode"`
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("the answer to a ping is not JSON: %.200s", out)
	}
	if resp.ErrorMessage != "" || resp.ErrorType != "" {
		return fmt.Errorf("%s: %s", resp.ErrorType, strings.TrimSpace(resp.ErrorMessage))
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("a ping got %d, want 200", resp.StatusCode)
	}
	return nil
}
