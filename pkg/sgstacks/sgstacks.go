// Package sgstacks reads what ShotGrid's own CloudFormation stacks already
// know about a studio's media isolation set-up, so that s3proxy's
// parameters can be filled from them instead of asked:
//
//   - the VPC stack (sg-private-vpc.yml): outputs VPCId, PrivateSubnetOne
//     and PrivateSubnetTwo, and through EC2 the VPC's CIDR block, the route
//     tables of those subnets and the S3 gateway endpoint on them;
//   - the old nginx proxy stack (sg-s3-proxy.yml): parameters VPC,
//     PrivateSubnetOne, PrivateSubnetTwo, S3BucketName and
//     SecurityGroupCIDR, and its load balancer, whose HTTPS listener
//     (added by hand, per ShotGrid's procedure) names the ACM certificate;
//   - optionally the bucket stack (sg-private-s3-bucket.yml): output
//     BucketName, parameter ShotgunHostedSiteURL and the role ShotGrid
//     assumes (an AWS::IAM::Role resource).
//
// Nothing here writes to AWS.
package sgstacks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"
)

// CloudFormationAPI reads stacks; *cloudformation.Client satisfies it.
type CloudFormationAPI interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackResources(ctx context.Context, params *cloudformation.DescribeStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error)
}

