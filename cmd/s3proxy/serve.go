package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/locals3"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

type serveFlags struct {
	addr        string
	s3Addr      string
	passthrough bool
	embedded    bool
	lambda      lambdaFlags
}

// serve runs `s3proxy serve args…`; tests call it with a map for getenv.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, append([]string{"serve"}, args...), getenv, stdout, stderr)
}

func newServeCmd(cio cliIO) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the proxy locally behind an emulated ALB",
		Long: `Runs the proxy on this machine: an emulated Application Load Balancer applies
the template's listener rules in front of the proxy function, which runs
in-process or as the real bootstrap under the Lambda Runtime Interface
Emulator (--lambda=process).

With S3PROXY_BUCKET unset it also starts an embedded in-memory S3 that checks
SigV4, seeds a demo bucket and prints its credentials and ready-to-curl URLs.
With S3PROXY_BUCKET set it reads the environment exactly as the Lambda function
does. Ctrl-C (SIGINT) or SIGTERM stops it with exit status 0.`,
		Example: `  s3proxy serve
  s3proxy serve --lambda=process            # needs make build/native/bootstrap and make rie
  S3PROXY_BUCKET=media S3PROXY_REGION=eu-west-1 \
    S3PROXY_ENDPOINT_URL=https://bucket.vpce-0abc.s3.eu-west-1.vpce.amazonaws.com s3proxy serve`,
		Annotations: map[string]string{"environment": functionEnvironment},
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("embedded-s3") {
				f.embedded = cio.getenv("S3PROXY_BUCKET") == ""
			}
			if err := f.lambda.validate(); err != nil {
				return err
			}
			return failed(runServe(cmd.Context(), f, cio.getenv, cio.stdout, cio.stderr))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address the emulated load balancer listens on")
	fs.StringVar(&f.s3Addr, "embedded-s3-addr", "127.0.0.1:8081", "address of the embedded S3")
	fs.BoolVar(&f.passthrough, "passthrough", true, "send PUT, POST and DELETE of objects under the key prefixes straight to S3, as the UploadPassthrough rules do")
	fs.BoolVar(&f.embedded, "embedded-s3", false, "start the embedded S3 and point the proxy at it (default: when S3PROXY_BUCKET is unset)")
	f.lambda.register(cmd)
	return cmd
}

func runServe(ctx context.Context, f serveFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	// The signal is watched here rather than through NotifyContext, so that
	// the one line printed on the way out can name it.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// Checked before anything listens, so a missing binary is the first and
	// only thing the user reads.
	if err := f.lambda.preflight(); err != nil {
		return err
	}
	env := overlay(getenv)
	var embedded *locals3.Server
	if f.embedded {
		var embeddedLn net.Listener
		var err error
		embedded, embeddedLn, err = startEmbedded(f.s3Addr, env)
		if err != nil {
			return err
		}
		defer embeddedLn.Close()
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	proxyBase := "http://" + ln.Addr().String()
	defaultPublicURL(env, proxyBase)
	cfg, err := config.FromEnv(env.get)
	if err != nil {
		return err
	}
	warnNoEndpoint(stderr, "s3proxy serve", cfg)
	logger := lambdalog.New(stderr, cfg.LogLevel)

	invoker, closeInvoker, err := f.lambda.start(ctx, cfg, env, logger, stderr, true)
	if err != nil {
		return err
	}
	defer closeInvoker()

	alb := twin.New(twin.Options{Config: cfg, Passthrough: f.passthrough, Invoker: invoker, FunctionTimeout: f.lambda.timeout, Logger: logger})
	srv := &http.Server{Handler: alb, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	fmt.Fprintf(stdout, "s3proxy: listening on %s (function %s, passthrough %v)\n", proxyBase, f.lambda.mode, f.passthrough)
	if embedded != nil {
		if err := seedDemo(ctx, cfg, env, proxyBase, stdout); err != nil {
			return err
		}
	}
	select {
	case s := <-sigs:
		fmt.Fprintf(stdout, "s3proxy: %s, stopped\n", signalName(s))
	case <-ctx.Done():
	}
	return nil
}

// defaultPublicURL points proxy-mode redirects at this listener when the
// user has named no public URL: locally, the twin is the proxy host.
func defaultPublicURL(e *env, base string) {
	if e.get("S3PROXY_REDIRECT_VIA") == string(config.ViaProxy) && e.get("S3PROXY_PUBLIC_URL") == "" {
		e.set("S3PROXY_PUBLIC_URL", base)
	}
}

// signalName is the name a user knows the signal by.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "interrupted (SIGINT)"
	case syscall.SIGTERM:
		return "terminated (SIGTERM)"
	}
	return s.String()
}

