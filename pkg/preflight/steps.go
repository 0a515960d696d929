package preflight

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
	"github.com/mediaisolation/s3proxy/pkg/sgstacks"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// certificate: ISSUED, in the stack's region (an ALB takes only a
// certificate of its own region), and covering ProxyDomainName.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html
func (r *runner) certificate(ctx context.Context) stepreport.Result {
	o := r.o
	if o.CertificateArn == "" {
		return stepreport.Failed("set CertificateArn to an ACM certificate in "+o.Region+" that covers ProxyDomainName", "no CertificateArn")
	}
	a, err := arn.Parse(o.CertificateArn)
	if err != nil || a.Service != "acm" {
		return stepreport.Failed("CertificateArn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/…)", "%q is not an ACM certificate ARN", o.CertificateArn)
	}
	if a.Region != o.Region {
		return stepreport.Failed(fmt.Sprintf("the load balancer takes only a certificate of its own region: request or import one in %s (aws acm request-certificate --region %s --domain-name %s)", o.Region, o.Region, o.ProxyDomainName),
			"the certificate is in %s, the stack in %s", a.Region, o.Region)
	}
	out, err := o.ACM.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(o.CertificateArn)})
	if err != nil {
		return stepreport.Failed("check CertificateArn (aws acm list-certificates --region "+o.Region+") and that you may call acm:DescribeCertificate", "DescribeCertificate: %v", err)
	}
	c := out.Certificate
	names := []string{aws.ToString(c.DomainName)}
	for _, n := range c.SubjectAlternativeNames {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if st := string(c.Status); st != "ISSUED" {
		h := "only an ISSUED certificate can be put on a listener"
		if st == "PENDING_VALIDATION" {
			h += ": finish its DNS validation (aws acm describe-certificate shows the CNAME record to create)"
		} else {
			h += ": request a new one"
		}
		return stepreport.Failed(h, "certificate for %s is %s", strings.Join(names, ", "), st)
	}
	if o.ProxyDomainName == "" {
		return stepreport.Failed("set ProxyDomainName", "no ProxyDomainName to compare with %s", strings.Join(names, ", "))
	}
	if !Covers(names, o.ProxyDomainName) {
		return stepreport.Failed("pick a certificate that covers the name (a wildcard covers one label only), or a ProxyDomainName it covers",
			"the certificate covers %s, not %s", strings.Join(names, ", "), o.ProxyDomainName)
	}
	if c.NotAfter != nil && c.NotAfter.Before(r.o.Now().Add(30*24*time.Hour)) {
		return stepreport.Warned("renew or replace the certificate before it expires", "ISSUED, covers %s, but expires %s", o.ProxyDomainName, c.NotAfter.Format(time.DateOnly))
	}
	return stepreport.Passed("ISSUED in %s, covers %s", o.Region, o.ProxyDomainName)
}

// bucketRegion reads the bucket's region from HeadBucket's
// x-amz-bucket-region header, which S3 sends even with a 403 or a 301.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
func (r *runner) bucketRegion(ctx context.Context) stepreport.Result {
	o := r.o
	if o.BucketName == "" {
		return stepreport.Failed("set BucketName", "no BucketName")
	}
	out, err := o.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(o.BucketName)})
	region, status := "", 200
	if err == nil {
		region = aws.ToString(out.BucketRegion)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
		region = re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	if status == http.StatusNotFound {
		return stepreport.Failed("check BucketName: S3 knows no such bucket", "HeadBucket %s: 404", o.BucketName)
	}
	if region == "" {
		if err != nil {
			return stepreport.Failed("check BucketName and this machine's access to S3", "HeadBucket %s: %v", o.BucketName, err)
		}
		return stepreport.Failed("check BucketName", "HeadBucket %s answered no x-amz-bucket-region", o.BucketName)
	}
	want := o.BucketRegion
	if want == "" {
		want = o.Region
	}
	if region != want {
		return stepreport.Failed(fmt.Sprintf("the proxy reaches the bucket through VPC endpoints, which serve their own region only: deploy the stack in %s (--region, and region in samconfig.toml)", region),
			"bucket %s is in %s, the stack would be in %s", o.BucketName, region, want)
	}
	how := ""
	if status == http.StatusForbidden {
		how = " (HeadBucket 403: read from the header; your credentials may not list the bucket)"
	}
	return stepreport.Passed("bucket %s is in %s%s", o.BucketName, region, how)
}

