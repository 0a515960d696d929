package endpointtargets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// NetworkChecksType is the custom resource type the template gives the
// network checks. The same function serves it and Custom::EndpointTargets.
const NetworkChecksType = "Custom::NetworkChecks"

// NetworkAPI is the part of the EC2 API the network checks read.
type NetworkAPI interface {
	DescribeVpcs(ctx context.Context, params *ec2.DescribeVpcsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeVpcEndpointServices(ctx context.Context, params *ec2.DescribeVpcEndpointServicesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointServicesOutput, error)
	GetManagedPrefixListEntries(ctx context.Context, params *ec2.GetManagedPrefixListEntriesInput, optFns ...func(*ec2.Options)) (*ec2.GetManagedPrefixListEntriesOutput, error)
}

// CertificateAPI is the part of the ACM API the network checks read: the
// listener's certificate, before the load balancer exists.
type CertificateAPI interface {
	DescribeCertificate(ctx context.Context, params *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
}

var (
	_ NetworkAPI     = (*ec2.Client)(nil)
	_ CertificateAPI = (*acm.Client)(nil)
)

// MaxStudioCidrs is how many StudioCidrs the template turns into security
// group rules (CloudFormation cannot loop, so it has that many slots). A
// longer list is refused rather than cut short: more ranges go into a
// managed prefix list.
const MaxStudioCidrs = 5

// NetworkProperties are the properties of a Custom::NetworkChecks resource:
// what the template's Rules cannot check because only EC2 knows it.
type NetworkProperties struct {
	// VpcID is the stack's VPC, new or existing.
	VpcID string
	// StudioCidrs are the studio networks the security groups admit, at
	// most MaxStudioCidrs. None may be 0.0.0.0/0, or equal to or inside one
	// of the VPC's CIDR blocks: those addresses are the VPC's own (its local
	// route covers them), so such a rule admits no studio network at all.
	// A range that contains a VPC block is allowed with a warning: it also
	// admits the VPC, but it is how enterprise VPCs carved out of the
	// corporate 10/8 and reached over a more specific route look.
	StudioCidrs []string
	// StudioPrefixListID is an optional managed prefix list of studio
	// networks; its entries are checked like StudioCidrs.
	StudioPrefixListID string
	// CertificateArn is the HTTPS listener's certificate. It must be
	// ISSUED, in Region, and name DomainName.
	CertificateArn string
	// DomainName is the proxy's host name (ProxyDomainName).
	DomainName string
	// Region is the stack's region, where the load balancer will be.
	Region string
	// BucketName is the media bucket. It must be in Region: the VPC
	// endpoints reach only buckets of their own region.
	BucketName string
	// EndpointSubnetIDs are the S3 interface endpoint's subnets. Each one's
	// zone must offer the S3 interface endpoint service and be enabled on
	// the load balancer.
	EndpointSubnetIDs []string
	// LoadBalancerSubnetIDs are the ALB's subnets: its enabled zones.
	LoadBalancerSubnetIDs []string
	// ServiceName is com.amazonaws.<region>.s3.
	ServiceName string
}

// ParseNetworkProperties reads a Custom::NetworkChecks resource's properties.
//
// The certificate and bucket properties are optional, and the single
// StudioCidr of earlier templates is read as a one-range StudioCidrs: when
// an upgrade fails, CloudFormation rolls this resource back to the earlier
// template's properties before it rolls the function back to the earlier
// code, so this code must accept them or the rollback itself fails. The
// template always sets them (tests/template holds it to that); absent, their
// checks are skipped and say so.
func ParseNetworkProperties(props map[string]any) (NetworkProperties, error) {
	var p NetworkProperties
	var errs []error
	str := func(key string) string {
		s, ok := props[key].(string)
		if !ok || s == "" {
			errs = append(errs, fmt.Errorf("property %s must be a non-empty string", key))
		}
		return s
	}
	list := func(key string) []string {
		v, ok := props[key]
		if !ok {
			errs = append(errs, fmt.Errorf("property %s is required", key))
			return nil
		}
		l, err := stringList(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("property %s: %w", key, err))
		} else if len(l) == 0 {
			errs = append(errs, fmt.Errorf("property %s is empty", key))
		}
		return l
	}
	optionalList := func(key string) []string {
		v, ok := props[key]
		if !ok {
			return nil
		}
		l, err := stringList(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("property %s: %w", key, err))
		}
		return l
	}
	optional := func(key string) string {
		s, _ := props[key].(string)
		return s
	}
	p.VpcID = str("VpcId")
	p.StudioCidrs = optionalList("StudioCidrs")
	if legacy := optional("StudioCidr"); legacy != "" && len(p.StudioCidrs) == 0 {
		p.StudioCidrs = []string{legacy}
	}
	p.StudioPrefixListID = optional("StudioPrefixListId")
	if len(p.StudioCidrs) == 0 && p.StudioPrefixListID == "" {
		errs = append(errs, errors.New("property StudioCidrs or StudioPrefixListId must name the studio network"))
	}
	p.CertificateArn = optional("CertificateArn")
	p.DomainName = optional("DomainName")
	p.Region = optional("Region")
	if p.CertificateArn != "" && (p.DomainName == "" || p.Region == "") {
		errs = append(errs, errors.New("properties DomainName and Region must come with CertificateArn"))
	}
	p.BucketName = optional("BucketName")
	if p.BucketName != "" && p.Region == "" {
		errs = append(errs, errors.New("property Region must come with BucketName"))
	}
	p.ServiceName = str("ServiceName")
	p.EndpointSubnetIDs = list("EndpointSubnetIds")
	p.LoadBalancerSubnetIDs = list("LoadBalancerSubnetIds")
	return p, errors.Join(errs...)
}

