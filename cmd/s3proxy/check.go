package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	s3check "github.com/mediaisolation/s3proxy/pkg/check"
	"github.com/mediaisolation/s3proxy/pkg/release"
	"github.com/mediaisolation/s3proxy/pkg/sgstacks"
)

type checkFlags struct {
	url, bucket, region, prefix, signedHost, origin, s3Endpoint string
	stack, connectTo                                            string
	loadBalancerARN, endpointTargetGroupARN, unlistedProfile    string
	keep, json, readOnly                                        bool
	stepTimeout                                                 time.Duration
}

// check runs `s3proxy check args…`; tests call it with a map for getenv.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, append([]string{"check"}, args...), getenv, stdout, stderr)
}

func newCheckCmd(cio cliIO) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check (--stack NAME | --url URL --bucket B) [flags]",
		Short: "Validate a deployed proxy end to end, as ShotGrid's clients use it",
		Long: `Plays ShotGrid's part against a deployed proxy: presigns URLs for the signed
host with your AWS credentials (the default chain), swaps the host for --url,
and runs ping, uploads, reads, CORS preflights, a redirected read with the
browser's Origin, and refusals, each reported PASS or FAIL with a hint.

With --stack, every value comes from the stack's outputs (ProxyUrl, BucketName,
BucketRegion, KeyPrefixes, SignedHost, AllowedOrigins, ReadOnly, LoadBalancerArn,
EndpointTargetGroupArn, RecommendedBucketPolicy); a flag given explicitly wins.

A read-only stack (ReadOnly="true", Media Replication's replica) is checked
with --read-only: the uploads through the proxy must be refused, and the test
objects are written directly to S3 instead, so every read is still checked.
The stack adds the endpoint-zones step and the bucket-policy step, which checks
that the bucket policy holds every statement of RecommendedBucketPolicy.

To check a new stack before DNS moves, give --url a test name and --connect-to
the new load balancer (its LoadBalancerDnsName output): requests dial that
host, while TLS (SNI) and Host keep the URL's name, so the listener's
certificate must cover that name. Exit status 0 when every step passes, 1
otherwise, 2 for bad usage.`,
		Example: `  s3proxy check --stack s3proxy --region eu-west-1
  s3proxy check --stack s3proxy --region eu-west-1 --url https://s3-proxy-test.studio.com \
    --connect-to internal-s3proxy-123.eu-west-1.elb.amazonaws.com
  s3proxy check --url https://s3-proxy.studio.com --bucket media --region eu-west-1
  s3proxy check --url https://s3-proxy.studio.com --bucket media --prefix shotgun/ \
    --origin https://studio.shotgrid.autodesk.com --json`,
		Annotations: map[string]string{"environment": `  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                            static credentials, used when both key variables are set
  AWS_PROFILE               the shared-config profile (SSO included)
  AWS_REGION, AWS_DEFAULT_REGION
                            the bucket's (and stack's) region when --region is not given
  AWS_ENDPOINT_URL          one endpoint for every AWS service (a local emulator); --s3-endpoint wins for S3
  No S3PROXY_* variable is read: check tests the deployment from outside.`},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return executeCheck(cmd.Context(), cmd.Flags(), f, cio)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.stack, "stack", "", "read every value from this stack's outputs (in --region); explicit flags win")
	fs.StringVar(&f.connectTo, "connect-to", "", "dial this host[:port] for the proxy (e.g. the LoadBalancerDnsName output), keeping --url's name for TLS and Host")
	fs.StringVar(&f.url, "url", "", "the proxy's base URL, as entered in ShotGrid's \"S3 Proxy Host Address\" (required without --stack: the ProxyUrl output), or a test name")
	fs.StringVar(&f.bucket, "bucket", "", "the media bucket (required without --stack: the BucketName output)")
	fs.StringVar(&f.region, "region", "", "the stack's and bucket's region (default $AWS_REGION, then the profile's; the BucketRegion output wins for the bucket)")
	fs.StringVar(&f.prefix, "prefix", "", "key prefix to write under, e.g. shotgun/ when the proxy only serves that prefix")
	fs.StringVar(&f.signedHost, "signed-host", "", "host ShotGrid signs URLs for (default <bucket>.s3.amazonaws.com)")
	fs.StringVar(&f.origin, "origin", "", "the ShotGrid site's origin, e.g. https://studio.shotgrid.autodesk.com; enables the CORS steps")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3 endpoint for the direct calls (create, complete, clean-up), path-style; for local S3 servers")
	fs.BoolVar(&f.keep, "keep", false, "leave the test objects in the bucket")
	fs.BoolVar(&f.readOnly, "read-only", false, "the stack is read-only (the ReadOnly output): expect uploads through the proxy refused, and write the test objects directly to S3")
	fs.BoolVar(&f.json, "json", false, "print a machine-readable JSON report instead of text")
	fs.DurationVar(&f.stepTimeout, "step-timeout", s3check.DefaultStepTime, "time limit of each step")
	fs.StringVar(&f.loadBalancerARN, "load-balancer-arn", "", "the stack's LoadBalancerArn output; with --endpoint-target-group-arn, adds the endpoint-zones step")
	fs.StringVar(&f.endpointTargetGroupARN, "endpoint-target-group-arn", "", "the stack's EndpointTargetGroupArn output; see --load-balancer-arn")
	fs.StringVar(&f.unlistedProfile, "unlisted-profile", "", "shared-config profile of a principal that may read the bucket but is not in ShotGridPrincipalArns, OtherReaderArns or CheckPrincipalArns; adds the unlisted-principal step")
	return cmd
}