// studioRanges judges the studio's ranges against the target VPC and the
// other VPCs of the account in the region.
func (r *runner) studioRanges(ctx context.Context) stepreport.Result {
	o := r.o
	if o.VpcID == "" {
		return stepreport.Failed("set ExistingVpcId (s3proxy init reads it from ShotGrid's VPC stack)", "no ExistingVpcId")
	}
	vpcs, err := o.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		return stepreport.Failed("your credentials need ec2:DescribeVpcs", "DescribeVpcs: %v", err)
	}
	others := map[string]netip.Prefix{}
	for _, v := range vpcs.Vpcs {
		id := aws.ToString(v.VpcId)
		for _, b := range v.CidrBlockAssociationSet {
			p, err := netip.ParsePrefix(aws.ToString(b.CidrBlock))
			if err != nil {
				continue
			}
			if id == o.VpcID {
				if r.vpcCidr == "" {
					r.vpcCidr = p.String()
				}
			} else {
				others[id+" "+p.String()] = p
			}
		}
	}
	if r.vpcCidr == "" {
		return stepreport.Failed("check ExistingVpcId and --region", "VPC %s is not in %s", o.VpcID, o.Region)
	}
	if len(o.StudioCidrs) == 0 {
		if o.StudioPrefixListId != "" {
			return stepreport.Passed("prefix list %s (its entries are not checked here); VPC %s is %s", o.StudioPrefixListId, o.VpcID, r.vpcCidr)
		}
		return stepreport.Failed("set StudioCidrs (the site, VPN and render-farm ranges) or StudioPrefixListId", "no studio ranges")
	}
	var refusals, warnings []string
	var fixes []string
	if len(o.StudioCidrs) > MaxStudioCidrs {
		refusals = append(refusals, fmt.Sprintf("%d ranges, more than the %d StudioCidrs takes", len(o.StudioCidrs), MaxStudioCidrs))
		fixes = append(fixes, "put them into a managed prefix list (aws ec2 create-managed-prefix-list) and set StudioPrefixListId instead")
	}
	for _, f := range StudioRanges(o.StudioCidrs, r.vpcCidr) {
		switch {
		case f.Refuse:
			refusals = append(refusals, f.Range+" "+f.Problem)
			fixes = appendNew(fixes, f.Fix)
		case f.Warn:
			warnings = append(warnings, f.Range+" "+f.Problem)
			fixes = appendNew(fixes, f.Fix)
		}
		p, err := netip.ParsePrefix(f.Range)
		if err != nil || f.Refuse {
			continue
		}
		for _, k := range slices.Sorted(mapsKeys(others)) {
			if q := others[k]; p.Overlaps(q) {
				warnings = append(warnings, fmt.Sprintf("%s overlaps VPC %s", f.Range, k))
				fixes = appendNew(fixes, "an overlap with another VPC is harmless unless that VPC is peered or routed to the proxy's; then its hosts are admitted too")
			}
		}
	}
	switch {
	case len(refusals) > 0:
		return stepreport.Failed("StudioCidrs: "+strings.Join(fixes, "; "), "%s", strings.Join(refusals, "; "))
	case len(warnings) > 0:
		return stepreport.Warned(strings.Join(fixes, "; "), "%s", strings.Join(warnings, "; "))
	}
	return stepreport.Passed("%s, none the VPC's %s", strings.Join(o.StudioCidrs, ", "), r.vpcCidr)
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// routeTables are ExistingRouteTableIds, else those of the subnets.
func (r *runner) routeTables(ctx context.Context) ([]string, error) {
	if len(r.o.RouteTableIDs) > 0 {
		return r.o.RouteTableIDs, nil
	}
	if len(r.o.SubnetIDs) == 0 {
		return nil, nil
	}
	return sgstacks.RouteTables(ctx, r.o.EC2, r.o.VpcID, r.o.SubnetIDs)
}

// s3Endpoints are the VPC's S3 endpoints of type t.
func (r *runner) s3Endpoints(ctx context.Context, t ec2types.VpcEndpointType) ([]ec2types.VpcEndpoint, error) {
	out, err := r.o.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{r.o.VpcID}},
		{Name: aws.String("service-name"), Values: []string{"com.amazonaws." + r.o.Region + ".s3"}},
	}})
	if err != nil {
		return nil, err
	}
	var eps []ec2types.VpcEndpoint
	for _, e := range out.VpcEndpoints {
		typ := e.VpcEndpointType
		if typ == "" {
			// Gateway is CreateVpcEndpoint's default type.
			// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html
			typ = ec2types.VpcEndpointTypeGateway
		}
		if typ == t && e.State != ec2types.StateDeleted && e.State != ec2types.StateDeleting {
			eps = append(eps, e)
		}
	}
	return eps, nil
}

