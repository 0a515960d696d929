// Package preflight checks, before anything is built, what would make an
// s3proxy deploy fail or the deployed proxy not work: the certificate, the
// bucket's real region, the studio's ranges against the account's VPCs, an
// S3 gateway endpoint already on the route tables, the account's Lambda
// concurrency, the bucket's KMS key, and the upload go/no-go — whether S3
// accepts, through an interface endpoint, a presigned URL signed for the
// global host and sent with that Host, which is how the proxy's upload
// passthrough reaches S3.
//
// Each step reports PASS, FAIL, WARN or SKIP with a detail, and every FAIL
// or WARN names its fix. Nothing it reports carries a signature or secret.
package preflight

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// CertificateAPI reads a certificate; *acm.Client satisfies it.
type CertificateAPI interface {
	DescribeCertificate(ctx context.Context, params *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
}

// BucketAPI is what preflight asks S3; *s3.Client satisfies it.
type BucketAPI interface {
	HeadBucket(ctx context.Context, params *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	GetBucketEncryption(ctx context.Context, params *s3.GetBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	DeleteObject(ctx context.Context, params *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// NetworkAPI reads the account's VPCs, route tables and endpoints;
// *ec2.Client satisfies it.
type NetworkAPI interface {
	DescribeVpcs(ctx context.Context, params *ec2.DescribeVpcsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeRouteTables(ctx context.Context, params *ec2.DescribeRouteTablesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeVpcEndpoints(ctx context.Context, params *ec2.DescribeVpcEndpointsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
}

// LambdaAPI reads the account's concurrency; *lambda.Client satisfies it.
type LambdaAPI interface {
	GetAccountSettings(ctx context.Context, params *lambda.GetAccountSettingsInput, optFns ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error)
}

// KeyAPI reads a KMS key; *kms.Client satisfies it.
type KeyAPI interface {
	DescribeKey(ctx context.Context, params *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

var (
	_ CertificateAPI = (*acm.Client)(nil)
	_ BucketAPI      = (*s3.Client)(nil)
	_ NetworkAPI     = (*ec2.Client)(nil)
	_ LambdaAPI      = (*lambda.Client)(nil)
	_ KeyAPI         = (*kms.Client)(nil)
)

// MinUnreservedConcurrency is the unreserved concurrency under which the
// account gets a warning: every thumbnail of a ShotGrid page is one
// invocation, and a new account's limit can be as low as 10.
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
const MinUnreservedConcurrency = 100

// Options are the deployment's values (the template's parameter names in
// the comments) and the clients.
type Options struct {
	// Region is the stack's region.
	Region string
	// BucketName, BucketRegion ("" = the stack's), KeyPrefixes (the first
	// is written under by the go/no-go), SignedHost ("" =
	// <bucket>.s3.amazonaws.com) and BucketKmsKeyArn.
	BucketName, BucketRegion, KeyPrefix, SignedHost, BucketKmsKeyArn string
	// ProxyDomainName and CertificateArn.
	ProxyDomainName, CertificateArn string
	// StudioCidrs or StudioPrefixListId.
	StudioCidrs        []string
	StudioPrefixListId string
	// ReadOnly is the ReadOnly parameter: a read-only stack passes no
	// upload, so the upload go/no-go has nothing to decide.
	ReadOnly bool
	// ExistingVpcId, ExistingPrivateSubnetIds, ExistingRouteTableIds,
	// CreateS3GatewayEndpoint.
	VpcID                   string
	SubnetIDs               []string
	RouteTableIDs           []string
	CreateS3GatewayEndpoint bool
	// EndpointURL is an S3 interface endpoint's base URL
	// (https://bucket.vpce-….s3.<region>.vpce.amazonaws.com) for the
	// go/no-go; empty: one found in the VPC, or the step is skipped.
	EndpointURL string

	Credentials aws.CredentialsProvider
	ACM         CertificateAPI
	S3          BucketAPI
	EC2         NetworkAPI
	Lambda      LambdaAPI
	KMS         KeyAPI
	// HTTPClient sends the go/no-go requests; nil: one that uses no proxy.
	HTTPClient *http.Client
	// OnStep is called as each step finishes.
	OnStep func(Step)
	// StepTimeout bounds each step; default 30 s.
	StepTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Status is a step's outcome.
type Status = stepreport.Status

// Step outcomes. WARN does not fail the run.
const (
	Pass = stepreport.Pass
	Fail = stepreport.Fail
	Warn = stepreport.Warn
	Skip = stepreport.Skip
)

// Step names, in the order they run.
const (
	StepCertificate  = "certificate"
	StepBucketRegion = "bucket-region"
	StepStudioRanges = "studio-ranges"
	StepGateway      = "gateway-endpoint"
	StepConcurrency  = "lambda-concurrency"
	StepKMS          = "kms-key"
	StepUpload       = "upload-go-no-go"
)

// Step is one step's result.
type Step = stepreport.Step

// Report is a whole run; OK is false when a step failed.
type Report = stepreport.Report

// Run runs every step in order.
func Run(ctx context.Context, o Options) Report {
	if o.StepTimeout == 0 {
		o.StepTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: 20 * time.Second}}
	}
	r := &runner{o: o}
	run := stepreport.Runner{Timeout: o.StepTimeout, OnStep: o.OnStep}
	for _, s := range []struct {
		name string
		f    func(context.Context) stepreport.Result
	}{
		{StepCertificate, r.certificate},
		{StepBucketRegion, r.bucketRegion},
		{StepStudioRanges, r.studioRanges},
		{StepGateway, r.gateway},
		{StepConcurrency, r.concurrency},
		{StepKMS, r.kmsKey},
		{StepUpload, r.upload},
	} {
		run.Run(ctx, s.name, s.f)
	}
	return run.Report()
}

type runner struct {
	o Options
	// vpcCidr is the target VPC's block, once read.
	vpcCidr string
}