// executeCheck runs the steps. Credentials and the region come from getenv
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
// AWS_REGION) before the rest of the default chain (shared config, SSO,
// instance roles).
func executeCheck(ctx context.Context, fs *pflag.FlagSet, f checkFlags, cio cliIO) error {
	if f.stack == "" {
		var missing []string
		if f.url == "" {
			missing = append(missing, "--url")
		}
		if f.bucket == "" {
			missing = append(missing, "--bucket")
		}
		if len(missing) > 0 {
			return usageError{"missing " + strings.Join(missing, " and ") + " (or name the deployed stack with --stack)"}
		}
	}
	if fs.Changed("connect-to") && strings.TrimSpace(f.connectTo) == "" {
		// `--connect-to "$(out LoadBalancerDnsName)"` with STACK or REGION
		// unset expands to nothing; ignoring it would check whatever the
		// proxy's name points at now, which during a migration is the old
		// proxy.
		return usageError{"--connect-to is empty: is `out LoadBalancerDnsName` reading the right STACK and REGION?"}
	}
	if (f.loadBalancerARN == "") != (f.endpointTargetGroupARN == "") && f.stack == "" {
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
	bucketRegion := awsCfg.Region
	var recommended string
	if f.stack != "" {
		out, err := sgstacks.Outputs(ctx, cloudformation.NewFromConfig(awsCfg), awsCfg.Region, f.stack)
		if err != nil {
			return failed(err)
		}
		first := func(list string) string { v, _, _ := strings.Cut(list, ","); return strings.TrimSpace(v) }
		fromStack := []struct {
			flag string
			dst  *string
			val  string
		}{
			{"url", &f.url, out["ProxyUrl"]},
			{"bucket", &f.bucket, out["BucketName"]},
			{"prefix", &f.prefix, first(out["KeyPrefixes"])},
			{"signed-host", &f.signedHost, out["SignedHost"]},
			{"origin", &f.origin, first(out["AllowedOrigins"])},
			{"load-balancer-arn", &f.loadBalancerARN, out["LoadBalancerArn"]},
			{"endpoint-target-group-arn", &f.endpointTargetGroupARN, out["EndpointTargetGroupArn"]},
		}
		for _, v := range fromStack {
			if !fs.Changed(v.flag) {
				*v.dst = v.val
			}
		}
		if f.url == "" {
			f.url = out["S3ProxyHostAddress"]
		}
		if !fs.Changed("read-only") {
			f.readOnly = out["ReadOnly"] == "true"
		}
		if r := out["BucketRegion"]; r != "" {
			bucketRegion = r
		}
		recommended = out["RecommendedBucketPolicy"]
		var missing []string
		for _, m := range []struct{ val, output, flag string }{{f.url, "ProxyUrl", "--url"}, {f.bucket, "BucketName", "--bucket"}} {
			if m.val == "" {
				missing = append(missing, fmt.Sprintf("stack %s has no %s output: pass %s", f.stack, m.output, m.flag))
			}
		}
		if len(missing) > 0 {
			return usageError{strings.Join(missing, "; ")}
		}
		if v := out["Version"]; v != "" && v != release.Version {
			fmt.Fprintf(cio.stderr, "note: stack %s is version %s, this s3proxy is %s\n", f.stack, v, release.Version)
		}
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
		URL: f.url, Bucket: f.bucket, Region: bucketRegion, SignedHost: f.signedHost, Prefix: f.prefix,
		Origin: f.origin, Keep: f.keep, ReadOnly: f.readOnly, Credentials: awsCfg.Credentials, S3: client,
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
	if recommended != "" {
		opts.BucketPolicy = &s3check.BucketPolicy{Recommended: recommended, S3: client}
	}
	if f.connectTo != "" {
		hc, err := connectTo(f.url, f.connectTo)
		if err != nil {
			return usageError{err.Error()}
		}
		opts.HTTPClient = hc
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

// connectTo is an HTTP client that dials target (host or host:port; the
// URL's port when none) for the proxy's host and port, and every other
// host as usual. TLS still verifies and sends (SNI) the URL's name, and
// Host stays the URL's: net/http takes both from the request URL, not from
// the address dialled. No HTTP(S)_PROXY: the point is to reach that host.
func connectTo(proxyURL, target string) (*http.Client, error) {
	u, err := url.Parse(proxyURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--connect-to needs a --url with a host (got %q)", proxyURL)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	from := net.JoinHostPort(u.Hostname(), port)
	to := target
	if _, _, err := net.SplitHostPort(target); err != nil {
		to = net.JoinHostPort(target, port)
	}
	d := &net.Dialer{Timeout: 30 * time.Second}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DisableCompression = true
	t.ResponseHeaderTimeout = time.Minute
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.EqualFold(addr, from) {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: t}, nil
}