// gateway: a route table takes one S3 gateway endpoint, so with one
// already there CreateS3GatewayEndpoint must be false, and without one it
// must be true (the function reaches S3 only through it).
// https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
func (r *runner) gateway(ctx context.Context) stepreport.Result {
	o := r.o
	if o.VpcID == "" {
		return stepreport.Skipped("set ExistingVpcId", "no VPC")
	}
	rts, err := r.routeTables(ctx)
	if err != nil {
		return stepreport.Failed("your credentials need ec2:DescribeRouteTables", "DescribeRouteTables: %v", err)
	}
	if len(rts) == 0 {
		return stepreport.Failed("set ExistingPrivateSubnetIds (or ExistingRouteTableIds)", "no route tables found for subnets %s", strings.Join(o.SubnetIDs, ", "))
	}
	eps, err := r.s3Endpoints(ctx, ec2types.VpcEndpointTypeGateway)
	if err != nil {
		return stepreport.Failed("your credentials need ec2:DescribeVpcEndpoints", "DescribeVpcEndpoints: %v", err)
	}
	var on []string
	for _, e := range eps {
		for _, rt := range e.RouteTableIds {
			if slices.Contains(rts, rt) {
				on = append(on, aws.ToString(e.VpcEndpointId)+" on "+rt)
			}
		}
	}
	switch {
	case len(on) > 0 && o.CreateS3GatewayEndpoint:
		return stepreport.Failed("set CreateS3GatewayEndpoint=false: the existing endpoint already serves the function, and a second one on the same route table fails the deploy",
			"S3 gateway endpoint %s already", strings.Join(on, ", "))
	case len(on) > 0:
		return stepreport.Passed("S3 gateway endpoint %s; CreateS3GatewayEndpoint=false is right", strings.Join(on, ", "))
	case o.CreateS3GatewayEndpoint:
		return stepreport.Passed("no S3 gateway endpoint on %s; the stack creates one", strings.Join(rts, ", "))
	}
	return stepreport.Failed("set CreateS3GatewayEndpoint=true and ExistingRouteTableIds="+strings.Join(rts, ","),
		"no S3 gateway endpoint on %s, and CreateS3GatewayEndpoint=false: the function would have no path to S3", strings.Join(rts, ", "))
}

// concurrency: unreserved concurrency the proxy function shares.
func (r *runner) concurrency(ctx context.Context) stepreport.Result {
	out, err := r.o.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return stepreport.Warned("your credentials need lambda:GetAccountSettings; or read it with aws lambda get-account-settings", "GetAccountSettings: %v", err)
	}
	if out.AccountLimit == nil {
		return stepreport.Warned("read it with aws lambda get-account-settings", "no account limit in the answer")
	}
	u, total := aws.ToInt32(out.AccountLimit.UnreservedConcurrentExecutions), out.AccountLimit.ConcurrentExecutions
	if u < MinUnreservedConcurrency {
		return stepreport.Warned(fmt.Sprintf("a ShotGrid page fires one request per thumbnail, and throttled ones fail: ask for a higher quota (Service Quotas, Lambda \"Concurrent executions\", in %s)", r.o.Region),
			"unreserved concurrency %d of %d, under %d", u, total, MinUnreservedConcurrency)
	}
	return stepreport.Passed("unreserved concurrency %d of %d", u, total)
}

