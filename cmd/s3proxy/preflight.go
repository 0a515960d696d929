package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mediaisolation/s3proxy/pkg/preflight"
	"github.com/mediaisolation/s3proxy/pkg/samconfig"
)

// preflightParams maps each value flag to its template parameter.
var preflightParams = []struct{ flag, param, usage string }{
	{"bucket", "BucketName", "the media bucket"},
	{"bucket-region", "BucketRegion", "the bucket's region, when not the stack's"},
	{"key-prefixes", "KeyPrefixes", "the proxied key prefixes; the go/no-go writes under the first"},
	{"signed-host", "SignedHost", "host ShotGrid signs URLs for (default <bucket>.s3.amazonaws.com)"},
	{"bucket-kms-key-arn", "BucketKmsKeyArn", "the bucket's KMS key, for an SSE-KMS bucket"},
	{"domain-name", "ProxyDomainName", "the proxy's DNS name"},
	{"certificate-arn", "CertificateArn", "the ACM certificate for ProxyDomainName"},
	{"studio-cidrs", "StudioCidrs", "the studio's ranges, comma-separated"},
	{"studio-prefix-list-id", "StudioPrefixListId", "a managed prefix list of the studio's ranges, instead of StudioCidrs"},
	{"vpc-id", "ExistingVpcId", "the VPC the proxy goes into"},
	{"subnet-ids", "ExistingPrivateSubnetIds", "the VPC's private subnets, comma-separated"},
	{"route-table-ids", "ExistingRouteTableIds", "the private subnets' route tables (default: read from the subnets)"},
	{"create-s3-gateway-endpoint", "CreateS3GatewayEndpoint", "true or false, as the stack parameter"},
}

type preflightFlags struct {
	configEnv, configFile, region, endpointURL string
	values                                     map[string]*string
	json                                       bool
	stepTimeout                                time.Duration
}

func newPreflightCmd(cio cliIO) *cobra.Command {
	f := preflightFlags{values: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "preflight [--config-env ENV] [flags]",
		Short: "Check a deployment's parameters against AWS before anything is built",
		Long: `Reads a samconfig.toml environment (as s3proxy init writes it; flags override
each value) and checks, before 'sam deploy', what would fail the deploy or the
proxy: the certificate (ISSUED, in the stack's region, covering the domain
name), the bucket's real region, the studio's ranges against the account's
VPCs, an S3 gateway endpoint already on the route tables, the account's Lambda
concurrency, the bucket's KMS key, and the upload go/no-go: a presigned PUT and
GET signed for the global host <bucket>.s3.amazonaws.com, sent to an S3
interface endpoint (--endpoint-url, or one found in the VPC) with that Host, as
the proxy's upload passthrough does. Without an endpoint it prints how to
create and delete a temporary one. Each step is PASS, FAIL, WARN or SKIP, and
each FAIL or WARN names its fix. Exit status 0 when nothing failed (warnings
included), 1 otherwise, 2 for bad usage.`,
		Example: `  s3proxy preflight --config-env default
  s3proxy preflight --config-env prod --endpoint-url https://bucket.vpce-0abc-1de2.s3.eu-west-1.vpce.amazonaws.com
  s3proxy preflight --config-file ./samconfig.toml --config-env prod --json`,
		Annotations: map[string]string{"environment": `  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                            static credentials, used when both key variables are set
  AWS_PROFILE               the shared-config profile (SSO included)
  AWS_REGION, AWS_DEFAULT_REGION
                            the region when neither --region nor the environment's region is set
  AWS_ENDPOINT_URL          one endpoint for every AWS service (a local emulator)`},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return executePreflight(cmd.Context(), cmd.Flags(), f, cio)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.configEnv, "config-env", "default", "the SAM environment to read")
	fs.StringVar(&f.configFile, "config-file", samconfig.DefaultFile, "the SAM configuration file (read when it exists, or when named)")
	fs.StringVar(&f.region, "region", "", "the stack's region (default the environment's, then $AWS_REGION)")
	for _, p := range preflightParams {
		f.values[p.param] = fs.String(p.flag, "", p.usage+" ("+p.param+")")
	}
	fs.StringVar(&f.endpointURL, "endpoint-url", "", "an S3 interface endpoint's base URL, https://bucket.vpce-….s3.<region>.vpce.amazonaws.com, for the go/no-go")
	fs.BoolVar(&f.json, "json", false, "print a machine-readable JSON report instead of text")
	fs.DurationVar(&f.stepTimeout, "step-timeout", 30*time.Second, "time limit of each step")
	return cmd
}