// HandleNetworkChecks answers a Custom::NetworkChecks event. Create and
// Update fail, naming every problem at once, when the network or the
// certificate breaks an assumption the rest of the stack makes; Delete does
// nothing. The data output has the keys Zones (the endpoint's zones,
// sorted, comma-separated) and Warnings (what is allowed but worth a look,
// "; "-separated; CloudFormation has no way to show a warning, so the
// function also logs them).
//
// The template makes the S3 interface endpoint and the load balancer depend
// on this resource, so a refusal comes before they and their targets exist,
// and the rollback is short.
func (r *Reconciler) HandleNetworkChecks(ctx context.Context, event cfn.Event) (string, map[string]any, error) {
	id := PhysicalID(event)
	switch event.RequestType {
	case cfn.RequestDelete:
		return id, nil, nil
	case cfn.RequestCreate, cfn.RequestUpdate:
	default:
		return id, nil, fmt.Errorf("unknown request type %q", event.RequestType)
	}
	p, err := ParseNetworkProperties(event.ResourceProperties)
	if err != nil {
		return id, nil, err
	}
	if r.Network == nil || r.Certificates == nil {
		return id, nil, errors.New("network checks are not configured in this function")
	}
	zones, warnings, err := r.checkNetwork(ctx, p)
	if err != nil {
		return id, nil, err
	}
	for _, w := range warnings {
		r.logger().Warn("network check warning", "warning", w)
	}
	r.logger().Info("network checks passed", "vpc", p.VpcID, "zones", zones)
	return id, map[string]any{"Zones": strings.Join(zones, ","), "Warnings": strings.Join(warnings, "; ")}, nil
}

