package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/preflight"
	"github.com/mediaisolation/s3proxy/pkg/samconfig"
	"github.com/mediaisolation/s3proxy/pkg/sgstacks"
)

type initFlags struct {
	region, vpcStack, proxyStack, bucketStack string
	configEnv, configFile, stackName, answers string
	set                                       []string
	nonInteractive                            bool
}

func newInitCmd(cio cliIO) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init [flags]",
		Short: "Write a samconfig.toml environment from ShotGrid's existing stacks",
		Long: `Reads ShotGrid's existing CloudFormation stacks (nothing is changed in AWS):
the VPC stack's outputs (VPCId, PrivateSubnetOne, PrivateSubnetTwo), the old
nginx proxy stack's parameters (S3BucketName, SecurityGroupCIDR, VPC, subnets)
and the certificate of its HTTPS listener, the VPC's route tables and S3
endpoints, and optionally the bucket stack's role. It asks only for what it
cannot read (the key prefix, the studio's ranges when SecurityGroupCIDR is too
wide, the domain name when the certificate covers several), then writes an
existing-VPC environment into the SAM configuration file, keeping its other
environments. Answers can be given with --set KEY=VALUE or --answers FILE
(KEY=VALUE lines), keyed by template parameter name; --non-interactive takes
the defaults and fails, naming each, when an answer without one is missing.`,
		Example: `  s3proxy init --region eu-west-1 --proxy-stack sg-s3-proxy
  s3proxy init --region eu-west-1 --proxy-stack sg-s3-proxy --bucket-stack sg-private-s3-bucket \
    --config-env prod --set StudioCidrs=192.168.0.0/16,172.20.0.0/14 --set KeyPrefixes=shotgun/ --non-interactive`,
		Annotations: map[string]string{"environment": `  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                            static credentials, used when both key variables are set
  AWS_PROFILE               the shared-config profile (SSO included)
  AWS_REGION, AWS_DEFAULT_REGION
                            the stacks' region when --region is not given
  AWS_ENDPOINT_URL          one endpoint for every AWS service (a local emulator)`},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return executeInit(cmd.Context(), f, cio)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.region, "region", "", "region of ShotGrid's stacks and the bucket (default $AWS_REGION, then the profile's)")
	fs.StringVar(&f.vpcStack, "vpc-stack", "sg-private-vpc", "ShotGrid's VPC stack (sg-private-vpc.yml); \"\" to read none")
	fs.StringVar(&f.proxyStack, "proxy-stack", "", "the old nginx proxy's stack (sg-s3-proxy.yml)")
	fs.StringVar(&f.bucketStack, "bucket-stack", "", "ShotGrid's bucket stack (sg-private-s3-bucket.yml), for the role ShotGrid assumes (optional)")
	fs.StringVar(&f.configEnv, "config-env", "default", "the SAM environment to write")
	fs.StringVar(&f.configFile, "config-file", samconfig.DefaultFile, "the SAM configuration file")
	fs.StringVar(&f.stackName, "stack-name", "", "the new stack's name (default s3proxy, or s3proxy-ENV)")
	fs.StringArrayVar(&f.set, "set", nil, "an answer, KEY=VALUE with KEY a template parameter (repeatable); wins over what is read")
	fs.StringVar(&f.answers, "answers", "", "a file of KEY=VALUE answer lines (# comments), as --set")
	fs.BoolVar(&f.nonInteractive, "non-interactive", false, "never prompt: take defaults, fail on a missing answer")
	return cmd
}

// question is one value init could not read.
type question struct {
	key, why, def string
	// choices, when set, are the only answers (by number or value).
	choices []string
	// optional answers may be empty.
	optional bool
}

