package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/mediaisolation/s3proxy/pkg/samconfig"
)

const (
	sgRegion = "eu-west-1"
	// sgRole is the role ShotGrid signs with, as the site's S3
	// Configuration names it.
	sgRole = "arn:aws:iam::123456789012:role/shotgrid-media-access"
)

// shotgrid is a studio's ShotGrid set-up in moto: the sg-private-vpc
// stack, the old nginx proxy stack in it with its hand-made HTTPS
// listener, and the media bucket.
type shotgrid struct {
	vpcID, subnetA, subnetB string
	routeTable              string
	loadBalancerARN         string
	targetGroupARN          string
	certARN                 string
}

func newShotGrid(t *testing.T, m *moto) shotgrid {
	t.Helper()
	ctx := context.Background()
	var sg shotgrid
	out := m.createStack(t, sgRegion, "sg-private-vpc", "sg-private-vpc.yml", map[string]string{"CustomerBucketName": "studio-media"})
	sg.vpcID, sg.subnetA, sg.subnetB = out["VPCId"], out["PrivateSubnetOne"], out["PrivateSubnetTwo"]
	if sg.vpcID == "" || sg.subnetA == "" || sg.subnetB == "" {
		t.Fatalf("sg-private-vpc outputs: %v", out)
	}
	m.createStack(t, sgRegion, "sg-s3-proxy", "sg-s3-proxy.yml", map[string]string{
		"VPC": sg.vpcID, "PrivateSubnetOne": sg.subnetA, "PrivateSubnetTwo": sg.subnetB, "S3BucketName": "studio-media"})
	// moto's CloudFormation records SubnetRouteTableAssociation without
	// associating; AWS associates, so the test does it.
	rt := m.resource(t, sgRegion, "sg-private-vpc", "AWS::EC2::RouteTable")
	for _, sn := range []string{sg.subnetA, sg.subnetB} {
		if _, err := ec2.NewFromConfig(m.AWSConfig(sgRegion)).AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{
			RouteTableId: aws.String(rt), SubnetId: aws.String(sn)}); err != nil {
			t.Fatal(err)
		}
	}
	sg.routeTable = rt
	sg.loadBalancerARN = m.resource(t, sgRegion, "sg-s3-proxy", "AWS::ElasticLoadBalancingV2::LoadBalancer")
	sg.targetGroupARN = m.resource(t, sgRegion, "sg-s3-proxy", "AWS::ElasticLoadBalancingV2::TargetGroup")
	// The HTTPS listener ShotGrid's procedure adds by hand.
	sg.certARN = m.importCertificate(t, sgRegion, "s3-proxy.studio.example")
	sg.addListener(t, m, 443, sg.certARN)
	// The bucket stack makes the bucket; init reads it only when named.
	m.createStack(t, sgRegion, "sg-private-s3-bucket", "sg-private-s3-bucket.yml", map[string]string{"CustomerBucketName": "studio-media"})
	return sg
}

func (sg shotgrid) addListener(t *testing.T, m *moto, port int32, cert string) {
	t.Helper()
	if _, err := elbv2.NewFromConfig(m.AWSConfig(sgRegion)).CreateListener(context.Background(), &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(sg.loadBalancerARN), Port: aws.Int32(port), Protocol: elbtypes.ProtocolEnumHttps,
		Certificates:   []elbtypes.Certificate{{CertificateArn: aws.String(cert)}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(sg.targetGroupARN)}},
	}); err != nil {
		t.Fatal(err)
	}
}