func (r *Reconciler) checkNetwork(ctx context.Context, p NetworkProperties) ([]string, []string, error) {
	var problems []error
	var warnings []string

	// 1. The studio ranges are the studio's, not everything nor the VPC.
	var vpcs *ec2.DescribeVpcsOutput
	if err := r.settling(ctx, func() (err error) {
		vpcs, err = r.Network.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{p.VpcID}})
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("describe VPC %s: %w", p.VpcID, err)
	}
	if len(vpcs.Vpcs) != 1 {
		return nil, nil, fmt.Errorf("describe VPC %s: got %d VPCs, want 1", p.VpcID, len(vpcs.Vpcs))
	}
	var blocks []netip.Prefix
	for _, cidr := range vpcCIDRs(vpcs.Vpcs[0]) {
		if b, err := netip.ParsePrefix(cidr); err == nil {
			blocks = append(blocks, b.Masked())
		}
	}
	if len(p.StudioCidrs) > MaxStudioCidrs {
		problems = append(problems, fmt.Errorf(
			"StudioCidrs lists %d ranges; the security groups take at most %d: put the studio's ranges in a "+
				"managed prefix list and set StudioPrefixListId instead", len(p.StudioCidrs), MaxStudioCidrs))
	}
	for _, c := range p.StudioCidrs {
		bad, warn := studioRange("StudioCidrs entry "+c, c, blocks)
		problems = append(problems, bad...)
		warnings = append(warnings, warn...)
	}
	if p.StudioPrefixListID != "" {
		entries, err := r.prefixListEntries(ctx, p.StudioPrefixListID)
		if err != nil {
			return nil, nil, err
		}
		if len(entries) == 0 {
			problems = append(problems, fmt.Errorf("StudioPrefixListId %s has no entries: it would admit nobody", p.StudioPrefixListID))
		}
		for _, c := range entries {
			bad, warn := studioRange(fmt.Sprintf("StudioPrefixListId %s entry %s", p.StudioPrefixListID, c), c, blocks)
			problems = append(problems, bad...)
			warnings = append(warnings, warn...)
		}
	}

	// The certificate, before the load balancer that would present it.
	if p.CertificateArn != "" {
		problems = append(problems, r.checkCertificate(ctx, p)...)
	} else {
		warnings = append(warnings, "no CertificateArn property (an earlier template): the certificate is not checked")
	}

	// The bucket's region. Only a definite answer refuses: when S3 cannot
	// be asked, the deploy goes on with a warning (s3proxy preflight and
	// s3proxy check ask again).
	if r.BucketRegions != nil && p.BucketName != "" {
		region, err := r.BucketRegions.BucketRegion(ctx, p.BucketName)
		switch {
		case errors.Is(err, ErrNoSuchBucket):
			problems = append(problems, fmt.Errorf("bucket %s does not exist (S3 answered 404): check BucketName", p.BucketName))
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("could not read bucket %s's region (%v); s3proxy preflight checks it", p.BucketName, err))
		case region != p.Region:
			problems = append(problems, fmt.Errorf(
				"bucket %s is in %s, the stack in %s: the S3 VPC endpoints reach only buckets of their own region; "+
					"deploy the stack in %s", p.BucketName, region, p.Region, region))
		}
	}

	// 2. Zones: the endpoint's subnets are in zones that offer the S3
	// interface endpoint and that the load balancer has enabled.
	zoneOf, err := r.subnetZones(ctx, append(slices.Clone(p.EndpointSubnetIDs), p.LoadBalancerSubnetIDs...))
	if err != nil {
		return nil, nil, err
	}
	endpointZones := zonesOf(zoneOf, p.EndpointSubnetIDs)
	albZones := zonesOf(zoneOf, p.LoadBalancerSubnetIDs)
	if missing := without(endpointZones, albZones); len(missing) > 0 {
		problems = append(problems, fmt.Errorf(
			"the S3 interface endpoint's zones %v are not all enabled on the load balancer (its subnets are in %v): "+
				"targets in %v would get no traffic; give the load balancer a subnet in each of the endpoint's zones",
			endpointZones, albZones, missing))
	}
	offered, err := r.interfaceZones(ctx, p.ServiceName)
	if err != nil {
		return nil, nil, err
	}
	if missing := without(endpointZones, offered); len(missing) > 0 {
		problems = append(problems, fmt.Errorf(
			"%s is not offered as an interface endpoint in %v; it is offered in %v: set AvailabilityZones "+
				"(new VPC) or ExistingPrivateSubnetIds (existing VPC) to subnets in those zones",
			p.ServiceName, missing, offered))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, nil, err
	}
	return endpointZones, warnings, nil
}