func executeInit(ctx context.Context, f initFlags, cio cliIO) error {
	if err := samconfig.ValidName(f.configEnv); err != nil {
		return usageError{err.Error()}
	}
	if f.vpcStack == "" && f.proxyStack == "" {
		return usageError{"name --vpc-stack or --proxy-stack (or both): there is nothing to read"}
	}
	answers, err := collectAnswers(f)
	if err != nil {
		return usageError{err.Error()}
	}
	awsCfg, err := checkAWSConfig(ctx, f.region, cio.getenv)
	if err != nil {
		return failed(fmt.Errorf("loading the AWS configuration: %w", err))
	}
	if awsCfg.Region == "" {
		return usageError{"--region is required (no AWS_REGION and no region in the profile)"}
	}
	region := awsCfg.Region
	found, err := sgstacks.Read(ctx, sgstacks.Clients{
		CFN: cloudformation.NewFromConfig(awsCfg), EC2: ec2.NewFromConfig(awsCfg),
		ELB: elbv2.NewFromConfig(awsCfg), ACM: acm.NewFromConfig(awsCfg),
	}, region, sgstacks.Stacks{VPC: f.vpcStack, Proxy: f.proxyStack, Bucket: f.bucketStack})
	if err != nil {
		if errors.Is(err, sgstacks.ErrStackNotFound) && f.proxyStack != "" && strings.Contains(err.Error(), ": "+f.vpcStack+" in ") {
			err = fmt.Errorf("%w; or, when the VPC was not made by ShotGrid's VPC stack, --vpc-stack \"\" to read it from the proxy stack", err)
		}
		return failed(err)
	}

	out := cio.stdout
	fmt.Fprintf(out, "Read from ShotGrid's stacks in %s:\n", region)
	params := map[string]string{}
	source := map[string]string{}
	setRead := func(key, value, from string) {
		if value != "" {
			params[key], source[key] = value, from
		}
	}
	setRead("BucketName", found.BucketName, found.Sources["BucketName"])
	setRead("ExistingVpcId", found.VpcID, found.Sources["ExistingVpcId"])
	setRead("ExistingPrivateSubnetIds", strings.Join(found.PrivateSubnetIDs, ","), found.Sources["ExistingPrivateSubnetIds"])
	setRead("ShotGridPrincipalArns", strings.Join(found.ShotGridRoleARNs, ","), found.Sources["ShotGridPrincipalArns"])

	var qs []question
	// The certificate and the name it covers.
	switch len(found.Certificates) {
	case 0:
		qs = append(qs, question{key: "CertificateArn", why: "the ACM certificate for the proxy's name, in " + region + " (none was found on the old proxy's HTTPS listener)"})
	case 1:
		setRead("CertificateArn", found.Certificates[0].ARN, "the old proxy's HTTPS listener")
	default:
		var arns []string
		for _, c := range found.Certificates {
			arns = append(arns, c.ARN)
		}
		qs = append(qs, question{key: "CertificateArn", why: "the old proxy's listeners carry several certificates; pick the one for the proxy's name", choices: arns})
	}
	if len(found.Certificates) == 1 {
		names := found.Certificates[0].Names
		if len(names) == 1 && !strings.HasPrefix(names[0], "*.") {
			setRead("ProxyDomainName", names[0], "the certificate's only name")
		} else {
			// A default only when one name is not a wildcard: guessing
			// among several would pick a production name by accident.
			def := ""
			var plain []string
			for _, n := range names {
				if !strings.HasPrefix(n, "*.") {
					plain = append(plain, n)
				}
			}
			if len(plain) == 1 {
				def = plain[0]
			}
			qs = append(qs, question{key: "ProxyDomainName", def: def,
				why: "the proxy's DNS name; the certificate covers " + strings.Join(names, ", ") + ". For a switch of the DNS name, the old proxy's name"})
		}
	} else {
		qs = append(qs, question{key: "ProxyDomainName", why: "the proxy's DNS name, covered by the certificate"})
	}
	if found.BucketName == "" {
		qs = append(qs, question{key: "BucketName", why: "the media bucket ShotGrid stores into"})
	}
	if found.VpcID == "" {
		qs = append(qs, question{key: "ExistingVpcId", why: "the VPC the proxy goes into"})
	}
	if len(found.PrivateSubnetIDs) == 0 {
		qs = append(qs, question{key: "ExistingPrivateSubnetIds", why: "two private subnets of that VPC, comma-separated"})
	}
	qs = append(qs, question{key: "KeyPrefixes", def: "shotgun/", why: "the key prefixes the proxy serves, comma-separated (ShotGrid's Fine Tuning prefix is shotgun/)"})

	// The studio's ranges: the old SecurityGroupCIDR unless it is too wide.
	studio := found.SecurityGroupCIDR
	studioWhy := "the studio networks that reach the proxy (site, VPN, render farm), comma-separated CIDRs, or a managed prefix list ID (pl-…)"
	if studio != "" {
		for _, finding := range preflight.StudioRanges([]string{studio}, found.VpcCidr) {
			if finding.Refuse || finding.Warn {
				studioWhy = fmt.Sprintf("the old proxy admitted %s, which %s; enter the specific site, VPN and render-farm ranges instead (comma-separated CIDRs, or a managed prefix list ID pl-…)", studio, finding.Problem)
				studio = ""
				break
			}
		}
	}
	if studio != "" {
		setRead("StudioCidrs", studio, "the old proxy's SecurityGroupCIDR")
	} else {
		qs = append(qs, question{key: "StudioCidrs", why: studioWhy})
	}
	if len(found.ShotGridRoleARNs) == 0 {
		qs = append(qs, question{key: "ShotGridPrincipalArns",
			why: "the IAM role ARN ShotGrid signs your media URLs with: the aws_role_arn of the site's S3 Configuration (the role of ShotGrid's bucket stack; name it with --bucket-stack to read it), comma-separated if several"})
	}

	for _, k := range sortedKeys(params) {
		fmt.Fprintf(out, "  %-25s %s  (%s)\n", k, params[k], source[k])
	}
	if found.VpcCidr != "" {
		fmt.Fprintf(out, "  %-25s %s\n", "(VPC CIDR block)", found.VpcCidr)
	}
	for _, n := range found.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
	for _, c := range found.Certificates {
		if c.Status != "ISSUED" {
			fmt.Fprintf(out, "  note: certificate %s is %s, not ISSUED: preflight will refuse it\n", c.ARN, c.Status)
		}
	}

	// Answers given up front win over what was read, and answer questions.
	for k, v := range answers {
		params[k] = v
	}
	var missing []string
	var in *bufio.Scanner
	for _, q := range qs {
		if _, ok := answers[q.key]; ok {
			continue
		}
		if f.nonInteractive {
			if q.def != "" {
				params[q.key] = q.def
			} else if !q.optional {
				missing = append(missing, missingAnswer(q))
			}
			continue
		}
		if in == nil {
			in = bufio.NewScanner(cio.stdin)
		}
		v, err := ask(in, cio.stderr, q)
		if err != nil {
			return failed(err)
		}
		if v != "" {
			params[q.key] = normalizeList(v)
		}
	}
	if len(missing) > 0 {
		return failed(fmt.Errorf("%d answers missing (--non-interactive):\n  %s", len(missing), strings.Join(missing, "\n  ")))
	}

	// The studio's ranges: a prefix list goes into its own parameter.
	if v := params["StudioCidrs"]; strings.HasPrefix(v, "pl-") {
		params["StudioPrefixListId"] = v
		delete(params, "StudioCidrs")
	}
	if err := validateInit(params, found, cio.stdout); err != nil {
		return failed(err)
	}
	// The VPC's own gateway endpoint serves the function, or one is made.
	if len(found.GatewayEndpointIDs) > 0 {
		params["CreateS3GatewayEndpoint"] = "false"
		fmt.Fprintf(out, "  CreateS3GatewayEndpoint  false  (the route tables already have S3 gateway endpoint %s)\n", strings.Join(found.GatewayEndpointIDs, ", "))
	} else if len(found.RouteTableIDs) > 0 && params["CreateS3GatewayEndpoint"] == "" {
		params["CreateS3GatewayEndpoint"] = "true"
		params["ExistingRouteTableIds"] = strings.Join(found.RouteTableIDs, ",")
		fmt.Fprintf(out, "  CreateS3GatewayEndpoint  true  (no S3 gateway endpoint on %s)\n", strings.Join(found.RouteTableIDs, ", "))
	}
	// Write, keeping what the environment had that init does not set.
	doc, err := os.ReadFile(f.configFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return failed(err)
	}
	env := samconfig.Env{Name: f.configEnv, Region: region, StackName: f.stackName, Parameters: map[string]string{}, Order: initOrder}
	if len(doc) > 0 {
		old, err := samconfig.Parse(doc, f.configEnv)
		switch {
		case errors.Is(err, samconfig.ErrNoEnv):
		case err != nil:
			return failed(fmt.Errorf("%s: %w", f.configFile, err))
		default:
			for k, v := range old.Parameters {
				if !strings.Contains(v, "REPLACE_ME") && !slices.Contains(retired, k) {
					env.Parameters[k] = v
				}
			}
			env.Order = append(append([]string{}, initOrder...), old.Order...)
			if env.StackName == "" {
				env.StackName = old.StackName
			}
		}
	}
	if env.StackName == "" {
		env.StackName = "s3proxy"
		if f.configEnv != "default" {
			env.StackName += "-" + f.configEnv
		}
	}
	for k, v := range params {
		env.Parameters[k] = v
	}
	// Defaults fill only what neither the answers nor the environment hold:
	// a value set by hand (RedirectVia=proxy, say) survives a second run.
	for k, v := range map[string]string{"Visibility": "private", "RedirectVia": "endpoint", "UploadPassthrough": "true"} {
		if env.Parameters[k] == "" {
			env.Parameters[k] = v
		}
	}
	if _, ok := params["StudioPrefixListId"]; ok {
		delete(env.Parameters, "StudioCidrs")
	} else {
		delete(env.Parameters, "StudioPrefixListId")
	}
	comment := []string{fmt.Sprintf("Written by s3proxy init from %s in %s.", stackList(f), region)}
	if err := os.WriteFile(f.configFile, samconfig.Update(doc, env, comment), 0o644); err != nil {
		return failed(err)
	}
	fmt.Fprintf(out, "Wrote [%s] to %s (stack %s, region %s).\n", f.configEnv, f.configFile, env.StackName, region)
	if _, answered := answers["ProxyDomainName"]; source["ProxyDomainName"] != "" && !answered {
		fmt.Fprintf(out, "ProxyDomainName is the old proxy's name: keep its DNS record on the old proxy until s3proxy check passes against the new load balancer under a test name (--url https://<test name> --connect-to <LoadBalancerDnsName>).\n")
	}
	next := "s3proxy preflight --config-env " + f.configEnv
	if f.configFile != samconfig.DefaultFile {
		next += " --config-file " + f.configFile
	}
	fmt.Fprintf(out, "Next: %s\n", next)
	return nil
}

