package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3check "github.com/mediaisolation/s3proxy/pkg/check"
)

const checkUsage = `usage: s3proxy check --url URL --bucket B [--region R] [--prefix P] [--signed-host H]
                     [--origin O] [--s3-endpoint URL] [--keep] [--json]

Plays ShotGrid's part against a deployed proxy: presigns URLs for the signed
host with your AWS credentials (the default chain), swaps the host for --url,
and runs ping, uploads, reads, CORS preflights and refusals, each reported
PASS or FAIL with a hint. Exit status 0 when every step passes, 1 otherwise,
2 for bad usage.

`

type checkFlags struct {
	url, bucket, region, prefix, signedHost, origin, s3Endpoint string
	keep, json                                                  bool
	stepTimeout                                                 time.Duration
}

// check runs `s3proxy check`. Credentials and the region come from getenv
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
// AWS_REGION) before the rest of the default chain (shared config, SSO,
// instance roles).
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fs.PrintDefaults()
	}
	var f checkFlags
	fs.StringVar(&f.url, "url", "", "the proxy's base URL, as entered in ShotGrid's \"S3 Proxy Host Address\" (required)")
	fs.StringVar(&f.bucket, "bucket", "", "the media bucket (required)")
	fs.StringVar(&f.region, "region", "", "the bucket's region (default $AWS_REGION, then the profile's)")
	fs.StringVar(&f.prefix, "prefix", "", "key prefix to write under, e.g. shotgun/ when the proxy only serves that prefix")
	fs.StringVar(&f.signedHost, "signed-host", "", "host ShotGrid signs URLs for (default <bucket>.s3.amazonaws.com)")
	fs.StringVar(&f.origin, "origin", "", "the ShotGrid site's origin, e.g. https://studio.shotgrid.autodesk.com; enables the CORS steps")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3 endpoint for the direct calls (create, complete, clean-up), path-style; for local S3 servers")
	fs.BoolVar(&f.keep, "keep", false, "leave the test objects in the bucket")
	fs.BoolVar(&f.json, "json", false, "print a machine-readable JSON report instead of text")
	fs.DurationVar(&f.stepTimeout, "step-timeout", s3check.DefaultStepTime, "time limit of each step")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s3proxy check: unexpected arguments %q\n\n", fs.Args())
		fs.Usage()
		return 2
	}
	var missing []string
	if f.url == "" {
		missing = append(missing, "--url")
	}
	if f.bucket == "" {
		missing = append(missing, "--bucket")
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "s3proxy check: missing %s\n\n", strings.Join(missing, " and "))
		fs.Usage()
		return 2
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	awsCfg, err := checkAWSConfig(ctx, f.region, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "s3proxy check: loading the AWS configuration:", err)
		return 1
	}
	if awsCfg.Region == "" {
		fmt.Fprintln(stderr, "s3proxy check: --region is required (no AWS_REGION and no region in the profile)")
		return 2
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		fmt.Fprintln(stderr, "s3proxy check: no usable AWS credentials (set AWS_PROFILE, or run aws sso login):", err)
		return 1
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if f.s3Endpoint != "" {
			o.BaseEndpoint = aws.String(f.s3Endpoint)
			o.UsePathStyle = true
		}
	})

	opts := s3check.Options{
		URL: f.url, Bucket: f.bucket, Region: awsCfg.Region, SignedHost: f.signedHost, Prefix: f.prefix,
		Origin: f.origin, Keep: f.keep, Credentials: awsCfg.Credentials, S3: client,
		Progress: stderr, StepTimeout: f.stepTimeout,
	}
	if !f.json {
		opts.OnStep = func(s s3check.Step) { fmt.Fprintln(stdout, s3check.Line(s)) }
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(stderr, "s3proxy check:", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 2
	}
	report, err := s3check.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "s3proxy check:", err)
		return 2
	}
	if f.json {
		err = s3check.WriteJSON(stdout, report)
	} else {
		_, err = fmt.Fprintln(stdout, s3check.Summary(report))
	}
	if err != nil {
		fmt.Fprintln(stderr, "s3proxy check:", err)
		return 1
	}
	if !report.OK {
		return 1
	}
	return 0
}

// checkAWSConfig loads the operator's configuration: the region from
// --region or getenv, static keys from getenv when both are set, the
// profile from AWS_PROFILE, and the rest of the default chain otherwise.
func checkAWSConfig(ctx context.Context, region string, getenv func(string) string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if p := getenv("AWS_PROFILE"); p != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p))
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))))
	}
	return awsconfig.LoadDefaultConfig(ctx, opts...)
}
