package endpointtargets

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// fakeEC2 answers with its function fields; a nil field fails the test.
type fakeEC2 struct {
	t          *testing.T
	endpoints  func(*ec2.DescribeVpcEndpointsInput) (*ec2.DescribeVpcEndpointsOutput, error)
	interfaces func(*ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error)
}

func (f *fakeEC2) DescribeVpcEndpoints(_ context.Context, in *ec2.DescribeVpcEndpointsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error) {
	if f.endpoints == nil {
		f.t.Fatal("unexpected DescribeVpcEndpoints")
	}
	return f.endpoints(in)
}

func (f *fakeEC2) DescribeNetworkInterfaces(_ context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	if f.interfaces == nil {
		f.t.Fatal("unexpected DescribeNetworkInterfaces")
	}
	return f.interfaces(in)
}

// fakeELB keeps target groups in a map (ARN → registered IP:port) and lets a
// test inject an error per operation and ARN.
type fakeELB struct {
	groups map[string][]string
	fail   map[string]error // key: "<op> <arn>"
	calls  []string
}

func (f *fakeELB) err(op, arn string) error {
	f.calls = append(f.calls, op+" "+arn)
	if err := f.fail[op+" "+arn]; err != nil {
		return err
	}
	if _, ok := f.groups[arn]; !ok {
		return &elbtypes.TargetGroupNotFoundException{Message: aws.String("no such group")}
	}
	return nil
}

func key(t elbtypes.TargetDescription) string {
	return aws.ToString(t.Id) + ":" + strconv.Itoa(int(aws.ToInt32(t.Port)))
}

func (f *fakeELB) RegisterTargets(_ context.Context, in *elbv2.RegisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error) {
	arn := aws.ToString(in.TargetGroupArn)
	if err := f.err("register", arn); err != nil {
		return nil, err
	}
	for _, t := range in.Targets {
		if t.AvailabilityZone != nil {
			return nil, errors.New("test: in-VPC targets must not name a zone")
		}
		if !slices.Contains(f.groups[arn], key(t)) {
			f.groups[arn] = append(f.groups[arn], key(t))
		}
	}
	return &elbv2.RegisterTargetsOutput{}, nil
}

func (f *fakeELB) DeregisterTargets(_ context.Context, in *elbv2.DeregisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	arn := aws.ToString(in.TargetGroupArn)
	if err := f.err("deregister", arn); err != nil {
		return nil, err
	}
	for _, t := range in.Targets {
		f.groups[arn] = slices.DeleteFunc(f.groups[arn], func(k string) bool { return k == key(t) })
	}
	return &elbv2.DeregisterTargetsOutput{}, nil
}

func (f *fakeELB) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	arn := aws.ToString(in.TargetGroupArn)
	if err := f.err("describe", arn); err != nil {
		return nil, err
	}
	out := &elbv2.DescribeTargetHealthOutput{}
	for _, k := range f.groups[arn] {
		ip, port, _ := strings.Cut(k, ":")
		p, _ := strconv.Atoi(port)
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{
			Target:       &elbtypes.TargetDescription{Id: aws.String(ip), Port: aws.Int32(int32(p)), AvailabilityZone: aws.String("eu-west-1a")},
			TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy},
		})
	}
	return out, nil
}

// endpoint returns an EC2 fake for one available endpoint with the given
// interfaces (ENI ID → IP).
func endpoint(t *testing.T, id string, enis map[string]string) *fakeEC2 {
	return &fakeEC2{
		t: t,
		endpoints: func(in *ec2.DescribeVpcEndpointsInput) (*ec2.DescribeVpcEndpointsOutput, error) {
			if !slices.Equal(in.VpcEndpointIds, []string{id}) {
				return nil, &smithy.GenericAPIError{Code: "InvalidVpcEndpointId.NotFound", Message: "no such endpoint"}
			}
			ep := ec2types.VpcEndpoint{VpcEndpointId: aws.String(id), State: "available", VpcEndpointType: ec2types.VpcEndpointTypeInterface,
				DnsEntries: dnsEntries(id)}
			for eni := range enis {
				ep.NetworkInterfaceIds = append(ep.NetworkInterfaceIds, eni)
			}
			slices.Sort(ep.NetworkInterfaceIds)
			return &ec2.DescribeVpcEndpointsOutput{VpcEndpoints: []ec2types.VpcEndpoint{ep}}, nil
		},
		interfaces: func(in *ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
			out := &ec2.DescribeNetworkInterfacesOutput{}
			for _, eni := range in.NetworkInterfaceIds {
				ip, ok := enis[eni]
				if !ok {
					return nil, &smithy.GenericAPIError{Code: "InvalidNetworkInterfaceID.NotFound"}
				}
				out.NetworkInterfaces = append(out.NetworkInterfaces, ec2types.NetworkInterface{
					NetworkInterfaceId: aws.String(eni), PrivateIpAddress: aws.String(ip),
				})
			}
			return out, nil
		},
	}
}