// kmsKey: an SSE-KMS bucket needs BucketKmsKeyArn, so the function's role
// may decrypt what it serves and the uploads' data keys can be made.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
func (r *runner) kmsKey(ctx context.Context) stepreport.Result {
	o := r.o
	out, err := o.S3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(o.BucketName)})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ServerSideEncryptionConfigurationNotFoundError" {
			return stepreport.Passed("no default encryption configured (S3 applies SSE-S3); BucketKmsKeyArn not needed")
		}
		return stepreport.Warned("read it with aws s3api get-bucket-encryption; with SSE-KMS, set BucketKmsKeyArn to the key", "GetBucketEncryption: %v", err)
	}
	var key string
	var algo s3types.ServerSideEncryption
	if c := out.ServerSideEncryptionConfiguration; c != nil {
		for _, rule := range c.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				algo, key = d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID)
			}
		}
	}
	if algo != s3types.ServerSideEncryptionAwsKms && algo != s3types.ServerSideEncryptionAwsKmsDsse {
		if o.BucketKmsKeyArn != "" {
			return stepreport.Warned("clear BucketKmsKeyArn, or check the bucket's encryption", "the bucket's default is %s, yet BucketKmsKeyArn is set", algo)
		}
		return stepreport.Passed("default encryption %s; BucketKmsKeyArn not needed", algo)
	}
	if key == "" || strings.HasSuffix(key, "alias/aws/s3") {
		return stepreport.Passed("SSE-KMS with the AWS managed key aws/s3; BucketKmsKeyArn not needed in the bucket's own account")
	}
	if o.BucketKmsKeyArn == "" {
		return stepreport.Failed("set BucketKmsKeyArn="+key+" so the proxy's role may use the key (and let the role use it in the key policy)",
			"the bucket encrypts with KMS key %s, and BucketKmsKeyArn is empty", key)
	}
	if !sameKey(o.BucketKmsKeyArn, key) {
		return stepreport.Failed("set BucketKmsKeyArn="+key, "the bucket encrypts with %s, BucketKmsKeyArn is %s", key, o.BucketKmsKeyArn)
	}
	if o.KMS == nil {
		return stepreport.Passed("SSE-KMS with %s, BucketKmsKeyArn matches", key)
	}
	k, err := o.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil {
		return stepreport.Warned("the key policy decides: let the proxy's role use kms:Decrypt and kms:GenerateDataKey", "BucketKmsKeyArn matches; DescribeKey: %v", err)
	}
	if st := k.KeyMetadata.KeyState; st != kmstypes.KeyStateEnabled {
		return stepreport.Failed("enable the key (aws kms enable-key), or cancel its deletion: S3 can neither read nor write with it", "KMS key %s is %s", key, st)
	}
	return stepreport.Passed("SSE-KMS with %s, enabled, BucketKmsKeyArn matches", key)
}

// sameKey compares key IDs and ARNs by their key ID.
func sameKey(a, b string) bool {
	id := func(s string) string {
		if i := strings.LastIndex(s, "key/"); i >= 0 {
			return s[i+4:]
		}
		return s
	}
	return a == b || id(a) == id(b)
}

// upload sends a presigned PUT and GET signed for the global host to an
// S3 interface endpoint's address with Host: the global host, exactly as
// the upload passthrough rule does. Only S3 can say whether it takes them.
func (r *runner) upload(ctx context.Context) stepreport.Result {
	o := r.o
	if o.ReadOnly {
		return stepreport.Skipped("", "ReadOnly=\"true\": the stack passes no upload (ShotGrid uploads to the main bucket), so nothing depends on S3 taking one through the endpoint")
	}
	endpoint := o.EndpointURL
	if endpoint == "" && o.VpcID != "" {
		eps, err := r.s3Endpoints(ctx, ec2types.VpcEndpointTypeInterface)
		if err == nil {
			for _, e := range eps {
				if name := RegionalName(e); name != "" {
					endpoint = "https://bucket." + name
					break
				}
			}
		}
	}
	if endpoint == "" {
		return stepreport.Skipped(temporaryEndpointHint(o), "no S3 interface endpoint in the VPC and no --endpoint-url")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return stepreport.Failed("--endpoint-url must be https://bucket.vpce-….s3."+o.Region+".vpce.amazonaws.com", "%q is not a URL", endpoint)
	}
	signedHost := o.SignedHost
	if signedHost == "" {
		signedHost = o.BucketName + ".s3.amazonaws.com"
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	key := o.KeyPrefix + "s3proxy-preflight/" + o.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(rnd[:]) + ".bin"
	body := make([]byte, 1024)
	_, _ = rand.Read(body)
	signer := sgurl.NewSigner(o.Credentials, o.Region, o.BucketName, signedHost)

	send := func(method, signed string, payload []byte) (int, []byte, error) {
		target, err := sgurl.Through(u.Scheme+"://"+u.Host, signed)
		if err != nil {
			return 0, nil, err
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return 0, nil, err
		}
		// Dial and TLS (SNI, certificate) go to the endpoint's name, the
		// URL's host; S3 reads the bucket from Host, the signed one.
		req.Host = signedHost
		resp, err := o.HTTPClient.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its text holds the URL, and so the signature
			}
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b, nil
	}
	put, err := signer.Put(ctx, key, 5*time.Minute)
	if err != nil {
		return stepreport.Failed("check your AWS credentials", "presigning: %v", err)
	}
	status, b, err := send(http.MethodPut, put, body)
	if err != nil {
		return stepreport.Failed(fmt.Sprintf("cannot reach %s from here: run preflight from the studio network (VPN/Direct Connect), and the endpoint's security group must admit 443 from this machine", u.Host), "PUT: %v", err)
	}
	if status != http.StatusOK {
		return stepreport.Failed(noGoHint(s3error.CodeOf(b)), "presigned PUT for %s sent to %s with that Host: %d %s", signedHost, u.Host, status, s3error.CodeOf(b))
	}
	get, err := signer.Get(ctx, key, 5*time.Minute)
	if err != nil {
		return stepreport.Failed("check your AWS credentials", "presigning: %v", err)
	}
	status, got, err := send(http.MethodGet, get, nil)
	cleanup := r.removeProbe(ctx, signer, key, send)
	if err != nil {
		return stepreport.Failed("the PUT went through but the GET did not connect: retry", "GET: %v", err)
	}
	if status != http.StatusOK || !bytes.Equal(got, body) {
		return stepreport.Failed(noGoHint(s3error.CodeOf(got)), "PUT passed; presigned GET answered %d %s", status, s3error.CodeOf(got))
	}
	return stepreport.Passed("GO: presigned PUT and GET signed for %s, sent to %s with that Host, accepted%s", signedHost, u.Host, cleanup)
}