// EC2API reads the VPC; *ec2.Client satisfies it.
type EC2API interface {
	DescribeVpcs(ctx context.Context, params *ec2.DescribeVpcsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeRouteTables(ctx context.Context, params *ec2.DescribeRouteTablesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeVpcEndpoints(ctx context.Context, params *ec2.DescribeVpcEndpointsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
}

// ListenerAPI reads the old load balancer's listeners;
// *elasticloadbalancingv2.Client satisfies it.
type ListenerAPI interface {
	DescribeListeners(ctx context.Context, params *elbv2.DescribeListenersInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
}

// CertificateAPI reads a certificate's names and status; *acm.Client
// satisfies it.
type CertificateAPI interface {
	DescribeCertificate(ctx context.Context, params *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
}

var (
	_ CloudFormationAPI = (*cloudformation.Client)(nil)
	_ EC2API            = (*ec2.Client)(nil)
	_ ListenerAPI       = (*elbv2.Client)(nil)
	_ CertificateAPI    = (*acm.Client)(nil)
)

// Clients are the four APIs Read calls.
type Clients struct {
	CFN CloudFormationAPI
	EC2 EC2API
	ELB ListenerAPI
	ACM CertificateAPI
}

// Stacks names the stacks to read; an empty name is not read.
type Stacks struct {
	VPC, Proxy, Bucket string
}

// Certificate is one ACM certificate found on the old proxy's HTTPS
// listeners.
type Certificate struct {
	ARN, Status string
	// Names are the domain name and the subject alternative names.
	Names []string
}

// Found is everything read, each value with where it came from.
type Found struct {
	Region string

	VpcID, VpcCidr   string
	PrivateSubnetIDs []string
	// RouteTableIDs are the private subnets' route tables, and
	// GatewayEndpointIDs the S3 gateway endpoints already on them (a route
	// table takes one, so CreateS3GatewayEndpoint must then be false).
	RouteTableIDs      []string
	GatewayEndpointIDs []string
	// InterfaceEndpoints are S3 interface endpoints already in the VPC.
	InterfaceEndpoints []string

	BucketName string
	// SecurityGroupCIDR is the old proxy's client range (default
	// 10.0.0.0/8, which usually contains the VPC).
	SecurityGroupCIDR string
	LoadBalancerARN   string
	Certificates      []Certificate

	// SiteURL is the bucket stack's ShotgunHostedSiteURL, the ShotGrid
	// site's origin; ShotGridRoleARNs the role(s) it creates for ShotGrid.
	SiteURL          string
	ShotGridRoleARNs []string

	// Sources says where each value came from, by parameter name.
	Sources map[string]string
	// Notes are things the operator should know (disagreements between the
	// stacks, for one).
	Notes []string
}

// ErrStackNotFound is wrapped by Read's error for a stack that does not
// exist in the region.
var ErrStackNotFound = errors.New("stack not found")

// Read reads the named stacks and what they point at, in region.
func Read(ctx context.Context, c Clients, region string, s Stacks) (Found, error) {
	f := Found{Region: region, Sources: map[string]string{}}
	if s.VPC == "" && s.Proxy == "" && s.Bucket == "" {
		return f, errors.New("name at least one stack to read")
	}
	if s.VPC != "" {
		st, err := describe(ctx, c.CFN, region, s.VPC)
		if err != nil {
			return f, err
		}
		out := outputs(st)
		if out["VPCId"] == "" {
			return f, fmt.Errorf("stack %s has no VPCId output: is it ShotGrid's sg-private-vpc stack?", s.VPC)
		}
		f.VpcID = out["VPCId"]
		f.Sources["ExistingVpcId"] = s.VPC + " output VPCId"
		for _, k := range []string{"PrivateSubnetOne", "PrivateSubnetTwo"} {
			if v := out[k]; v != "" {
				f.PrivateSubnetIDs = append(f.PrivateSubnetIDs, v)
			}
		}
		if len(f.PrivateSubnetIDs) > 0 {
			f.Sources["ExistingPrivateSubnetIds"] = s.VPC + " outputs PrivateSubnetOne, PrivateSubnetTwo"
		}
	}
	if s.Proxy != "" {
		if err := f.readProxy(ctx, c, s.Proxy); err != nil {
			return f, err
		}
	}
	if s.Bucket != "" {
		if err := f.readBucket(ctx, c, s.Bucket); err != nil {
			return f, err
		}
	}
	if f.VpcID != "" {
		if err := f.readVpc(ctx, c.EC2); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (f *Found) readProxy(ctx context.Context, c Clients, name string) error {
	st, err := describe(ctx, c.CFN, f.Region, name)
	if err != nil {
		return err
	}
	p := parameters(st)
	if p["S3BucketName"] == "" && p["VPC"] == "" {
		return fmt.Errorf("stack %s has no S3BucketName or VPC parameter: is it ShotGrid's sg-s3-proxy stack?", name)
	}
	if v := p["VPC"]; v != "" {
		switch {
		case f.VpcID == "":
			f.VpcID = v
			f.Sources["ExistingVpcId"] = name + " parameter VPC"
		case f.VpcID != v:
			f.Notes = append(f.Notes, fmt.Sprintf("the proxy stack %s runs in VPC %s, not in the VPC stack's %s; the VPC stack's is used", name, v, f.VpcID))
		}
	}
	if len(f.PrivateSubnetIDs) == 0 {
		for _, k := range []string{"PrivateSubnetOne", "PrivateSubnetTwo"} {
			if v := p[k]; v != "" {
				f.PrivateSubnetIDs = append(f.PrivateSubnetIDs, v)
			}
		}
		if len(f.PrivateSubnetIDs) > 0 {
			f.Sources["ExistingPrivateSubnetIds"] = name + " parameters PrivateSubnetOne, PrivateSubnetTwo"
		}
	}
	if v := p["S3BucketName"]; v != "" {
		f.BucketName = v
		f.Sources["BucketName"] = name + " parameter S3BucketName"
	}
	if v := p["SecurityGroupCIDR"]; v != "" {
		f.SecurityGroupCIDR = v
	}

	res, err := c.CFN.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("reading the resources of stack %s: %w", name, err)
	}
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) == "AWS::ElasticLoadBalancingV2::LoadBalancer" {
			f.LoadBalancerARN = aws.ToString(r.PhysicalResourceId)
		}
	}
	if f.LoadBalancerARN == "" {
		f.Notes = append(f.Notes, fmt.Sprintf("stack %s has no load balancer, so no certificate could be read from its HTTPS listener", name))
		return nil
	}
	ls, err := c.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(f.LoadBalancerARN)})
	if err != nil {
		return fmt.Errorf("reading the listeners of %s: %w", f.LoadBalancerARN, err)
	}
	var arns []string
	for _, l := range ls.Listeners {
		for _, cert := range l.Certificates {
			if a := aws.ToString(cert.CertificateArn); a != "" && !slices.Contains(arns, a) {
				arns = append(arns, a)
			}
		}
	}
	if len(arns) == 0 {
		f.Notes = append(f.Notes, "the old proxy's load balancer has no HTTPS listener with a certificate (ShotGrid's procedure adds one by hand)")
	}
	for _, a := range arns {
		out, err := c.ACM.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(a)})
		if err != nil {
			return fmt.Errorf("reading certificate %s: %w", a, err)
		}
		cd := out.Certificate
		cert := Certificate{ARN: a, Status: string(cd.Status)}
		if d := aws.ToString(cd.DomainName); d != "" {
			cert.Names = append(cert.Names, d)
		}
		for _, n := range cd.SubjectAlternativeNames {
			if !slices.Contains(cert.Names, n) {
				cert.Names = append(cert.Names, n)
			}
		}
		f.Certificates = append(f.Certificates, cert)
	}
	return nil
}

func (f *Found) readBucket(ctx context.Context, c Clients, name string) error {
	st, err := describe(ctx, c.CFN, f.Region, name)
	if err != nil {
		return err
	}
	out, p := outputs(st), parameters(st)
	bucket := out["BucketName"]
	if bucket == "" {
		bucket = p["CustomerBucketName"]
	}
	switch {
	case bucket == "":
	case f.BucketName == "":
		f.BucketName = bucket
		f.Sources["BucketName"] = name + " output BucketName"
	case f.BucketName != bucket:
		f.Notes = append(f.Notes, fmt.Sprintf("the bucket stack %s holds bucket %s, but the proxy serves %s; the proxy's is used", name, bucket, f.BucketName))
	}
	if u := p["ShotgunHostedSiteURL"]; u != "" && !strings.Contains(u, "<") {
		f.SiteURL = strings.TrimSuffix(u, "/")
	}
	res, err := c.CFN.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("reading the resources of stack %s: %w", name, err)
	}
	account := ""
	if a, err := arn.Parse(aws.ToString(st.StackId)); err == nil {
		account = a.AccountID
	}
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) != "AWS::IAM::Role" {
			continue
		}
		role := aws.ToString(r.PhysicalResourceId)
		if !strings.HasPrefix(role, "arn:") {
			// A role's physical ID is its name.
			role = "arn:aws:iam::" + account + ":role/" + role
		}
		f.ShotGridRoleARNs = append(f.ShotGridRoleARNs, role)
	}
	if len(f.ShotGridRoleARNs) > 0 {
		f.Sources["ShotGridPrincipalArns"] = name + " role resource"
	}
	return nil
}

