package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
)

// proxyFunction is the proxy's logical ID in template.yaml, the key of its
// section in an --env-vars file.
const proxyFunction = "ProxyFunction"

type invokeFlags struct {
	event   string
	envVars string
	lambda  lambdaFlags
}

func newInvokeCmd(cio cliIO) *cobra.Command {
	var f invokeFlags
	cmd := &cobra.Command{
		Use:   "invoke [ProxyFunction] -e EVENT [flags]",
		Short: "Run one ALB event through the function, like sam local invoke without Docker",
		Long: `Runs one Application Load Balancer event through the proxy function and prints
the function's response JSON on stdout, as 'sam local invoke' does; the
function's log goes to stderr. The event is a file such as events/ping.json,
or - for stdin. The environment is this process's, with the file given to
--env-vars laid over it: SAM's format, {"Parameters": {...}, "ProxyFunction":
{...}}, so one file serves both commands. Exit status 0 when the function
answered (whatever the HTTP status in its answer), 1 when it failed.`,
		Example: `  s3proxy invoke -e events/ping.json
  s3proxy invoke ProxyFunction -e events/get-presigned.json --env-vars build/env.json
  s3proxy invoke --lambda=process -e - < events/preflight.json`,
		Annotations: map[string]string{"environment": functionEnvironment},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1 && args[0] != proxyFunction) {
				return usageError{fmt.Sprintf("only %s can be invoked, not %q", proxyFunction, args)}
			}
			return nil
		},
		ValidArgs: []cobra.Completion{proxyFunction},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.event == "" {
				return usageError{"missing -e (an event file, or - for stdin)"}
			}
			if err := f.lambda.validate(); err != nil {
				return err
			}
			return runInvoke(cmd.Context(), f, cio)
		},
	}
	cmd.Flags().StringVarP(&f.event, "event", "e", "", "ALB event JSON file, or - for stdin (required)")
	cmd.Flags().StringVarP(&f.envVars, "env-vars", "n", "", "JSON file of environment variables, in sam local invoke's format")
	_ = cmd.MarkFlagFilename("event", "json")
	_ = cmd.MarkFlagFilename("env-vars", "json")
	f.lambda.register(cmd)
	return cmd
}

func runInvoke(ctx context.Context, f invokeFlags, cio cliIO) error {
	var event []byte
	var err error
	if f.event == "-" {
		event, err = io.ReadAll(cio.stdin)
	} else {
		event, err = os.ReadFile(f.event)
	}
	if err != nil {
		return failed(fmt.Errorf("reading the event: %w", err))
	}
	if !json.Valid(event) {
		return failed(fmt.Errorf("the event %s is not JSON", f.event))
	}
	env := overlay(cio.getenv)
	if f.envVars != "" {
		vars, err := readEnvVars(f.envVars, proxyFunction)
		if err != nil {
			return failed(err)
		}
		for k, v := range vars {
			env.set(k, v)
		}
	}
	if err := f.lambda.preflight(); err != nil {
		return failed(err)
	}
	cfg, err := config.FromEnv(env.get)
	if err != nil {
		if f.envVars == "" {
			// The function's configuration comes from the stack; here it
			// comes from a file, as with sam local invoke.
			err = fmt.Errorf("%w\n(pass --env-vars build/env.json, the file events/README.md describes, or set the S3PROXY_* variables)", err)
		}
		return failed(err)
	}
	warnNoEndpoint(cio.stderr, "s3proxy invoke", cfg)
	logger := lambdalog.New(cio.stderr, cfg.LogLevel)
	// No warm-up ping: the event is the only invocation, as with SAM, and
	// its own failure says the same.
	invoker, closeInvoker, err := f.lambda.start(ctx, cfg, env, logger, cio.stderr, false)
	if err != nil {
		return failed(err)
	}
	defer closeInvoker()

	ictx, cancel := context.WithTimeout(ctx, f.lambda.timeout)
	defer cancel()
	out, err := invoker.Invoke(ictx, event)
	if err != nil && f.lambda.mode == lambdaProcess {
		return failed(fmt.Errorf("the function %s did not answer under the emulator (its log is above): %w", f.lambda.bootstrap, err))
	}
	if err != nil {
		return failed(err)
	}
	out = bytes.TrimSpace(out)
	if _, err := fmt.Fprintf(cio.stdout, "%s\n", out); err != nil {
		return failed(err)
	}
	// The emulator reports a handler error as a normal answer.
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(out, &fnErr) == nil && (fnErr.ErrorMessage != "" || fnErr.ErrorType != "") {
		return failed(fmt.Errorf("the function failed: %s: %s", fnErr.ErrorType, fnErr.ErrorMessage))
	}
	return nil
}

// readEnvVars reads a `sam local invoke --env-vars` file: the "Parameters"
// section applies to every function and the function's own section
// overrides it. SAM accepts numbers and booleans as values; they become
// their JSON text.
func readEnvVars(path, function string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--env-vars: %w", err)
	}
	var file map[string]map[string]any
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("--env-vars %s: want {\"Parameters\": {...}, %q: {\"NAME\": \"value\", ...}}: %w", path, function, err)
	}
	if file["Parameters"] == nil && file[function] == nil {
		return nil, fmt.Errorf("--env-vars %s: no %q or \"Parameters\" section", path, function)
	}
	out := map[string]string{}
	var errs []error
	for _, section := range []string{"Parameters", function} {
		for k, v := range file[section] {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64:
				out[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				out[k] = strconv.FormatBool(v)
			default:
				errs = append(errs, fmt.Errorf("--env-vars %s: %s.%s must be a string, number or boolean", path, section, k))
			}
		}
	}
	return out, errors.Join(errs...)
}