// dnsEntries are an S3 interface endpoint's DNS entries as EC2 lists them:
// zonal names first here, since EC2 documents no order.
func dnsEntries(id string) []ec2types.DnsEntry {
	zone := aws.String("Z7HUB22UULQXV")
	return []ec2types.DnsEntry{
		{DnsName: aws.String("*." + id + "-abcdefgh-eu-west-1b.s3.eu-west-1.vpce.amazonaws.com"), HostedZoneId: zone},
		{DnsName: aws.String("*." + id + "-abcdefgh-eu-west-1a.s3.eu-west-1.vpce.amazonaws.com"), HostedZoneId: zone},
		{DnsName: aws.String("*." + id + "-abcdefgh.s3.eu-west-1.vpce.amazonaws.com"), HostedZoneId: zone},
	}
}

const (
	stackID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/media/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	tgA     = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/a/1"
	tgB     = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/b/2"
	wantID  = "endpointtargets-EndpointTargets-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
)

func props(endpointID, tg string) map[string]any {
	return map[string]any{"ServiceToken": "arn:aws:lambda:…", "VpcEndpointId": endpointID, "TargetGroupArn": tg, "Port": "443"}
}

func event(kind cfn.RequestType, physicalID string, p, old map[string]any) cfn.Event {
	return cfn.Event{
		RequestType: kind, RequestID: "req-1", StackID: stackID, LogicalResourceID: "EndpointTargets",
		PhysicalResourceID: physicalID, ResourceProperties: p, OldResourceProperties: old,
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestHandle(t *testing.T) {
	twoENIs := map[string]string{"eni-1": "10.100.0.10", "eni-2": "10.100.1.20"}
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}

	tests := []struct {
		name     string
		event    cfn.Event
		enis     map[string]string
		groups   map[string][]string
		fail     map[string]error
		wantErr  string // substring; "" means success
		wantIPs  string
		wantTGs  map[string][]string
		wantCall string // a call that must have happened
	}{
		{
			name:    "create registers every interface IP on 443",
			event:   event(cfn.RequestCreate, "", props("vpce-1", tgA), nil),
			enis:    twoENIs,
			groups:  map[string][]string{tgA: nil},
			wantIPs: "10.100.0.10,10.100.1.20",
			wantTGs: map[string][]string{tgA: {"10.100.0.10:443", "10.100.1.20:443"}},
		},
		{
			name:    "create on a non-default port",
			event:   event(cfn.RequestCreate, "", map[string]any{"VpcEndpointId": "vpce-1", "TargetGroupArn": tgA, "Port": float64(8443)}, nil),
			enis:    map[string]string{"eni-1": "10.100.0.10"},
			groups:  map[string][]string{tgA: nil},
			wantIPs: "10.100.0.10",
			wantTGs: map[string][]string{tgA: {"10.100.0.10:8443"}},
		},
		{
			name:    "update removes IPs the endpoint no longer has",
			event:   event(cfn.RequestUpdate, wantID, props("vpce-1", tgA), props("vpce-1", tgA)),
			enis:    map[string]string{"eni-3": "10.100.1.30", "eni-1": "10.100.0.10"},
			groups:  map[string][]string{tgA: {"10.100.0.10:443", "10.100.1.20:443"}},
			wantIPs: "10.100.0.10,10.100.1.30",
			wantTGs: map[string][]string{tgA: {"10.100.0.10:443", "10.100.1.30:443"}},
		},
		{
			name:    "update to a new target group empties the old one",
			event:   event(cfn.RequestUpdate, wantID, props("vpce-1", tgB), props("vpce-1", tgA)),
			enis:    twoENIs,
			groups:  map[string][]string{tgA: {"10.100.0.10:443", "10.100.1.20:443"}, tgB: nil},
			wantIPs: "10.100.0.10,10.100.1.20",
			wantTGs: map[string][]string{tgA: {}, tgB: {"10.100.0.10:443", "10.100.1.20:443"}},
		},
		{
			name:     "update to a new target group tolerates being denied the old one",
			event:    event(cfn.RequestUpdate, wantID, props("vpce-1", tgB), props("vpce-1", tgA)),
			enis:     twoENIs,
			groups:   map[string][]string{tgA: {"10.100.0.10:443"}, tgB: nil},
			fail:     map[string]error{"describe " + tgA: denied},
			wantIPs:  "10.100.0.10,10.100.1.20",
			wantTGs:  map[string][]string{tgB: {"10.100.0.10:443", "10.100.1.20:443"}},
			wantCall: "describe " + tgA,
		},
		{
			name:    "update to a new target group tolerates the old one being gone",
			event:   event(cfn.RequestUpdate, wantID, props("vpce-1", tgB), props("vpce-1", tgA)),
			enis:    twoENIs,
			groups:  map[string][]string{tgB: nil},
			wantIPs: "10.100.0.10,10.100.1.20",
			wantTGs: map[string][]string{tgB: {"10.100.0.10:443", "10.100.1.20:443"}},
		},
		{
			name:    "delete deregisters everything",
			event:   event(cfn.RequestDelete, wantID, props("vpce-1", tgA), nil),
			groups:  map[string][]string{tgA: {"10.100.0.10:443", "10.100.1.20:443"}},
			wantTGs: map[string][]string{tgA: {}},
		},
		{
			name:  "delete tolerates a target group that is already gone",
			event: event(cfn.RequestDelete, wantID, props("vpce-1", tgA), nil),
		},
		{
			name:    "delete tolerates targets that are already gone",
			event:   event(cfn.RequestDelete, wantID, props("vpce-1", tgA), nil),
			groups:  map[string][]string{tgA: {"10.100.0.10:443"}},
			fail:    map[string]error{"deregister " + tgA: &elbtypes.InvalidTargetException{Message: aws.String("not registered")}},
			wantTGs: map[string][]string{tgA: {"10.100.0.10:443"}},
		},
		{
			name:  "delete after a create that never had valid properties",
			event: event(cfn.RequestDelete, "req-1", map[string]any{"ServiceToken": "x"}, nil),
		},
		{
			name:    "delete reports errors other than not-found",
			event:   event(cfn.RequestDelete, wantID, props("vpce-1", tgA), nil),
			groups:  map[string][]string{tgA: {"10.100.0.10:443"}},
			fail:    map[string]error{"deregister " + tgA: denied},
			wantErr: "AccessDenied",
		},
		{
			name:    "create with missing properties names each one",
			event:   event(cfn.RequestCreate, "", map[string]any{"Port": "http"}, nil),
			wantErr: "VpcEndpointId is required\nproperty TargetGroupArn is required\nproperty Port: \"http\" is not a number",
		},
		{
			name:    "create with an out-of-range port",
			event:   event(cfn.RequestCreate, "", map[string]any{"VpcEndpointId": "vpce-1", "TargetGroupArn": tgA, "Port": "70000"}, nil),
			wantErr: "out of range",
		},
		{
			name:    "create fails when the endpoint does not exist",
			event:   event(cfn.RequestCreate, "", props("vpce-missing", tgA), nil),
			enis:    twoENIs,
			groups:  map[string][]string{tgA: nil},
			wantErr: "InvalidVpcEndpointId.NotFound",
		},
		{
			name:    "create fails when registration is refused",
			event:   event(cfn.RequestCreate, "", props("vpce-1", tgA), nil),
			enis:    twoENIs,
			groups:  map[string][]string{tgA: nil},
			fail:    map[string]error{"register " + tgA: denied},
			wantErr: "register 10.100.0.10,10.100.1.20 on " + tgA,
		},
		{
			name:    "unknown request type",
			event:   event("Frobnicate", wantID, props("vpce-1", tgA), nil),
			wantErr: "unknown request type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groups := map[string][]string{}
			for k, v := range tt.groups {
				groups[k] = slices.Clone(v)
			}
			elb := &fakeELB{groups: groups, fail: tt.fail}
			r := &Reconciler{EC2: endpoint(t, "vpce-1", tt.enis), ELB: elb, IAMSettle: -1, Logger: quiet()}

			id, data, err := r.Handle(context.Background(), tt.event)

			if id != wantID && !(tt.event.RequestType == cfn.RequestDelete && id == tt.event.PhysicalResourceID) {
				t.Errorf("physical ID = %q, want %q", id, wantID)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if got, _ := data["Ips"].(string); got != tt.wantIPs {
				t.Errorf("data Ips = %q, want %q", got, tt.wantIPs)
			}
			if tt.event.RequestType != cfn.RequestDelete {
				if got, want := data["RegionalDnsName"], "vpce-1-abcdefgh.s3.eu-west-1.vpce.amazonaws.com"; got != want {
					t.Errorf("data RegionalDnsName = %v, want %q", got, want)
				}
			}
			for arn, want := range tt.wantTGs {
				got := slices.Clone(elb.groups[arn])
				slices.Sort(got)
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("targets of %s = %v, want %v", arn, got, want)
				}
			}
			if tt.wantCall != "" && !slices.Contains(elb.calls, tt.wantCall) {
				t.Errorf("calls = %v, want one to be %q", elb.calls, tt.wantCall)
			}
		})
	}
}

func TestHandleWaitsForEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		states  []ec2types.State // one per DescribeVpcEndpoints call; ENIs appear with "available"
		timeout time.Duration
		wantErr string
		wantN   int // DescribeVpcEndpoints calls
	}{
		{name: "already available", states: []ec2types.State{"available"}, wantN: 1},
		{name: "pending then available", states: []ec2types.State{"pending", "pending", "available"}, wantN: 3},
		{name: "capitalised state from the SDK enum", states: []ec2types.State{ec2types.StateAvailable}, wantN: 1},
		{name: "failed endpoint stops the wait", states: []ec2types.State{"pending", "failed"}, wantErr: "is failed", wantN: 2},
		{name: "gives up when the context ends", states: []ec2types.State{"pending"}, timeout: 30 * time.Millisecond, wantErr: "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			ec := &fakeEC2{
				t: t,
				endpoints: func(*ec2.DescribeVpcEndpointsInput) (*ec2.DescribeVpcEndpointsOutput, error) {
					st := tt.states[min(n, len(tt.states)-1)]
					n++
					ep := ec2types.VpcEndpoint{VpcEndpointId: aws.String("vpce-1"), State: st, DnsEntries: dnsEntries("vpce-1")}
					if strings.EqualFold(string(st), "available") {
						ep.NetworkInterfaceIds = []string{"eni-1"}
					}
					return &ec2.DescribeVpcEndpointsOutput{VpcEndpoints: []ec2types.VpcEndpoint{ep}}, nil
				},
				interfaces: func(*ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
					return &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: []ec2types.NetworkInterface{{PrivateIpAddress: aws.String("10.100.0.10")}}}, nil
				},
			}
			r := &Reconciler{EC2: ec, ELB: &fakeELB{groups: map[string][]string{tgA: nil}}, PollInterval: time.Millisecond, Logger: quiet()}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}

			_, _, err := r.Handle(ctx, event(cfn.RequestCreate, "", props("vpce-1", tgA), nil))

			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantN > 0 && n != tt.wantN {
				t.Errorf("DescribeVpcEndpoints calls = %d, want %d", n, tt.wantN)
			}
		})
	}
}