func (f *Found) readVpc(ctx context.Context, e EC2API) error {
	vpcs, err := e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{f.VpcID}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		return fmt.Errorf("reading VPC %s: %v", f.VpcID, orNotFound(err))
	}
	f.VpcCidr = aws.ToString(vpcs.Vpcs[0].CidrBlock)
	if len(f.PrivateSubnetIDs) > 0 {
		subs, err := e.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: f.PrivateSubnetIDs})
		if err != nil {
			return fmt.Errorf("reading subnets %s: %w", strings.Join(f.PrivateSubnetIDs, ", "), err)
		}
		for _, s := range subs.Subnets {
			if aws.ToString(s.VpcId) != f.VpcID {
				return fmt.Errorf("subnet %s is in VPC %s, not %s", aws.ToString(s.SubnetId), aws.ToString(s.VpcId), f.VpcID)
			}
		}
		rts, err := RouteTables(ctx, e, f.VpcID, f.PrivateSubnetIDs)
		if err != nil {
			return fmt.Errorf("reading the route tables: %w", err)
		}
		f.RouteTableIDs = rts
	}
	eps, err := e.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{f.VpcID}},
		{Name: aws.String("service-name"), Values: []string{"com.amazonaws." + f.Region + ".s3"}}}})
	if err != nil {
		return fmt.Errorf("reading the VPC's endpoints: %w", err)
	}
	for _, ep := range eps.VpcEndpoints {
		id := aws.ToString(ep.VpcEndpointId)
		switch ep.VpcEndpointType {
		case ec2types.VpcEndpointTypeGateway, "":
			// Gateway is CreateVpcEndpoint's default type.
			// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html
			for _, rt := range ep.RouteTableIds {
				if slices.Contains(f.RouteTableIDs, rt) && !slices.Contains(f.GatewayEndpointIDs, id) {
					f.GatewayEndpointIDs = append(f.GatewayEndpointIDs, id)
				}
			}
		case ec2types.VpcEndpointTypeInterface:
			f.InterfaceEndpoints = append(f.InterfaceEndpoints, id)
		}
	}
	return nil
}

// RouteTableAPI reads route tables; *ec2.Client satisfies it.
type RouteTableAPI interface {
	DescribeRouteTables(ctx context.Context, params *ec2.DescribeRouteTablesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
}

// RouteTables returns the route tables of subnets in vpc: those explicitly
// associated with them, and the VPC's main route table for any subnet
// without an association, as VPC routing does.
// https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html#subnet-route-tables
func RouteTables(ctx context.Context, e RouteTableAPI, vpc string, subnets []string) ([]string, error) {
	out, err := e.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil {
		return nil, err
	}
	var ids []string
	main := ""
	covered := map[string]bool{}
	for _, rt := range out.RouteTables {
		id := aws.ToString(rt.RouteTableId)
		for _, a := range rt.Associations {
			if aws.ToBool(a.Main) {
				main = id
			}
			if sn := aws.ToString(a.SubnetId); slices.Contains(subnets, sn) {
				covered[sn] = true
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	if len(covered) < len(subnets) && main != "" && !slices.Contains(ids, main) {
		ids = append(ids, main)
	}
	return ids, nil
}

func orNotFound(err error) error {
	if err == nil {
		return errors.New("not found")
	}
	return err
}

func describe(ctx context.Context, c CloudFormationAPI, region, name string) (cfntypes.Stack, error) {
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") ||
		err == nil && len(out.Stacks) == 0 {
		return cfntypes.Stack{}, fmt.Errorf("%w: %s in %s: check the name (aws cloudformation list-stacks) and --region, as a stack lives in one region", ErrStackNotFound, name, region)
	}
	if err != nil {
		return cfntypes.Stack{}, fmt.Errorf("reading stack %s: %w", name, err)
	}
	return out.Stacks[0], nil
}

func outputs(s cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range s.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

func parameters(s cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, p := range s.Parameters {
		v := aws.ToString(p.ParameterValue)
		if r := aws.ToString(p.ResolvedValue); r != "" {
			v = r
		}
		m[aws.ToString(p.ParameterKey)] = v
	}
	return m
}

// Outputs returns stack name's outputs by key, for s3proxy check --stack.
func Outputs(ctx context.Context, c CloudFormationAPI, region, name string) (map[string]string, error) {
	st, err := describe(ctx, c, region, name)
	if err != nil {
		return nil, err
	}
	return outputs(st), nil
}