// initOrder is the order init writes parameters in: the seven answers
// first.
var initOrder = []string{"BucketName", "ExistingVpcId", "ExistingPrivateSubnetIds", "StudioCidrs", "StudioPrefixListId",
	"ProxyDomainName", "CertificateArn", "KeyPrefixes", "ShotGridPrincipalArns", "CreateS3GatewayEndpoint", "ExistingRouteTableIds",
	"Visibility", "RedirectVia", "UploadPassthrough"}

// retired are parameters an older environment may hold that the template
// no longer has.
var retired = []string{"StudioCidr"}

func stackList(f initFlags) string {
	var s []string
	for _, n := range []string{f.vpcStack, f.proxyStack, f.bucketStack} {
		if n != "" {
			s = append(s, n)
		}
	}
	return strings.Join(s, ", ")
}

func missingAnswer(q question) string {
	s := fmt.Sprintf("--set %s=…  %s", q.key, q.why)
	if len(q.choices) > 0 {
		s += ": " + strings.Join(q.choices, " or ")
	}
	return s
}

// ask prompts for q on w and reads one line; it asks again, at most three
// times, while the answer is not one of q's choices.
func ask(in *bufio.Scanner, w io.Writer, q question) (string, error) {
	for range 3 {
		fmt.Fprintf(w, "? %s: %s\n", q.key, q.why)
		for i, c := range q.choices {
			fmt.Fprintf(w, "    %d) %s\n", i+1, c)
		}
		if q.def != "" {
			fmt.Fprintf(w, "  %s [%s]: ", q.key, q.def)
		} else {
			fmt.Fprintf(w, "  %s: ", q.key)
		}
		if !in.Scan() {
			if err := in.Err(); err != nil {
				return "", err
			}
			return "", fmt.Errorf("no answer for %s (end of input); give it with --set %s=…", q.key, q.key)
		}
		v := strings.TrimSpace(in.Text())
		if v == "" {
			v = q.def
		}
		if len(q.choices) > 0 {
			for i, c := range q.choices {
				if v == c || v == fmt.Sprint(i+1) {
					return c, nil
				}
			}
			fmt.Fprintf(w, "  answer one of 1-%d\n", len(q.choices))
			continue
		}
		if v != "" || q.optional {
			return v, nil
		}
	}
	return "", fmt.Errorf("no usable answer for %s", q.key)
}