// studioRange judges one studio range against the VPC's blocks: the
// problems that refuse it and the warnings that only describe it. what
// names the range in the messages.
func studioRange(what, cidr string, vpc []netip.Prefix) (problems []error, warnings []string) {
	studio, err := netip.ParsePrefix(cidr)
	if err != nil || !studio.Addr().Is4() {
		return []error{fmt.Errorf("%s is not an IPv4 CIDR block", what)}, nil
	}
	studio = studio.Masked()
	if studio.Bits() == 0 {
		return []error{fmt.Errorf("%s is the whole Internet: list the studio's own networks", what)}, nil
	}
	for _, block := range vpc {
		switch {
		case block.Bits() <= studio.Bits() && block.Contains(studio.Addr()):
			problems = append(problems, fmt.Errorf(
				"%s is the VPC's own CIDR block %s or inside it: those addresses are the VPC's (its local route "+
					"covers them), so the rule would admit no studio network; list the studio's own ranges", what, block))
		case studio.Contains(block.Addr()):
			warnings = append(warnings, fmt.Sprintf(
				"%s contains the VPC's CIDR block %s: the ALB and the S3 interface endpoint also admit the whole VPC; "+
					"list the studio's more specific ranges if you can", what, block))
		}
	}
	return problems, warnings
}