// removeProbe deletes the probe object through the endpoint with a
// presigned DELETE (this machine may have no route to public S3), else
// with the S3 client; it returns "" or a note naming the key left behind.
func (r *runner) removeProbe(ctx context.Context, signer *sgurl.Signer, key string, send func(string, string, []byte) (int, []byte, error)) string {
	ctx = context.WithoutCancel(ctx)
	if del, err := signer.Delete(ctx, key, 5*time.Minute); err == nil {
		if status, _, err := send(http.MethodDelete, del, nil); err == nil && (status == http.StatusNoContent || status == http.StatusOK) {
			return ""
		}
	}
	if r.o.S3 != nil {
		if _, err := r.o.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.o.BucketName), Key: aws.String(key)}); err == nil {
			return ""
		}
	}
	return "; could not delete the probe object " + key + ": remove it by hand"
}

func noGoHint(code string) string {
	switch code {
	case "AccessDenied":
		return "S3 refused the request: the bucket policy or the endpoint policy denies your credentials through this endpoint; fix that, then run preflight again: the verdict is not in yet"
	case "SignatureDoesNotMatch", "InvalidRequest", "NoSuchBucket", "":
		return "NO-GO: S3 does not accept URLs signed for the global host through this interface endpoint, so ShotGrid's uploads could not pass through the proxy: do not migrate yet; the options are in docs/deploy.md §10, row 1"
	}
	return "S3 answered " + code + ": see its meaning, fix it and run preflight again"
}

// RegionalName is an interface endpoint's regional DNS name without the
// leading "*." (vpce-….s3.<region>.vpce.amazonaws.com), or "".
func RegionalName(e ec2types.VpcEndpoint) string {
	for _, d := range e.DnsEntries {
		n := strings.TrimPrefix(aws.ToString(d.DnsName), "*.")
		// Zonal names carry the zone in their first label
		// (vpce-…-<zone>.s3…); the regional one does not.
		first, _, _ := strings.Cut(n, ".")
		if strings.HasPrefix(n, "vpce-") && strings.Count(first, "-") <= 2 {
			return n
		}
	}
	return ""
}

func temporaryEndpointHint(o Options) string {
	subnets := strings.Join(o.SubnetIDs, " ")
	if subnets == "" {
		subnets = "<subnet-a> <subnet-b>"
	}
	return fmt.Sprintf("to get the verdict before deploying, create a temporary S3 interface endpoint: "+
		"aws ec2 create-vpc-endpoint --region %[1]s --vpc-id %[2]s --vpc-endpoint-type Interface --service-name com.amazonaws.%[1]s.s3 --subnet-ids %[3]s --security-group-ids <sg admitting 443 from this machine>; "+
		"run preflight again (it finds the endpoint, or pass --endpoint-url https://bucket.<its regional DNS name>); then aws ec2 delete-vpc-endpoints --region %[1]s --vpc-endpoint-ids <vpce-id>",
		o.Region, o.VpcID, subnets)
}