// collectAnswers reads --answers then --set.
func collectAnswers(f initFlags) (map[string]string, error) {
	a := map[string]string{}
	var lines []string
	if f.answers != "" {
		b, err := os.ReadFile(f.answers)
		if err != nil {
			return nil, fmt.Errorf("--answers: %v", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				lines = append(lines, t)
			}
		}
	}
	lines = append(lines, f.set...)
	for _, l := range lines {
		k, v, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			return nil, fmt.Errorf("answer %q is not KEY=VALUE", l)
		}
		if k == "StudioCidr" {
			k = "StudioCidrs"
		}
		a[k] = normalizeList(v)
	}
	return a, nil
}

// validateInit refuses answers that the deploy would refuse, each with its
// fix, and prints the warnings.
func validateInit(p map[string]string, found sgstacks.Found, w io.Writer) error {
	var errs []string
	if v := p["StudioCidrs"]; v != "" {
		if n := len(strings.Split(v, ",")); n > preflight.MaxStudioCidrs {
			errs = append(errs, fmt.Sprintf("StudioCidrs: %d ranges, more than the %d it takes: put them into a managed prefix list and answer its ID (pl-…)", n, preflight.MaxStudioCidrs))
		}
		for _, finding := range preflight.StudioRanges(strings.Split(v, ","), found.VpcCidr) {
			switch {
			case finding.Refuse:
				errs = append(errs, "StudioCidrs: "+finding.Range+" "+finding.Problem+": "+finding.Fix)
			case finding.Warn:
				fmt.Fprintf(w, "  warning: StudioCidrs %s %s: %s\n", finding.Range, finding.Problem, finding.Fix)
			}
		}
	} else if p["StudioPrefixListId"] == "" {
		errs = append(errs, "StudioCidrs: give the studio's ranges or a prefix list ID")
	}
	for _, a := range strings.Split(p["ShotGridPrincipalArns"], ",") {
		if a != "" && !principalARN.MatchString(a) {
			errs = append(errs, fmt.Sprintf("ShotGridPrincipalArns: %q is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)", a))
		}
	}
	if v := p["ExistingPrivateSubnetIds"]; v != "" && len(strings.Split(v, ",")) < 2 {
		errs = append(errs, "ExistingPrivateSubnetIds: give two subnets in different zones, comma-separated")
	}
	if name, arn := p["ProxyDomainName"], p["CertificateArn"]; name != "" {
		for _, c := range found.Certificates {
			if c.ARN == arn && !preflight.Covers(c.Names, name) {
				errs = append(errs, fmt.Sprintf("ProxyDomainName: %s is not covered by certificate %s (%s): pick a name it covers, or another certificate",
					name, arn, strings.Join(c.Names, ", ")))
			}
		}
	}
	for _, k := range []string{"BucketName", "ExistingVpcId", "ProxyDomainName", "CertificateArn", "ShotGridPrincipalArns"} {
		if p[k] == "" {
			errs = append(errs, k+": required")
		}
	}
	if len(errs) > 0 {
		return errors.New("the answers would fail the deploy:\n  " + strings.Join(errs, "\n  "))
	}
	return nil
}

// normalizeList trims v and the spaces around its commas.
func normalizeList(v string) string {
	parts := strings.Split(strings.TrimSpace(v), ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return strings.Join(parts, ",")
}

// principalARN is the template's pattern for ShotGridPrincipalArns.
var principalARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$`)

func sortedKeys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}
