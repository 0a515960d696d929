package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/locals3"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// Demo objects seeded into the embedded S3: one answered inline, one large
// enough to be redirected.
const (
	demoBucket    = "demo"
	demoSmallKey  = "small.txt"
	demoLargeKey  = "media/large.bin"
	demoLargeSize = 5 << 20
	demoURLTTL    = time.Hour
)

type serveFlags struct {
	addr        string
	s3Addr      string
	passthrough bool
	embedded    bool
	lambdaMode  string
	bootstrap   string
	rie         string
	wrapper     string
	timeout     time.Duration
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address the emulated load balancer listens on")
	fs.StringVar(&f.s3Addr, "embedded-s3-addr", "127.0.0.1:8081", "address of the embedded S3 (started when S3PROXY_BUCKET is unset)")
	fs.BoolVar(&f.passthrough, "passthrough", true, "send PUT, POST and DELETE straight to S3, as the UploadPassthrough rule does")
	fs.BoolVar(&f.embedded, "embedded-s3", getenv("S3PROXY_BUCKET") == "", "start the embedded S3 and point the proxy at it")
	fs.StringVar(&f.lambdaMode, "lambda", "inprocess", "how to run the function: inprocess, or process (the real bootstrap under the Lambda Runtime Interface Emulator)")
	fs.StringVar(&f.bootstrap, "bootstrap", "build/native/bootstrap", "function binary for --lambda=process")
	fs.StringVar(&f.rie, "rie", "bin/aws-lambda-rie", "aws-lambda-rie binary for --lambda=process")
	fs.StringVar(&f.wrapper, "wrapper", "", "program to run the bootstrap through, e.g. qemu-aarch64-static")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "function timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if f.lambdaMode != "inprocess" && f.lambdaMode != "process" {
		fmt.Fprintf(stderr, "s3proxy serve: --lambda must be inprocess or process, not %q\n", f.lambdaMode)
		return 2
	}
	if err := runServe(ctx, f, getenv, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "s3proxy serve:", err)
		return 1
	}
	return 0
}

func runServe(ctx context.Context, f serveFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := overlay(getenv)
	var embedded *locals3.Server
	var embeddedLn net.Listener
	if f.embedded {
		var err error
		embedded, embeddedLn, err = startEmbedded(f.s3Addr, env)
		if err != nil {
			return err
		}
		defer embeddedLn.Close()
	}
	cfg, err := config.FromEnv(env.get)
	if err != nil {
		return err
	}
	logger := lambdalog.New(stderr, cfg.LogLevel)

	invoker, closeInvoker, err := newInvoker(ctx, f, cfg, env, logger, stderr)
	if err != nil {
		return err
	}
	defer closeInvoker()

	alb := twin.New(twin.Options{Config: cfg, Passthrough: f.passthrough, Invoker: invoker, FunctionTimeout: f.timeout, Logger: logger})
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: alb, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	fmt.Fprintf(stdout, "s3proxy: listening on http://%s (function %s, passthrough %v)\n", ln.Addr(), f.lambdaMode, f.passthrough)
	if embedded != nil {
		if err := seedDemo(ctx, embedded, cfg, env, "http://"+ln.Addr().String(), stdout); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
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

func newInvoker(ctx context.Context, f serveFlags, cfg *config.Config, e *env, logger *slog.Logger, stderr io.Writer) (twin.Invoker, func(), error) {
	if f.lambdaMode == "process" {
		em, err := twin.StartEmulator(ctx, twin.EmulatorOptions{
			RIE: f.rie, Bootstrap: f.bootstrap, Wrapper: f.wrapper,
			Env: functionEnv(e), FunctionTimeout: f.timeout, Stdout: stderr, Stderr: stderr,
		})
		if err != nil {
			return nil, nil, err
		}
		return em, func() { _ = em.Close() }, nil
	}
	awsCfg, err := awsConfig(ctx, cfg, e)
	if err != nil {
		return nil, nil, err
	}
	h := proxy.Wire(cfg, awsCfg, logger, lambdalog.RequestID)
	return twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithLogger(logger))}, func() {}, nil
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

func seedDemo(ctx context.Context, s3 *locals3.Server, cfg *config.Config, e *env, proxyBase string, stdout io.Writer) error {
	prefix := ""
	if len(cfg.KeyPrefixes) > 0 {
		prefix = cfg.KeyPrefixes[0]
	}
	small := []byte("Hello from s3proxy. This object is small enough to be answered inline by the function.\n")
	large := make([]byte, demoLargeSize)
	if _, err := rand.Read(large); err != nil {
		return err
	}
	smallKey, largeKey := prefix+demoSmallKey, prefix+demoLargeKey
	if err := s3.PutObject(ctx, cfg.Bucket, smallKey, small, "text/plain"); err != nil {
		return err
	}
	if err := s3.PutObject(ctx, cfg.Bucket, largeKey, large, "application/octet-stream"); err != nil {
		return err
	}
	creds := credentials.NewStaticCredentialsProvider(e.get("AWS_ACCESS_KEY_ID"), e.get("AWS_SECRET_ACCESS_KEY"), "")
	signer := sgurl.NewSigner(creds, cfg.Region, cfg.Bucket, cfg.SignedHost)
	urls := make([]string, 0, 2)
	for _, k := range []string{smallKey, largeKey} {
		signed, err := signer.Get(ctx, k, demoURLTTL)
		if err != nil {
			return err
		}
		u, err := sgurl.Through(proxyBase, signed)
		if err != nil {
			return err
		}
		urls = append(urls, u)
	}
	if len(urls) != 2 {
		return errors.New("could not mint the example URLs")
	}
	fmt.Fprintf(stdout, `s3proxy: embedded S3 on %s (bucket %q, region %s, signed host %s)
  AWS_ACCESS_KEY_ID=%s
  AWS_SECRET_ACCESS_KEY=%s

Small object (%d bytes), answered inline by the function:
  curl -i '%s'

Large object (%d bytes), redirected (307) to a URL minted for the endpoint; -L follows it:
  curl -i '%s'
  curl -sSL -o /dev/null -w '%%{http_code} %%{size_download} bytes\n' '%s'

Upload passthrough, presigned PUTs go straight to S3. Ping: curl -i %s/ping
Stop with Ctrl-C.
`, cfg.UpstreamURL, cfg.Bucket, cfg.Region, cfg.SignedHost, e.get("AWS_ACCESS_KEY_ID"), e.get("AWS_SECRET_ACCESS_KEY"),
		len(small), urls[0], demoLargeSize, urls[1], urls[1], proxyBase)
	return nil
}
