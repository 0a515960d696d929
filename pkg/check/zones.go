package check

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// LoadBalancerAPI is what the endpoint-zones step reads of the stack's load
// balancer and its endpoint target group; *elasticloadbalancingv2.Client
// satisfies it.
type LoadBalancerAPI interface {
	DescribeLoadBalancers(ctx context.Context, params *elbv2.DescribeLoadBalancersInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTargetHealth(ctx context.Context, params *elbv2.DescribeTargetHealthInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// InterfaceAPI finds the zone of each registered address; *ec2.Client
// satisfies it.
type InterfaceAPI interface {
	DescribeNetworkInterfaces(ctx context.Context, params *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
}

var (
	_ LoadBalancerAPI = (*elbv2.Client)(nil)
	_ InterfaceAPI    = (*ec2.Client)(nil)
)

// Stack names the deployed load balancer and the IP target group of the S3
// interface endpoint (the stack's LoadBalancerArn and EndpointTargetGroupArn
// outputs), for the one check that needs AWS's own view of them.
type Stack struct {
	LoadBalancerARN, EndpointTargetGroupARN string
	ELB                                     LoadBalancerAPI
	EC2                                     InterfaceAPI
}

// Zone hints. An ALB routes only to targets in zones it has enabled, and an
// IP target outside them stays "unused".
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-register-targets.html
const (
	zoneHint = "targets in a zone the load balancer has not enabled get no traffic: give the load balancer a subnet in that zone " +
		"(ExistingPublicSubnetIds), or place the interface endpoint in the load balancer's zones (ExistingPrivateSubnetIds / AvailabilityZones)"
	driftHint = "the endpoint's current addresses are not the registered ones (the endpoint was changed outside the stack): " +
		"redeploy so EndpointTargets runs, or see docs/operate.md, endpoint-unhealthy"
	unhealthyHint = "an endpoint address fails the load balancer's health check: EndpointSecurityGroup must admit 443 from the load balancer; " +
		"aws elbv2 describe-target-health gives the reason per address"
	stackAPIHint = "could not read the load balancer or its target group: check --load-balancer-arn and --endpoint-target-group-arn " +
		"(the stack's outputs) and that your credentials may call elasticloadbalancing:Describe* and ec2:DescribeNetworkInterfaces"
)

// endpointZones checks what CloudFormation cannot: that every address of
// the endpoint target group is healthy, still one of the endpoint's own, and
// in a zone the load balancer has enabled.
func (r *runner) endpointZones(ctx context.Context) stepreport.Result {
	s := r.o.Stack
	if s == nil || s.LoadBalancerARN == "" || s.EndpointTargetGroupARN == "" {
		return stepreport.Skipped("", "pass --load-balancer-arn and --endpoint-target-group-arn (the stack's outputs) to check the endpoint's zones")
	}
	lbs, err := s.ELB.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{s.LoadBalancerARN}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		return stepreport.Failed(stackAPIHint, "describing the load balancer: %v", apiErr(err))
	}
	var albZones []string
	for _, z := range lbs.LoadBalancers[0].AvailabilityZones {
		albZones = append(albZones, aws.ToString(z.ZoneName))
	}
	health, err := s.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(s.EndpointTargetGroupARN)})
	if err != nil {
		return stepreport.Failed(stackAPIHint, "describing the endpoint target group: %v", apiErr(err))
	}
	if len(health.TargetHealthDescriptions) == 0 {
		return stepreport.Failed(driftHint, "the endpoint target group has no targets: uploads and /_direct reads have nowhere to go")
	}
	var ips []string
	for _, d := range health.TargetHealthDescriptions {
		ips = append(ips, aws.ToString(d.Target.Id))
	}
	enis, err := s.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("addresses.private-ip-address"), Values: ips}},
	})
	if err != nil {
		return stepreport.Failed(stackAPIHint, "finding the targets' network interfaces: %v", apiErr(err))
	}
	zoneOf := map[string]string{}
	for _, n := range enis.NetworkInterfaces {
		if n.InterfaceType != ec2types.NetworkInterfaceTypeVpcEndpoint {
			continue
		}
		for _, a := range n.PrivateIpAddresses {
			zoneOf[aws.ToString(a.PrivateIpAddress)] = aws.ToString(n.AvailabilityZone)
		}
	}
	var outside, stale, sick []string
	zones := map[string]bool{}
	for _, d := range health.TargetHealthDescriptions {
		ip := aws.ToString(d.Target.Id)
		zone, ok := zoneOf[ip]
		switch {
		case !ok:
			stale = append(stale, ip)
			continue
		case !slices.Contains(albZones, zone):
			outside = append(outside, ip+" in "+zone)
		}
		zones[zone] = true
		if d.TargetHealth == nil || d.TargetHealth.State != elbtypes.TargetHealthStateEnumHealthy {
			state, reason := "unknown", ""
			if d.TargetHealth != nil {
				state, reason = string(d.TargetHealth.State), string(d.TargetHealth.Reason)
			}
			sick = append(sick, strings.TrimSuffix(ip+" "+state+" "+reason, " "))
		}
	}
	switch {
	case len(stale) > 0:
		return stepreport.Failed(driftHint, "registered addresses that are no S3 interface endpoint's: %s", strings.Join(stale, ", "))
	case len(outside) > 0:
		return stepreport.Failed(zoneHint, "load balancer zones %s; targets outside them: %s", strings.Join(albZones, ", "), strings.Join(outside, ", "))
	case len(sick) > 0:
		return stepreport.Failed(unhealthyHint, "targets not healthy: %s", strings.Join(sick, "; "))
	}
	return stepreport.Passed("%d endpoint addresses, healthy, in %s, all enabled on the load balancer", len(ips), strings.Join(slices.Sorted(maps.Keys(zones)), ", "))
}

// apiErr renders an AWS error for the detail line. SDK errors name the
// operation, the service's code and a request ID; none carries credentials.
func apiErr(err error) string {
	if err == nil {
		return "not found"
	}
	return fmt.Sprint(err)
}
