package main

import (
	"context"
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
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	s3check "github.com/mediaisolation/s3proxy/pkg/check"
)

type checkFlags struct {
	url, bucket, region, prefix, signedHost, origin, s3Endpoint string
	loadBalancerARN, endpointTargetGroupARN, unlistedProfile    string
	keep, json                                                  bool
	stepTimeout                                                 time.Duration
}

// check runs `s3proxy check args…`; tests call it with a map for getenv.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, append([]string{"check"}, args...), getenv, stdout, stderr)
}

func newCheckCmd(cio cliIO) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check --url URL --bucket B [flags]",
		Short: "Validate a deployed proxy end to end, as ShotGrid's clients use it",
		Long: `Plays ShotGrid's part against a deployed proxy: presigns URLs for the signed
host with your AWS credentials (the default chain), swaps the host for --url,
and runs ping, uploads, reads, CORS preflights and refusals, each reported
PASS or FAIL with a hint. Exit status 0 when every step passes, 1 otherwise,
2 for bad usage.`,
		Example: `  s3proxy check --url https://s3-proxy.studio.com --bucket media --region eu-west-1
  s3proxy check --url https://s3-proxy.studio.com --bucket media --prefix shotgun/ \
    --origin https://studio.shotgrid.autodesk.com --json`,
		Annotations: map[string]string{"environment": `  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                            static credentials, used when both key variables are set
  AWS_PROFILE               the shared-config profile (SSO included)
  AWS_REGION, AWS_DEFAULT_REGION
                            the bucket's region when --region is not given
  No S3PROXY_* variable is read: check tests the deployment from outside.`},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Sprintf("unexpected arguments %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return executeCheck(cmd.Context(), f, cio)
		},
	}
	fs := cmd.Flags()
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
	fs.StringVar(&f.loadBalancerARN, "load-balancer-arn", "", "the stack's LoadBalancerArn output; with --endpoint-target-group-arn, adds the endpoint-zones step")
	fs.StringVar(&f.endpointTargetGroupARN, "endpoint-target-group-arn", "", "the stack's EndpointTargetGroupArn output; see --load-balancer-arn")
	fs.StringVar(&f.unlistedProfile, "unlisted-profile", "", "shared-config profile of a principal that may read the bucket but is not in ShotGridPrincipalArns or OtherReaderArns; adds the unlisted-principal step")
	return cmd
}

// executeCheck runs the steps. Credentials and the region come from getenv
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
// AWS_REGION) before the rest of the default chain (shared config, SSO,
// instance roles).
func executeCheck(ctx context.Context, f checkFlags, cio cliIO) error {
	var missing []string
	if f.url == "" {
		missing = append(missing, "--url")
	}
	if f.bucket == "" {
		missing = append(missing, "--bucket")
	}
	if len(missing) > 0 {
		return usageError{"missing " + strings.Join(missing, " and ")}
	}
	if (f.loadBalancerARN == "") != (f.endpointTargetGroupARN == "") {
		return usageError{"--load-balancer-arn and --endpoint-target-group-arn go together"}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	awsCfg, err := checkAWSConfig(ctx, f.region, cio.getenv)
	if err != nil {
		return failed(fmt.Errorf("loading the AWS configuration: %w", err))
	}
	if awsCfg.Region == "" {
		return usageError{"--region is required (no AWS_REGION and no region in the profile)"}
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return failed(fmt.Errorf("no usable AWS credentials (set AWS_PROFILE, or run aws sso login): %w", err))
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
		Progress: cio.stderr, StepTimeout: f.stepTimeout,
	}
	if f.unlistedProfile != "" {
		unlisted, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(awsCfg.Region), awsconfig.WithSharedConfigProfile(f.unlistedProfile))
		if err != nil {
			return failed(fmt.Errorf("loading --unlisted-profile %s: %w", f.unlistedProfile, err))
		}
		opts.Unlisted = unlisted.Credentials
	}
	if f.loadBalancerARN != "" {
		opts.Stack = &s3check.Stack{
			LoadBalancerARN: f.loadBalancerARN, EndpointTargetGroupARN: f.endpointTargetGroupARN,
			ELB: elbv2.NewFromConfig(awsCfg), EC2: ec2.NewFromConfig(awsCfg),
		}
	}
	if !f.json {
		opts.OnStep = func(s s3check.Step) { fmt.Fprintln(cio.stdout, s3check.Line(s)) }
	}
	if err := opts.Validate(); err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	report, err := s3check.Run(ctx, opts)
	if err != nil {
		return usageError{err.Error()}
	}
	if f.json {
		err = s3check.WriteJSON(cio.stdout, report)
	} else {
		_, err = fmt.Fprintln(cio.stdout, s3check.Summary(report))
	}
	if err != nil {
		return failed(err)
	}
	if !report.OK {
		// The report already says what failed; nothing more to print.
		return failure{errSilent}
	}
	return nil
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