func executePreflight(ctx context.Context, fs *pflag.FlagSet, f preflightFlags, cio cliIO) error {
	if err := samconfig.ValidName(f.configEnv); err != nil {
		return usageError{err.Error()}
	}
	if v := *f.values["CreateS3GatewayEndpoint"]; fs.Changed("create-s3-gateway-endpoint") && v != "true" && v != "false" {
		return usageError{fmt.Sprintf("--create-s3-gateway-endpoint %q: true or false", v)}
	}
	params := map[string]string{}
	region := f.region
	env, err := samconfig.Load(f.configFile, f.configEnv)
	switch {
	case err == nil:
		params = env.Parameters
		if region == "" {
			region = env.Region
		}
	case errors.Is(err, os.ErrNotExist) && !fs.Changed("config-file"):
	default:
		return usageError{fmt.Sprintf("%s: %v", f.configFile, err)}
	}
	for _, p := range preflightParams {
		if fs.Changed(p.flag) {
			params[p.param] = *f.values[p.param]
		}
	}
	for k, v := range params {
		if strings.Contains(v, "REPLACE_ME") {
			return usageError{fmt.Sprintf("%s is still %q in [%s] of %s: run s3proxy init, or edit it", k, v, f.configEnv, f.configFile)}
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	awsCfg, err := checkAWSConfig(ctx, region, cio.getenv)
	if err != nil {
		return failed(fmt.Errorf("loading the AWS configuration: %w", err))
	}
	if awsCfg.Region == "" {
		return usageError{"--region is required (no region in the environment, no AWS_REGION and none in the profile)"}
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return failed(fmt.Errorf("no usable AWS credentials (set AWS_PROFILE, or run aws sso login): %w", err))
	}
	list := func(k string) []string {
		var out []string
		for _, s := range strings.Split(params[k], ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	prefixes := list("KeyPrefixes")
	prefix := ""
	if len(prefixes) > 0 {
		prefix = prefixes[0]
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cio.getenv("AWS_ENDPOINT_URL") != "" {
			o.UsePathStyle = true // a local emulator has no bucket subdomains
		}
	})
	o := preflight.Options{
		Region: awsCfg.Region, BucketName: params["BucketName"], BucketRegion: params["BucketRegion"], KeyPrefix: prefix,
		SignedHost: params["SignedHost"], BucketKmsKeyArn: params["BucketKmsKeyArn"],
		ProxyDomainName: params["ProxyDomainName"], CertificateArn: params["CertificateArn"],
		StudioCidrs: list("StudioCidrs"), StudioPrefixListId: params["StudioPrefixListId"],
		VpcID: params["ExistingVpcId"], SubnetIDs: list("ExistingPrivateSubnetIds"), RouteTableIDs: list("ExistingRouteTableIds"),
		CreateS3GatewayEndpoint: params["CreateS3GatewayEndpoint"] == "true",
		ReadOnly:                params["ReadOnly"] == "true",
		EndpointURL:             f.endpointURL,
		Credentials:             awsCfg.Credentials,
		ACM:                     acm.NewFromConfig(awsCfg), S3: s3c, EC2: ec2.NewFromConfig(awsCfg),
		Lambda: lambda.NewFromConfig(awsCfg), KMS: kms.NewFromConfig(awsCfg),
		StepTimeout: f.stepTimeout,
	}
	if params["StudioCidr"] != "" && len(o.StudioCidrs) == 0 {
		o.StudioCidrs = []string{params["StudioCidr"]}
	}
	if !f.json {
		o.OnStep = func(s preflight.Step) { fmt.Fprintln(cio.stdout, preflight.Line(s)) }
	}
	rep := preflight.Run(ctx, o)
	if f.json {
		err = preflight.WriteJSON(cio.stdout, rep)
	} else {
		_, err = fmt.Fprintln(cio.stdout, preflight.Summary(rep))
	}
	if err != nil {
		return failed(err)
	}
	if !rep.OK {
		return failure{errSilent}
	}
	return nil
}
