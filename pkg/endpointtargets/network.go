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
}

var _ NetworkAPI = (*ec2.Client)(nil)

// NetworkProperties are the properties of a Custom::NetworkChecks resource:
// what the template's Rules cannot check because only EC2 knows it.
type NetworkProperties struct {
	// VpcID is the stack's VPC, new or existing.
	VpcID string
	// StudioCidr is the studio network the security groups admit. It must
	// not overlap any of the VPC's CIDR blocks: a studio range that contains
	// the VPC opens 443 on the ALB and the endpoint to the whole VPC, and a
	// VPC inside the studio's routed range cannot be routed to over VPN/DX.
	StudioCidr string
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
	p.VpcID = str("VpcId")
	p.StudioCidr = str("StudioCidr")
	p.ServiceName = str("ServiceName")
	p.EndpointSubnetIDs = list("EndpointSubnetIds")
	p.LoadBalancerSubnetIDs = list("LoadBalancerSubnetIds")
	return p, errors.Join(errs...)
}

// HandleNetworkChecks answers a Custom::NetworkChecks event. Create and
// Update fail, naming every problem at once, when the network breaks an
// assumption the rest of the stack makes; Delete does nothing. The data
// output has the key Zones: the endpoint's zones, sorted, comma-separated.
//
// The template makes the S3 interface endpoint depend on this resource, so a
// refusal comes before the endpoint, the load balancer and their targets
// exist, and the rollback is short.
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
	if r.Network == nil {
		return id, nil, errors.New("network checks are not configured in this function")
	}
	zones, err := r.checkNetwork(ctx, p)
	if err != nil {
		return id, nil, err
	}
	r.logger().Info("network checks passed", "vpc", p.VpcID, "zones", zones)
	return id, map[string]any{"Zones": strings.Join(zones, ",")}, nil
}

func (r *Reconciler) checkNetwork(ctx context.Context, p NetworkProperties) ([]string, error) {
	studio, err := netip.ParsePrefix(p.StudioCidr)
	if err != nil {
		return nil, fmt.Errorf("StudioCidr %q is not a CIDR block: %w", p.StudioCidr, err)
	}
	var problems []error

	// 1. The studio network and the VPC do not overlap.
	var vpcs *ec2.DescribeVpcsOutput
	if err := r.settling(ctx, func() (err error) {
		vpcs, err = r.Network.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{p.VpcID}})
		return err
	}); err != nil {
		return nil, fmt.Errorf("describe VPC %s: %w", p.VpcID, err)
	}
	if len(vpcs.Vpcs) != 1 {
		return nil, fmt.Errorf("describe VPC %s: got %d VPCs, want 1", p.VpcID, len(vpcs.Vpcs))
	}
	for _, cidr := range vpcCIDRs(vpcs.Vpcs[0]) {
		block, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		if block.Overlaps(studio.Masked()) {
			problems = append(problems, fmt.Errorf(
				"StudioCidr %s overlaps the VPC's CIDR block %s: the security groups would admit the VPC itself, "+
					"and the studio network could not be routed to it; set StudioCidr to the studio's own range, outside the VPC",
				p.StudioCidr, cidr))
		}
	}

	// 2. Zones: the endpoint's subnets are in zones that offer the S3
	// interface endpoint and that the load balancer has enabled.
	zoneOf, err := r.subnetZones(ctx, append(slices.Clone(p.EndpointSubnetIDs), p.LoadBalancerSubnetIDs...))
	if err != nil {
		return nil, err
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
		return nil, err
	}
	if missing := without(endpointZones, offered); len(missing) > 0 {
		problems = append(problems, fmt.Errorf(
			"%s is not offered as an interface endpoint in %v; it is offered in %v: set AvailabilityZones "+
				"(new VPC) or ExistingPrivateSubnetIds (existing VPC) to subnets in those zones",
			p.ServiceName, missing, offered))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return endpointZones, nil
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