func TestHandleWaitsForIAM(t *testing.T) {
	unauthorized := &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "not authorized"}
	tests := []struct {
		name    string
		refuse  int // refusals before DescribeVpcEndpoints succeeds
		settle  time.Duration
		wantErr string
	}{
		{name: "a new role that settles in time", refuse: 3, settle: time.Minute},
		{name: "a role that never gets the permission", refuse: 1 << 30, settle: 20 * time.Millisecond, wantErr: "UnauthorizedOperation"},
		{name: "no retries when settling is off", refuse: 1, settle: -1, wantErr: "UnauthorizedOperation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := endpoint(t, "vpce-1", map[string]string{"eni-1": "10.100.0.10"})
			calls := 0
			ec := &fakeEC2{
				t: t,
				endpoints: func(in *ec2.DescribeVpcEndpointsInput) (*ec2.DescribeVpcEndpointsOutput, error) {
					calls++
					if calls <= tt.refuse {
						return nil, unauthorized
					}
					return base.endpoints(in)
				},
				interfaces: base.interfaces,
			}
			r := &Reconciler{EC2: ec, ELB: &fakeELB{groups: map[string][]string{tgA: nil}},
				PollInterval: time.Millisecond, IAMSettle: tt.settle, Logger: quiet()}

			_, _, err := r.Handle(context.Background(), event(cfn.RequestCreate, "", props("vpce-1", tgA), nil))

			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestPhysicalIDIsStable(t *testing.T) {
	create := event(cfn.RequestCreate, "", nil, nil)
	if got := PhysicalID(create); got != wantID {
		t.Fatalf("create: PhysicalID = %q, want %q", got, wantID)
	}
	for _, kind := range []cfn.RequestType{cfn.RequestUpdate, cfn.RequestDelete} {
		if got := PhysicalID(event(kind, wantID, nil, nil)); got != wantID {
			t.Errorf("%s: PhysicalID = %q, want %q", kind, got, wantID)
		}
	}
}
