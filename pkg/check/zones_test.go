package check

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// fakeAWS is the load balancer, its endpoint target group and the
// endpoint's interfaces, as AWS would describe them.
type fakeAWS struct {
	albZones []string
	targets  map[string]elbtypes.TargetHealthStateEnum // IP → state
	enis     map[string]string                         // IP → zone of a VPC endpoint interface
	err      error
}

func (f *fakeAWS) DescribeLoadBalancers(_ context.Context, in *elbv2.DescribeLoadBalancersInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	lb := elbtypes.LoadBalancer{LoadBalancerArn: aws.String(in.LoadBalancerArns[0])}
	for _, z := range f.albZones {
		lb.AvailabilityZones = append(lb.AvailabilityZones, elbtypes.AvailabilityZone{ZoneName: aws.String(z)})
	}
	return &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbtypes.LoadBalancer{lb}}, nil
}

func (f *fakeAWS) DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	out := &elbv2.DescribeTargetHealthOutput{}
	for ip, state := range f.targets {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{
			Target: &elbtypes.TargetDescription{Id: aws.String(ip), Port: aws.Int32(443)}, TargetHealth: &elbtypes.TargetHealth{State: state},
		})
	}
	return out, nil
}

func (f *fakeAWS) DescribeNetworkInterfaces(_ context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	out := &ec2.DescribeNetworkInterfacesOutput{}
	for _, ip := range in.Filters[0].Values {
		if zone, ok := f.enis[ip]; ok {
			out.NetworkInterfaces = append(out.NetworkInterfaces, ec2types.NetworkInterface{
				AvailabilityZone: aws.String(zone), InterfaceType: ec2types.NetworkInterfaceTypeVpcEndpoint,
				PrivateIpAddresses: []ec2types.NetworkInterfacePrivateIpAddress{{PrivateIpAddress: aws.String(ip)}},
			})
		}
	}
	return out, nil
}

func TestEndpointZones(t *testing.T) {
	healthy := elbtypes.TargetHealthStateEnumHealthy
	good := func() *fakeAWS {
		return &fakeAWS{
			albZones: []string{"eu-west-1a", "eu-west-1b"},
			targets:  map[string]elbtypes.TargetHealthStateEnum{"10.0.1.10": healthy, "10.0.2.10": healthy},
			enis:     map[string]string{"10.0.1.10": "eu-west-1a", "10.0.2.10": "eu-west-1b"},
		}
	}
	tests := []struct {
		name   string
		stack  bool
		edit   func(*fakeAWS)
		status Status
		want   string // in the detail or hint
	}{
		{name: "no stack given", status: Skip, want: "--load-balancer-arn"},
		{name: "all in the load balancer's zones", stack: true, status: Pass, want: "eu-west-1a, eu-west-1b"},
		{name: "a target in a zone the load balancer lacks", stack: true, status: Fail, want: "10.0.2.10 in eu-west-1c",
			edit: func(f *fakeAWS) { f.enis["10.0.2.10"] = "eu-west-1c" }},
		{name: "a registered address no longer the endpoint's", stack: true, status: Fail, want: "EndpointTargets",
			edit: func(f *fakeAWS) { delete(f.enis, "10.0.2.10") }},
		{name: "an unhealthy target", stack: true, status: Fail, want: "443 from the load balancer",
			edit: func(f *fakeAWS) { f.targets["10.0.1.10"] = elbtypes.TargetHealthStateEnumUnhealthy }},
		{name: "an unused target", stack: true, status: Fail, want: "unused",
			edit: func(f *fakeAWS) { f.targets["10.0.1.10"] = elbtypes.TargetHealthStateEnumUnused }},
		{name: "no targets", stack: true, status: Fail, want: "no targets",
			edit: func(f *fakeAWS) { f.targets = nil }},
		{name: "no permission", stack: true, status: Fail, want: "elasticloadbalancing:Describe",
			edit: func(f *fakeAWS) { f.err = errors.New("AccessDenied") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			if tc.edit != nil {
				tc.edit(f)
			}
			r := &runner{o: Options{}}
			if tc.stack {
				r.o.Stack = &Stack{LoadBalancerARN: "arn:lb", EndpointTargetGroupARN: "arn:tg", ELB: f, EC2: f}
			}
			res := r.endpointZones(context.Background())
			if res.Status != tc.status || !strings.Contains(res.Detail+" "+res.Hint, tc.want) {
				t.Errorf("got %s %q (hint %q), want %s mentioning %q", res.Status, res.Detail, res.Hint, tc.status, tc.want)
			}
		})
	}
}