// prefixListEntries are the CIDR blocks of a managed prefix list.
func (r *Reconciler) prefixListEntries(ctx context.Context, id string) ([]string, error) {
	var out []string
	in := &ec2.GetManagedPrefixListEntriesInput{PrefixListId: aws.String(id)}
	for {
		var page *ec2.GetManagedPrefixListEntriesOutput
		if err := r.settling(ctx, func() (err error) {
			page, err = r.Network.GetManagedPrefixListEntries(ctx, in)
			return err
		}); err != nil {
			return nil, fmt.Errorf("read prefix list %s (StudioPrefixListId): %w", id, err)
		}
		for _, e := range page.Entries {
			out = append(out, aws.ToString(e.Cidr))
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// checkCertificate refuses a certificate the HTTPS listener cannot use:
// from another region (a listener takes certificates from its own region
// only), not ISSUED (still pending validation, expired, revoked...), or not
// naming the proxy's host name.
func (r *Reconciler) checkCertificate(ctx context.Context, p NetworkProperties) []error {
	parsed, err := arn.Parse(p.CertificateArn)
	if err != nil || parsed.Service != "acm" {
		return []error{fmt.Errorf("CertificateArn %s is not an ACM certificate ARN", p.CertificateArn)}
	}
	if parsed.Region != p.Region {
		return []error{fmt.Errorf(
			"CertificateArn is a certificate in %s, the stack is in %s: a load balancer uses ACM certificates of its "+
				"own region only; request or import one for %s in %s", parsed.Region, p.Region, p.DomainName, p.Region)}
	}
	var out *acm.DescribeCertificateOutput
	if err := r.settling(ctx, func() (err error) {
		out, err = r.Certificates.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(p.CertificateArn)})
		return err
	}); err != nil {
		return []error{fmt.Errorf("describe certificate %s (CertificateArn): %w", p.CertificateArn, err)}
	}
	c := out.Certificate
	if c == nil {
		return []error{fmt.Errorf("describe certificate %s: no certificate in the answer", p.CertificateArn)}
	}
	var problems []error
	if c.Status != acmtypes.CertificateStatusIssued {
		fix := "use an ISSUED certificate"
		if c.Status == acmtypes.CertificateStatusPendingValidation {
			fix = "finish its validation (the DNS record ACM names) and deploy once ACM shows it ISSUED"
		}
		problems = append(problems, fmt.Errorf("certificate %s is %s, not ISSUED: %s", p.CertificateArn, c.Status, fix))
	}
	names := certificateNames(c)
	if !slices.ContainsFunc(names, func(n string) bool { return nameCovers(n, p.DomainName) }) {
		problems = append(problems, fmt.Errorf(
			"certificate %s names %v, not ProxyDomainName %s: clients would refuse its TLS; use a certificate "+
				"for that name (a wildcard covers exactly one label)", p.CertificateArn, names, p.DomainName))
	}
	return problems
}

func certificateNames(c *acmtypes.CertificateDetail) []string {
	var names []string
	if n := aws.ToString(c.DomainName); n != "" {
		names = append(names, n)
	}
	for _, n := range c.SubjectAlternativeNames {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// nameCovers reports whether a certificate name matches host as a TLS
// client checks it: exactly, or as a wildcard that stands for the whole
// leftmost label and nothing more (RFC 6125, section 6.4.3), so
// *.example.com covers a.example.com but neither example.com nor
// a.b.example.com. Case does not matter.
func nameCovers(name, host string) bool {
	name, host = strings.ToLower(strings.TrimSuffix(name, ".")), strings.ToLower(strings.TrimSuffix(host, "."))
	if name == host {
		return true
	}
	rest, ok := strings.CutPrefix(name, "*.")
	if !ok || rest == "" {
		return false
	}
	label, parent, found := strings.Cut(host, ".")
	return found && label != "" && parent == rest
}

// vpcCIDRs are a VPC's associated IPv4 blocks (the primary one included).
func vpcCIDRs(v ec2types.Vpc) []string {
	var out []string
	if c := aws.ToString(v.CidrBlock); c != "" {
		out = append(out, c)
	}
	for _, a := range v.CidrBlockAssociationSet {
		c := aws.ToString(a.CidrBlock)
		if c == "" || slices.Contains(out, c) {
			continue
		}
		if a.CidrBlockState != nil && a.CidrBlockState.State != "" &&
			a.CidrBlockState.State != ec2types.VpcCidrBlockStateCodeAssociated &&
			a.CidrBlockState.State != ec2types.VpcCidrBlockStateCodeAssociating {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (r *Reconciler) subnetZones(ctx context.Context, ids []string) (map[string]string, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	zoneOf := map[string]string{}
	in := &ec2.DescribeSubnetsInput{SubnetIds: ids}
	for {
		var out *ec2.DescribeSubnetsOutput
		if err := r.settling(ctx, func() (err error) {
			out, err = r.Network.DescribeSubnets(ctx, in)
			return err
		}); err != nil {
			return nil, fmt.Errorf("describe subnets %s: %w", strings.Join(ids, ","), err)
		}
		for _, s := range out.Subnets {
			zoneOf[aws.ToString(s.SubnetId)] = aws.ToString(s.AvailabilityZone)
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, id := range ids {
		if zoneOf[id] == "" {
			return nil, fmt.Errorf("describe subnets: no zone for subnet %s", id)
		}
	}
	return zoneOf, nil
}

// interfaceZones are the zones where service is offered as an interface
// endpoint. S3 lists one service detail per endpoint type under one name.
func (r *Reconciler) interfaceZones(ctx context.Context, service string) ([]string, error) {
	var zones []string
	in := &ec2.DescribeVpcEndpointServicesInput{ServiceNames: []string{service}}
	found := false
	for {
		var out *ec2.DescribeVpcEndpointServicesOutput
		if err := r.settling(ctx, func() (err error) {
			out, err = r.Network.DescribeVpcEndpointServices(ctx, in)
			return err
		}); err != nil {
			return nil, fmt.Errorf("describe endpoint service %s: %w", service, err)
		}
		for _, d := range out.ServiceDetails {
			if aws.ToString(d.ServiceName) != service {
				continue
			}
			interfaceType := false
			for _, t := range d.ServiceType {
				if t.ServiceType == ec2types.ServiceTypeInterface {
					interfaceType = true
				}
			}
			if !interfaceType {
				continue
			}
			found = true
			zones = append(zones, d.AvailabilityZones...)
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if !found {
		return nil, fmt.Errorf("describe endpoint service %s: no interface endpoint service by that name in this region", service)
	}
	slices.Sort(zones)
	return slices.Compact(zones), nil
}

func zonesOf(zoneOf map[string]string, subnets []string) []string {
	var out []string
	for _, s := range subnets {
		out = append(out, zoneOf[s])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// without returns the members of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