// warnNoEndpoint says, at start, what a configuration without a redirect
// endpoint means, instead of leaving it to the first large read's 502.
func warnNoEndpoint(w io.Writer, prefix string, cfg *config.Config) {
	if cfg.EndpointURL != nil {
		return
	}
	fmt.Fprintf(w, "%s: warning: S3PROXY_ENDPOINT_URL is not set, so every read larger than %d bytes (S3PROXY_INLINE_MAX_BYTES) gets 502; "+
		"set it to the S3 interface endpoint's URL, e.g. https://bucket.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.%s.vpce.amazonaws.com\n",
		prefix, cfg.InlineMax, cfg.Region)
}

// env is the process environment with the embedded S3's settings laid over
// it, so the proxy reads one contract whichever S3 it talks to.
type env struct {
	base func(string) string
	over map[string]string
}

func overlay(getenv func(string) string) *env { return &env{base: getenv, over: map[string]string{}} }

func (e *env) get(k string) string {
	if v, ok := e.over[k]; ok {
		return v
	}
	return e.base(k)
}

func (e *env) set(k, v string) { e.over[k] = v }

func startEmbedded(addr string, e *env) (*locals3.Server, net.Listener, error) {
	key, secret := e.get("AWS_ACCESS_KEY_ID"), e.get("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		var err error
		if key, secret, err = locals3.GenerateCredentials(); err != nil {
			return nil, nil, err
		}
	}
	bucket := e.get("S3PROXY_BUCKET")
	if bucket == "" {
		bucket = demoBucket
	}
	region := e.get("S3PROXY_REGION")
	if region == "" {
		region = "us-east-1"
	}
	srv, err := locals3.New(locals3.Options{
		AccessKeyID: key, SecretAccessKey: secret, Region: region,
		Buckets: []string{bucket}, CORSOrigins: []string{"*"},
	})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded S3: %w", err)
	}
	go func() {
		s := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
		_ = s.Serve(ln)
	}()
	base := "http://" + ln.Addr().String()
	e.set("S3PROXY_BUCKET", bucket)
	e.set("S3PROXY_REGION", region)
	e.set("S3PROXY_SIGNED_HOST", bucket+".s3.amazonaws.com")
	e.set("S3PROXY_UPSTREAM_URL", base)
	e.set("S3PROXY_ENDPOINT_URL", base)
	e.set("AWS_ACCESS_KEY_ID", key)
	e.set("AWS_SECRET_ACCESS_KEY", secret)
	e.set("AWS_SESSION_TOKEN", "")
	e.set("AWS_REGION", region)
	return srv, ln, nil
}

// awsConfig loads the function's AWS configuration: the embedded S3's key
// when it runs, the default chain otherwise, as in Lambda.
func awsConfig(ctx context.Context, cfg *config.Config, e *env) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if id, ok := e.over["AWS_ACCESS_KEY_ID"]; ok {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, e.over["AWS_SECRET_ACCESS_KEY"], "")))
	}
	return awsconfig.LoadDefaultConfig(ctx, opts...)
}

// functionEnv is the environment the bootstrap gets under the emulator:
// the process's own, with the overlay applied.
func functionEnv(e *env) []string {
	out := []string{"AWS_LAMBDA_LOG_FORMAT=JSON"}
	seen := map[string]bool{}
	for k, v := range e.over {
		seen[k] = true
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !seen[k] {
			out = append(out, kv)
		}
	}
	return out
}
