// Command proxy is the ALB-target Lambda function. It only wires things
// together: configuration is validated once at cold start, clients are built
// once and reused across warm invocations.
package main

import (
	"context"
	"fmt"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/emf"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/lambdart"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
)

func main() {
	tuneRuntime(os.Getenv)
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logger := lambdalog.New(os.Stdout, cfg.LogLevel)
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(cfg.Region))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading AWS configuration:", err)
		os.Exit(1)
	}
	// Metrics go to stdout as EMF lines, which CloudWatch Logs extracts; each
	// leaves in one write with its request's log line, so both share stdout.
	h := proxy.Wire(cfg, awsCfg, logger, lambdalog.RequestID, proxy.WithMetrics(emf.New(os.Stdout, cfg.Bucket)))
	// Start returns only when the runtime API fails or the handler panics:
	// exiting lets Lambda start a fresh environment.
	fmt.Fprintln(os.Stderr, lambdart.Start(albhttp.NewFunction(h, albhttp.WithRefused(h.Refused))))
	os.Exit(1)
}
