package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/preflight"
)

// lineOf is the text line of step name.
func lineOf(stdout, name string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == name {
			return l
		}
	}
	return ""
}

// preflight against moto: the environment init wrote, then each refusal by
// overriding one value. moto has no Lambda GetAccountSettings (404), so
// that step warns here; TestConcurrency in pkg/preflight covers its
// verdicts. moto's ACM issues requested certificates as
// PENDING_VALIDATION and imported ones as ISSUED, which is what the
// certificate cases need.
func TestPreflightAgainstMoto(t *testing.T) {
	m := startMoto(t)
	sg := newShotGrid(t, m)
	env := m.env()
	ctx := context.Background()
	cfg := filepath.Join(t.TempDir(), "samconfig.toml")
	if r := runCLI(t, []string{"init", "--region", sgRegion, "--proxy-stack", "sg-s3-proxy", "--bucket-stack", "sg-private-s3-bucket", "--config-file", cfg, "--non-interactive",
		"--set", "StudioCidrs=192.168.10.0/24"}, env, ""); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	base := []string{"preflight", "--config-file", cfg}

	t.Run("what init wrote passes", func(t *testing.T) {
		r := runCLI(t, base, env, "")
		if r.code != 0 {
			t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for step, want := range map[string]string{
			preflight.StepCertificate: "PASS", preflight.StepBucketRegion: "PASS", preflight.StepStudioRanges: "PASS",
			preflight.StepGateway: "PASS", preflight.StepConcurrency: "WARN", preflight.StepKMS: "PASS", preflight.StepUpload: "SKIP",
		} {
			if l := lineOf(r.stdout, step); !strings.HasPrefix(l, want+"  ") {
				t.Errorf("%s: %q, want %s", step, l, want)
			}
		}
		if l := lineOf(r.stdout, preflight.StepUpload); !strings.Contains(l, "aws ec2 create-vpc-endpoint --region eu-west-1 --vpc-id "+sg.vpcID) {
			t.Errorf("the skip does not say how to make a temporary endpoint: %s", l)
		}
		if !strings.Contains(r.stdout, "OK: 5 passed, 0 failed, 1 warned, 1 skipped") {
			t.Errorf("summary:\n%s", r.stdout)
		}
	})

	pending, err := acm.NewFromConfig(m.AWSConfig(sgRegion)).RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("s3-proxy.studio.example")})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := m.importCertificate(t, "us-east-1", "s3-proxy.studio.example")
	s3w := s3.NewFromConfig(m.AWSConfig("us-west-2"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3w.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("media-oregon"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatal(err)
	}
	// An SSE-KMS bucket with a customer-managed key, and one whose key is
	// disabled.
	km := kms.NewFromConfig(m.AWSConfig(sgRegion))
	s3e := s3.NewFromConfig(m.AWSConfig(sgRegion), func(o *s3.Options) { o.UsePathStyle = true })
	kmsBucket := func(name string, disabled bool) string {
		k, err := km.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(k.KeyMetadata.Arn)
		if disabled {
			if _, err := km.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyMetadata.KeyId}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s3e.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3e.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(name),
			ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(arn)}}}}}); err != nil {
			t.Fatal(err)
		}
		return arn
	}
	kmsKey := kmsBucket("media-kms", false)
	offKey := kmsBucket("media-kms-off", true)

	for _, tc := range []struct {
		name   string
		args   []string
		step   string
		status string
		want   []string
	}{
		{"a pending certificate", []string{"--certificate-arn", aws.ToString(pending.CertificateArn)}, preflight.StepCertificate, "FAIL", []string{"PENDING_VALIDATION", "DNS validation"}},
		{"a certificate of another region", []string{"--certificate-arn", elsewhere}, preflight.StepCertificate, "FAIL", []string{"is in us-east-1, the stack in eu-west-1"}},
		{"a name the certificate does not cover", []string{"--domain-name", "media.studio.example"}, preflight.StepCertificate, "FAIL", []string{"not media.studio.example"}},
		{"a bucket in another region", []string{"--bucket", "media-oregon"}, preflight.StepBucketRegion, "FAIL", []string{"is in us-west-2", "deploy the stack in us-west-2"}},
		{"a bucket that does not exist", []string{"--bucket", "no-such-media"}, preflight.StepBucketRegion, "FAIL", []string{"no such bucket"}},
		{"the VPC's own range", []string{"--studio-cidrs", "10.100.0.0/16"}, preflight.StepStudioRanges, "FAIL", []string{"VPC's own CIDR block"}},
		{"everyone", []string{"--studio-cidrs", "192.168.10.0/24,0.0.0.0/0"}, preflight.StepStudioRanges, "FAIL", []string{"0.0.0.0/0 admits the whole Internet"}},
		{"six ranges", []string{"--studio-cidrs", "192.168.1.0/24,192.168.2.0/24,192.168.3.0/24,192.168.4.0/24,192.168.5.0/24,192.168.6.0/24"}, preflight.StepStudioRanges, "FAIL", []string{"6 ranges, more than the 5", "StudioPrefixListId"}},
		{"inside the VPC", []string{"--studio-cidrs", "10.100.7.0/24"}, preflight.StepStudioRanges, "FAIL", []string{"inside the VPC 10.100.0.0/16"}},
		{"ShotGrid's old default warns", []string{"--studio-cidrs", "10.0.0.0/8"}, preflight.StepStudioRanges, "WARN", []string{"contains the VPC 10.100.0.0/16", "more specific route"}},
		{"a second gateway endpoint", []string{"--create-s3-gateway-endpoint", "true"}, preflight.StepGateway, "FAIL", []string{"CreateS3GatewayEndpoint=false"}},
		{"SSE-KMS without the key", []string{"--bucket", "media-kms"}, preflight.StepKMS, "FAIL", []string{"BucketKmsKeyArn=" + kmsKey}},
		{"SSE-KMS with the key", []string{"--bucket", "media-kms", "--bucket-kms-key-arn", kmsKey}, preflight.StepKMS, "PASS", []string{"enabled"}},
		{"a disabled key", []string{"--bucket", "media-kms-off", "--bucket-kms-key-arn", offKey}, preflight.StepKMS, "FAIL", []string{"Disabled", "enable-key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append(append([]string{}, base...), tc.args...), env, "")
			wantCode := 1
			if tc.status != "FAIL" {
				wantCode = 0
			}
			if r.code != wantCode {
				t.Errorf("exit %d, want %d\n%s%s", r.code, wantCode, r.stdout, r.stderr)
			}
			l := lineOf(r.stdout, tc.step)
			if !strings.HasPrefix(l, tc.status+"  ") {
				t.Fatalf("%s: %q, want %s\n%s", tc.step, l, tc.status, r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(l, w) {
					t.Errorf("%s lacks %q", l, w)
				}
			}
		})
	}

	t.Run("another VPC overlapping, as JSON", func(t *testing.T) {
		if _, err := ec2.NewFromConfig(m.AWSConfig(sgRegion)).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("192.168.0.0/16")}); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, append(append([]string{}, base...), "--json"), env, "")
		var rep preflight.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if r.code != 0 || !rep.OK {
			t.Errorf("exit %d, ok %v", r.code, rep.OK)
		}
		for _, s := range rep.Steps {
			if s.Name == preflight.StepStudioRanges && (s.Status != preflight.Warn || !strings.Contains(s.Detail, "192.168.10.0/24 overlaps VPC vpc-")) {
				t.Errorf("%+v", s)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		r := runCLI(t, []string{"preflight", "--config-file", filepath.Join(t.TempDir(), "none.toml")}, env, "")
		if r.code != 2 {
			t.Errorf("a named file that does not exist: exit %d\n%s", r.code, r.stderr)
		}
		r = runCLI(t, []string{"preflight", "--config-file", "../../samconfig.toml"}, env, "")
		if r.code != 2 || !strings.Contains(r.stderr, "REPLACE_ME") {
			t.Errorf("the template environment: exit %d\n%s", r.code, r.stderr)
		}
	})
}