// asked are the keys init prompted for, in order.
func asked(stderr string) []string {
	var keys []string
	for _, m := range regexp.MustCompile(`\? (\w+): `).FindAllStringSubmatch(stderr, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

// configCopy is a copy of the repository's samconfig.toml in a temp dir.
func configCopy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "samconfig.toml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// init against moto's CloudFormation, EC2, ELBv2 and ACM, with stacks
// shaped like ShotGrid's (testdata/). Where moto differs from AWS: a
// gateway endpoint made by its CloudFormation has no VpcEndpointType
// (AWS reports Gateway, the API's default; both readers take "" as
// Gateway), and it checks no IAM permissions.
func TestInitAgainstMoto(t *testing.T) {
	m := startMoto(t)
	sg := newShotGrid(t, m)
	env := m.env()

	t.Run("reads the stacks and asks the rest", func(t *testing.T) {
		cfg := configCopy(t)
		before, _ := os.ReadFile(cfg)
		// KeyPrefixes: Enter (the default); StudioCidrs: the studio's
		// ranges, as the old 10.0.0.0/8 contains the VPC; the principal,
		// as no bucket stack is named: first Enter, which is asked again.
		r := runCLI(t, []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--config-file", cfg},
			env, "\n192.168.10.0/24, 172.16.0.0/12\n\n"+sgRole+"\n")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if got := asked(r.stderr); !slices.Equal(got, []string{"KeyPrefixes", "StudioCidrs", "ShotGridPrincipalArns", "ShotGridPrincipalArns"}) {
			t.Errorf("asked %v, want KeyPrefixes, StudioCidrs, ShotGridPrincipalArns (twice: an empty answer is asked again)\n%s", got, r.stderr)
		}
		if !strings.Contains(r.stderr, "the old proxy admitted 10.0.0.0/8, which contains the VPC 10.100.0.0/16") {
			t.Errorf("the studio question does not say why:\n%s", r.stderr)
		}
		e, err := samconfig.Load(cfg, "default")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"BucketName": "studio-media", "ExistingVpcId": sg.vpcID, "ExistingPrivateSubnetIds": sg.subnetA + "," + sg.subnetB,
			"StudioCidrs": "192.168.10.0/24,172.16.0.0/12", "ProxyDomainName": "s3-proxy.studio.example", "CertificateArn": sg.certARN,
			"KeyPrefixes": "shotgun/", "ShotGridPrincipalArns": sgRole, "CreateS3GatewayEndpoint": "false", "Visibility": "private", "RedirectVia": "endpoint", "UploadPassthrough": "true",
		}
		for k, v := range want {
			if e.Parameters[k] != v {
				t.Errorf("%s = %q, want %q", k, e.Parameters[k], v)
			}
		}
		for _, k := range []string{"StudioCidr", "ExistingRouteTableIds"} {
			if v, ok := e.Parameters[k]; ok {
				t.Errorf("%s = %q written, want none", k, v)
			}
		}
		if e.Region != sgRegion || e.StackName != "s3proxy" {
			t.Errorf("region %q stack %q", e.Region, e.StackName)
		}
		after, _ := os.ReadFile(cfg)
		if !strings.Contains(string(after), "[default.global.parameters]\nstack_name = \"s3proxy\"\nregion = \"eu-west-1\"\n") {
			t.Errorf("region is not in the global table:\n%s", after)
		}
		// [prod] and its comments are untouched.
		i := strings.Index(string(before), "[prod.global.parameters]")
		if !strings.Contains(string(after), string(before)[i:]) {
			t.Errorf("[prod] changed:\n%s", after)
		}
		if !strings.Contains(r.stdout, "ProxyDomainName is the old proxy's name: keep its DNS record on the old proxy until s3proxy check passes") {
			t.Errorf("no word on the DNS switch:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "Next: s3proxy preflight --config-env default --config-file "+cfg) {
			t.Errorf("no next command:\n%s", r.stdout)
		}

		// Again for [prod]: its own values stay, its REPLACE_MEs and the
		// retired StudioCidr go, and [default] is as the first run left it.
		defaultBefore, _ := samconfig.Load(cfg, "default")
		r = runCLI(t, []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--config-file", cfg, "--config-env", "prod",
			"--non-interactive", "--set", "StudioCidrs=192.168.10.0/24", "--set", "ShotGridPrincipalArns=" + sgRole}, env, "")
		if r.code != 0 {
			t.Fatalf("prod: exit %d\n%s", r.code, r.stderr)
		}
		prod, err := samconfig.Load(cfg, "prod")
		if err != nil {
			t.Fatal(err)
		}
		if prod.StackName != "s3proxy-prod" || prod.Parameters["DeletionProtection"] != "true" || prod.Parameters["LogRetentionDays"] != "90" ||
			prod.Parameters["BucketName"] != "studio-media" {
			t.Errorf("prod: %+v", prod)
		}
		for k, v := range prod.Parameters {
			if strings.Contains(v, "REPLACE_ME") || k == "StudioCidr" {
				t.Errorf("prod keeps %s=%q", k, v)
			}
		}
		defaultAfter, _ := samconfig.Load(cfg, "default")
		if samconfig.FormatOverrides(defaultAfter.Parameters, nil) != samconfig.FormatOverrides(defaultBefore.Parameters, nil) {
			t.Errorf("writing [prod] changed [default]")
		}

		// A value set by hand after init survives a second run, where
		// init's own default would have replaced it.
		prod.Parameters["RedirectVia"], prod.Parameters["UploadPassthrough"] = "proxy", "false"
		doc, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, samconfig.Update(doc, prod, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		r = runCLI(t, []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--config-file", cfg, "--config-env", "prod",
			"--non-interactive", "--set", "StudioCidrs=192.168.10.0/24", "--set", "ShotGridPrincipalArns=" + sgRole}, env, "")
		if r.code != 0 {
			t.Fatalf("prod again: exit %d\n%s", r.code, r.stderr)
		}
		if again, _ := samconfig.Load(cfg, "prod"); again.Parameters["RedirectVia"] != "proxy" || again.Parameters["UploadPassthrough"] != "false" {
			t.Errorf("a second init reset hand-set values: RedirectVia=%q UploadPassthrough=%q", again.Parameters["RedirectVia"], again.Parameters["UploadPassthrough"])
		}
	})

	t.Run("the bucket stack's role, non-interactive", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "samconfig.toml")
		answers := filepath.Join(t.TempDir(), "answers")
		if err := os.WriteFile(answers, []byte("# the studio's prefix list\nStudioCidrs = pl-0123456789abcdef0\n\nKeyPrefixes=shotgun/, review/\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--bucket-stack", "sg-private-s3-bucket",
			"--config-file", cfg, "--config-env", "studio", "--non-interactive", "--answers", answers}, env, "")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if got := asked(r.stderr); len(got) != 0 {
			t.Errorf("asked %v in non-interactive mode", got)
		}
		e, err := samconfig.Load(cfg, "studio")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^arn:aws:iam::123456789012:role/sg-private-s3-bucket-SGCrossAccountRole-\w+$`).MatchString(e.Parameters["ShotGridPrincipalArns"]) {
			t.Errorf("ShotGridPrincipalArns = %q", e.Parameters["ShotGridPrincipalArns"])
		}
		if e.Parameters["StudioPrefixListId"] != "pl-0123456789abcdef0" || e.Parameters["StudioCidrs"] != "" {
			t.Errorf("prefix list: %v", e.Parameters)
		}
		if e.StackName != "s3proxy-studio" || e.Parameters["KeyPrefixes"] != "shotgun/,review/" {
			t.Errorf("stack %q, KeyPrefixes %q", e.StackName, e.Parameters["KeyPrefixes"])
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"stack missing", []string{"--proxy-stack", "sg-s3-proxy-old"}, []string{"stack not found: sg-s3-proxy-old in eu-west-1", "--region"}},
		{"wrong region", []string{"--region", "us-east-1", "--proxy-stack", "sg-s3-proxy"}, []string{"stack not found: sg-private-vpc in us-east-1", `--vpc-stack ""`}},
		{"a refused range", []string{"--proxy-stack", "sg-s3-proxy", "--set", "StudioCidrs=10.100.0.0/16", "--set", "ShotGridPrincipalArns=" + sgRole}, []string{"10.100.0.0/16 is the VPC's own CIDR block"}},
		{"an answer missing", []string{"--vpc-stack", "", "--proxy-stack", "sg-s3-proxy", "--set", "CertificateArn=x"},
			[]string{"2 answers missing", "--set StudioCidrs=", "--set ShotGridPrincipalArns=", "aws_role_arn"}},
		{"not a principal", []string{"--proxy-stack", "sg-s3-proxy", "--set", "StudioCidrs=192.168.0.0/16", "--set", "ShotGridPrincipalArns=arn:aws:iam::123:role/x"},
			[]string{"is not an IAM role or user ARN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "samconfig.toml")
			args := append([]string{"init", "--region", sgRegion, "--config-file", cfg, "--non-interactive"}, tc.args...)
			r := runCLI(t, args, env, "")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(cfg); err == nil {
				t.Error("a failed init wrote the file")
			}
		})
	}

	t.Run("a bad answer is a usage error", func(t *testing.T) {
		r := runCLI(t, []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--set", "StudioCidrs"}, env, "")
		if r.code != 2 || !strings.Contains(r.stderr, `answer "StudioCidrs" is not KEY=VALUE`) {
			t.Errorf("exit %d, want 2\n%s", r.code, r.stderr)
		}
	})

	// A second certificate on the old proxy: init cannot choose.
	wild := m.importCertificate(t, sgRegion, "*.studio.example", "studio.example")
	sg.addListener(t, m, 8443, wild)
	t.Run("two candidate certificates", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "samconfig.toml")
		base := []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--bucket-stack", "sg-private-s3-bucket", "--config-file", cfg,
			"--non-interactive", "--set", "StudioCidrs=192.168.0.0/16"}
		r := runCLI(t, base, env, "")
		if r.code != 1 || !strings.Contains(r.stderr, "--set CertificateArn=") || !strings.Contains(r.stderr, sg.certARN) || !strings.Contains(r.stderr, wild) {
			t.Errorf("exit %d, want 1 naming both certificates:\n%s", r.code, r.stderr)
		}
		r = runCLI(t, append(base, "--set", "CertificateArn="+wild, "--set", "ProxyDomainName=a.b.studio.example"), env, "")
		if r.code != 1 || !strings.Contains(r.stderr, "a.b.studio.example is not covered by certificate") {
			t.Errorf("exit %d, want 1 for a name the wildcard does not cover:\n%s", r.code, r.stderr)
		}
		// Interactively: pick the second by number, and the name.
		r = runCLI(t, base[:len(base)-3], env, "2\nmedia.studio.example\n\n192.168.0.0/16\n")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if got := asked(r.stderr); !slices.Equal(got, []string{"CertificateArn", "ProxyDomainName", "KeyPrefixes", "StudioCidrs"}) {
			t.Errorf("asked %v", got)
		}
		e, err := samconfig.Load(cfg, "default")
		if err != nil {
			t.Fatal(err)
		}
		if e.Parameters["CertificateArn"] != wild || e.Parameters["ProxyDomainName"] != "media.studio.example" {
			t.Errorf("certificate %q name %q", e.Parameters["CertificateArn"], e.Parameters["ProxyDomainName"])
		}
	})
}
