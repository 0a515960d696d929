package endpointtargets

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// An Update after the endpoint's SubnetIds changed in place: same endpoint
// ID, new interfaces. The new IPs are registered and the old ones removed,
// and the resource waits while EC2 still reports the old interfaces.
func TestUpdateFollowsNewInterfaces(t *testing.T) {
	calls := 0
	base := endpoint(t, "vpce-1", map[string]string{"eni-1": "10.100.0.10", "eni-3": "10.100.2.30"})
	ec := &fakeEC2{
		t: t,
		endpoints: func(in *ec2.DescribeVpcEndpointsInput) (*ec2.DescribeVpcEndpointsOutput, error) {
			calls++
			out, err := base.endpoints(in)
			if calls <= 2 { // EC2's read side still shows the old set
				out.VpcEndpoints[0].NetworkInterfaceIds = []string{"eni-1", "eni-2"}
			}
			return out, err
		},
		interfaces: base.interfaces,
	}
	elb := &fakeELB{groups: map[string][]string{tgA: {"10.100.0.10:443", "10.100.1.20:443"}}}
	r := &Reconciler{EC2: ec, ELB: elb, PollInterval: time.Millisecond, Logger: quiet()}
	p := props("vpce-1", tgA)
	p["NetworkInterfaceIds"] = []any{"eni-3", "eni-1"}
	old := props("vpce-1", tgA)
	old["NetworkInterfaceIds"] = []any{"eni-1", "eni-2"}

	_, data, err := r.Handle(context.Background(), event(cfn.RequestUpdate, wantID, p, old))
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("DescribeVpcEndpoints calls = %d, want 3 (two with the old interfaces)", calls)
	}
	if got := data["Ips"]; got != "10.100.0.10,10.100.2.30" {
		t.Errorf("Ips = %v", got)
	}
	if got := strings.Join(elb.groups[tgA], " "); got != "10.100.0.10:443 10.100.2.30:443" {
		t.Errorf("targets = %s, want the new interfaces' IPs only", got)
	}
}

// A rollback: the properties name interfaces the endpoint no longer has
// (it got new ones when its subnets were reverted). After InterfaceWait the
// resource follows the endpoint instead of failing the rollback.
func TestUpdateFollowsTheEndpointAfterInterfaceWait(t *testing.T) {
	calls := 0
	base := endpoint(t, "vpce-1", map[string]string{"eni-5": "10.100.0.50", "eni-6": "10.100.1.60"})
	ec := &fakeEC2{t: t, interfaces: base.interfaces,
		endpoints: func(in *ec2.DescribeVpcEndpointsInput) (*ec2.DescribeVpcEndpointsOutput, error) {
			calls++
			return base.endpoints(in)
		}}
	elb := &fakeELB{groups: map[string][]string{tgA: {"10.100.0.10:443", "10.100.2.30:443"}}}
	r := &Reconciler{EC2: ec, ELB: elb, PollInterval: time.Millisecond, InterfaceWait: 20 * time.Millisecond, Logger: quiet()}
	p := props("vpce-1", tgA)
	p["NetworkInterfaceIds"] = []any{"eni-1", "eni-2"} // gone for good

	_, data, err := r.Handle(context.Background(), event(cfn.RequestUpdate, wantID, p, nil))
	if err != nil {
		t.Fatal(err)
	}
	if calls < 2 {
		t.Errorf("DescribeVpcEndpoints calls = %d, want a wait before giving up on the properties", calls)
	}
	if got := strings.Join(elb.groups[tgA], " "); got != "10.100.0.50:443 10.100.1.60:443" || data["Ips"] != "10.100.0.50,10.100.1.60" {
		t.Errorf("targets = %s (Ips %v), want the endpoint's current interfaces", got, data["Ips"])
	}
}

func TestParseNetworkInterfaceIds(t *testing.T) {
	for _, v := range []any{[]any{"eni-b", "eni-a", ""}, "eni-a, eni-b", []string{"eni-b", "eni-a"}} {
		p, err := ParseProperties(map[string]any{"VpcEndpointId": "vpce-1", "TargetGroupArn": tgA, "NetworkInterfaceIds": v})
		if err != nil || strings.Join(p.NetworkInterfaceIDs, ",") != "eni-a,eni-b" {
			t.Errorf("%#v: got %v, %v", v, p.NetworkInterfaceIDs, err)
		}
	}
	if _, err := ParseProperties(map[string]any{"VpcEndpointId": "vpce-1", "TargetGroupArn": tgA, "NetworkInterfaceIds": []any{1}}); err == nil {
		t.Error("a non-string interface ID was accepted")
	}
}

func TestRegionalDNSName(t *testing.T) {
	entry := func(names ...string) ec2types.VpcEndpoint {
		ep := ec2types.VpcEndpoint{VpcEndpointId: aws.String("vpce-1")}
		for _, n := range names {
			ep.DnsEntries = append(ep.DnsEntries, ec2types.DnsEntry{DnsName: aws.String(n)})
		}
		return ep
	}
	const regional = "vpce-0a1b-abcdefgh.s3.us-east-1.vpce.amazonaws.com"
	tests := []struct {
		name    string
		ep      ec2types.VpcEndpoint
		want    string
		wantErr bool
	}{
		{name: "regional first", ep: entry("*."+regional, "*.vpce-0a1b-abcdefgh-us-east-1a.s3.us-east-1.vpce.amazonaws.com"), want: regional},
		{name: "regional last", ep: entry("*.vpce-0a1b-abcdefgh-us-east-1a.s3.us-east-1.vpce.amazonaws.com",
			"*.vpce-0a1b-abcdefgh-us-east-1b.s3.us-east-1.vpce.amazonaws.com", "*."+regional), want: regional},
		{name: "with private DNS names", ep: entry("s3.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com", "*."+regional), want: regional},
		{name: "without the wildcard label", ep: entry(regional + "."), want: regional},
		{name: "only zonal names", ep: entry("*.vpce-0a1b-abcdefgh-us-east-1a.s3.us-east-1.vpce.amazonaws.com"), wantErr: true},
		{name: "no entries", ep: entry(), wantErr: true},
		{name: "two regional names", ep: entry("*."+regional, "*.vpce-0a1b-zzzzzzzz.s3.us-east-1.vpce.amazonaws.com"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RegionalDNSName(tt.ep)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// fakeNetwork answers the network checks from fixed data.
type fakeNetwork struct {
	vpcCIDRs   []string
	zoneOf     map[string]string
	offered    []string
	prefixList map[string][]string
}

func (f *fakeNetwork) GetManagedPrefixListEntries(_ context.Context, in *ec2.GetManagedPrefixListEntriesInput, _ ...func(*ec2.Options)) (*ec2.GetManagedPrefixListEntriesOutput, error) {
	entries, ok := f.prefixList[aws.ToString(in.PrefixListId)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "InvalidPrefixListID.NotFound"}
	}
	out := &ec2.GetManagedPrefixListEntriesOutput{}
	for _, c := range entries {
		out.Entries = append(out.Entries, ec2types.PrefixListEntry{Cidr: aws.String(c)})
	}
	return out, nil
}

// fakeBuckets answers BucketRegion from fixed data; a bucket without an
// entry cannot be asked (a network error).
type fakeBuckets map[string]string

func (f fakeBuckets) BucketRegion(_ context.Context, bucket string) (string, error) {
	switch r, ok := f[bucket]; {
	case !ok:
		return "", errors.New("dial tcp: i/o timeout")
	case r == "":
		return "", ErrNoSuchBucket
	default:
		return r, nil
	}
}

// fakeCertificates answers DescribeCertificate from fixed data.
type fakeCertificates map[string]acmtypes.CertificateDetail

func (f fakeCertificates) DescribeCertificate(_ context.Context, in *acm.DescribeCertificateInput, _ ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	c, ok := f[aws.ToString(in.CertificateArn)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}
	}
	return &acm.DescribeCertificateOutput{Certificate: &c}, nil
}

const (
	testCert     = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000001"
	pendingCert  = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000002"
	wildcardCert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000003"
	otherRegion  = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000004"
)

func testCertificates() fakeCertificates {
	return fakeCertificates{
		testCert: {DomainName: aws.String("s3-proxy.studio.example.com"), Status: acmtypes.CertificateStatusIssued,
			SubjectAlternativeNames: []string{"s3-proxy.studio.example.com", "s3-proxy-next.studio.example.com"}},
		pendingCert: {DomainName: aws.String("s3-proxy.studio.example.com"), Status: acmtypes.CertificateStatusPendingValidation},
		wildcardCert: {DomainName: aws.String("*.example.com"), Status: acmtypes.CertificateStatusIssued,
			SubjectAlternativeNames: []string{"*.example.com"}},
		otherRegion: {DomainName: aws.String("s3-proxy.studio.example.com"), Status: acmtypes.CertificateStatusIssued},
	}
}

func (f *fakeNetwork) DescribeVpcs(_ context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	v := ec2types.Vpc{VpcId: aws.String(in.VpcIds[0]), CidrBlock: aws.String(f.vpcCIDRs[0])}
	for _, c := range f.vpcCIDRs {
		v.CidrBlockAssociationSet = append(v.CidrBlockAssociationSet, ec2types.VpcCidrBlockAssociation{
			CidrBlock: aws.String(c), CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}})
	}
	return &ec2.DescribeVpcsOutput{Vpcs: []ec2types.Vpc{v}}, nil
}

func (f *fakeNetwork) DescribeSubnets(_ context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	out := &ec2.DescribeSubnetsOutput{}
	for _, id := range in.SubnetIds {
		if z, ok := f.zoneOf[id]; ok {
			out.Subnets = append(out.Subnets, ec2types.Subnet{SubnetId: aws.String(id), AvailabilityZone: aws.String(z)})
		}
	}
	return out, nil
}

func (f *fakeNetwork) DescribeVpcEndpointServices(_ context.Context, in *ec2.DescribeVpcEndpointServicesInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointServicesOutput, error) {
	name := aws.String(in.ServiceNames[0])
	return &ec2.DescribeVpcEndpointServicesOutput{ServiceDetails: []ec2types.ServiceDetail{
		{ServiceName: name, ServiceType: []ec2types.ServiceTypeDetail{{ServiceType: ec2types.ServiceTypeGateway}},
			AvailabilityZones: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
		{ServiceName: name, ServiceType: []ec2types.ServiceTypeDetail{{ServiceType: ec2types.ServiceTypeInterface}},
			AvailabilityZones: f.offered},
	}}, nil
}

// networkProps are a NetworkChecks resource's properties as CloudFormation
// sends them; studio is the StudioCidrs value (a list).
func networkProps(studio string, endpointSubnets, albSubnets []any) map[string]any {
	cidrs := []any{}
	for _, c := range strings.Split(studio, ",") {
		cidrs = append(cidrs, c)
	}
	return map[string]any{"ServiceToken": "x", "VpcId": "vpc-1", "StudioCidrs": cidrs, "StudioPrefixListId": "",
		"CertificateArn": testCert, "DomainName": "s3-proxy.studio.example.com", "Region": "eu-west-1", "BucketName": "media-bucket",
		"ServiceName": "com.amazonaws.eu-west-1.s3", "EndpointSubnetIds": endpointSubnets, "LoadBalancerSubnetIds": albSubnets}
}

func with(props map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range props {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestNetworkChecks(t *testing.T) {
	zoneOf := map[string]string{"subnet-a": "eu-west-1a", "subnet-b": "eu-west-1b", "subnet-c": "eu-west-1c",
		"subnet-pa": "eu-west-1a", "subnet-pb": "eu-west-1b"}
	private := []any{"subnet-a", "subnet-b"}
	ab := []string{"eu-west-1a", "eu-west-1b"}
	vpc := []string{"10.100.0.0/16"}
	ok := networkProps("192.168.0.0/16", private, private)
	tests := []struct {
		name         string
		props        map[string]any
		vpcCIDRs     []string
		offered      []string
		kind         cfn.RequestType
		wantErr      []string
		wantZones    string
		wantWarnings []string
	}{
		{name: "studio network outside the VPC", props: ok,
			vpcCIDRs: vpc, offered: ab, wantZones: "eu-west-1a,eu-west-1b"},
		{name: "ShotGrid's old 10.0.0.0/8 contains the VPC: allowed, with a warning", props: networkProps("10.0.0.0/8", private, private),
			vpcCIDRs: vpc, offered: ab, wantZones: "eu-west-1a,eu-west-1b",
			wantWarnings: []string{"StudioCidrs entry 10.0.0.0/8 contains the VPC's CIDR block 10.100.0.0/16"}},
		{name: "site, VPN and render farm", props: networkProps("192.168.0.0/16,172.16.8.0/22,10.0.0.0/8", private, private),
			vpcCIDRs: vpc, offered: ab, wantZones: "eu-west-1a,eu-west-1b", wantWarnings: []string{"10.0.0.0/8 contains"}},
		{name: "exactly the VPC", props: networkProps("192.168.0.0/16,10.100.0.0/16", private, private),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"StudioCidrs entry 10.100.0.0/16 is the VPC's own CIDR block 10.100.0.0/16"}},
		{name: "the VPC written unmasked", props: networkProps("10.100.7.1/16", private, private),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"is the VPC's own CIDR block"}},
		{name: "a studio range inside a secondary VPC block", props: networkProps("100.64.1.0/24", private, private),
			vpcCIDRs: []string{"10.100.0.0/16", "100.64.0.0/16"}, offered: ab, wantErr: []string{"inside it", "100.64.0.0/16"}},
		{name: "everything", props: networkProps("192.168.0.0/16,0.0.0.0/0", private, private),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"0.0.0.0/0 is the whole Internet"}},
		{name: "six ranges", props: networkProps("192.168.1.0/24,192.168.2.0/24,192.168.3.0/24,192.168.4.0/24,192.168.5.0/24,192.168.6.0/24", private, private),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"lists 6 ranges", "StudioPrefixListId"}},
		{name: "not a CIDR block", props: networkProps("192.168.0.0", private, private),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"not an IPv4 CIDR block"}},
		{name: "a prefix list only", props: with(networkProps("", private, private), "StudioPrefixListId", "pl-studio"),
			vpcCIDRs: vpc, offered: ab, wantZones: "eu-west-1a,eu-west-1b"},
		{name: "a prefix list holding the VPC", props: with(ok, "StudioPrefixListId", "pl-withvpc"),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"StudioPrefixListId pl-withvpc entry 10.100.0.0/16 is the VPC's own"}},
		{name: "an empty prefix list", props: with(networkProps("", private, private), "StudioPrefixListId", "pl-empty"),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"pl-empty has no entries"}},
		{name: "an unknown prefix list", props: with(ok, "StudioPrefixListId", "pl-gone"),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"read prefix list pl-gone", "InvalidPrefixListID.NotFound"}},
		{name: "no studio network", props: networkProps("", private, private),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"StudioCidrs or StudioPrefixListId must name the studio network"}},
		{name: "a certificate pending validation", props: with(ok, "CertificateArn", pendingCert),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"is PENDING_VALIDATION, not ISSUED", "finish its validation"}},
		{name: "a certificate from us-east-1", props: with(ok, "CertificateArn", otherRegion),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"certificate in us-east-1, the stack is in eu-west-1"}},
		{name: "a certificate for another name", props: with(ok, "DomainName", "media.studio.example.com"),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"not ProxyDomainName media.studio.example.com"}},
		{name: "a wildcard one label up", props: with(ok, "CertificateArn", wildcardCert, "DomainName", "s3-proxy.example.com"),
			vpcCIDRs: vpc, offered: ab, wantZones: "eu-west-1a,eu-west-1b"},
		{name: "a wildcard two labels up", props: with(ok, "CertificateArn", wildcardCert),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"names [*.example.com], not ProxyDomainName s3-proxy.studio.example.com"}},
		{name: "a certificate ACM does not know", props: with(ok, "CertificateArn", strings.Replace(testCert, "0001", "0009", 1)),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"describe certificate", "ResourceNotFoundException"}},
		{name: "a bucket in another region", props: with(ok, "BucketName", "far-bucket"),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"bucket far-bucket is in us-east-1, the stack in eu-west-1", "deploy the stack in us-east-1"}},
		{name: "a bucket that does not exist", props: with(ok, "BucketName", "gone-bucket"),
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"bucket gone-bucket does not exist"}},
		{name: "S3 cannot be asked: a warning only", props: with(ok, "BucketName", "unreachable-bucket"),
			vpcCIDRs: vpc, offered: ab, wantZones: "eu-west-1a,eu-west-1b", wantWarnings: []string{"could not read bucket unreachable-bucket's region"}},
		{name: "public subnets miss an endpoint zone", props: networkProps("192.168.0.0/16", []any{"subnet-a", "subnet-c"}, []any{"subnet-pa", "subnet-pb"}),
			vpcCIDRs: []string{"10.100.0.0/16"}, offered: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
			wantErr: []string{"not all enabled on the load balancer", "[eu-west-1c] would get no traffic"}},
		{name: "a zone without the S3 interface endpoint", props: networkProps("192.168.0.0/16", private, private),
			vpcCIDRs: []string{"10.100.0.0/16"}, offered: []string{"eu-west-1b", "eu-west-1c"},
			wantErr: []string{"not offered as an interface endpoint in [eu-west-1a]"}},
		{name: "every problem at once", props: with(networkProps("10.100.0.0/16", []any{"subnet-a", "subnet-c"}, private), "CertificateArn", pendingCert),
			vpcCIDRs: []string{"10.100.0.0/16"}, offered: []string{"eu-west-1b"},
			wantErr: []string{"VPC's own", "not ISSUED", "not all enabled", "not offered"}},
		{name: "missing properties", props: map[string]any{"VpcId": "vpc-1"},
			wantErr: []string{"StudioCidrs or StudioPrefixListId", "ServiceName must be",
				"EndpointSubnetIds is required", "LoadBalancerSubnetIds is required"}},
		{name: "a certificate without its name and region", props: map[string]any{"VpcId": "vpc-1", "StudioCidrs": []any{"192.168.0.0/16"},
			"CertificateArn": testCert, "BucketName": "media-bucket", "ServiceName": "com.amazonaws.eu-west-1.s3",
			"EndpointSubnetIds": private, "LoadBalancerSubnetIds": private},
			wantErr: []string{"DomainName and Region must come with CertificateArn", "Region must come with BucketName"}},
		// A failed upgrade rolls this resource back to the earlier template's
		// properties while the function still runs this code.
		{name: "an earlier template's properties, during a rollback", props: map[string]any{"ServiceToken": "x", "VpcId": "vpc-1",
			"StudioCidr": "192.168.0.0/16", "ServiceName": "com.amazonaws.eu-west-1.s3", "EndpointSubnetIds": private, "LoadBalancerSubnetIds": private},
			vpcCIDRs: vpc, offered: ab, kind: cfn.RequestUpdate, wantZones: "eu-west-1a,eu-west-1b",
			wantWarnings: []string{"the certificate is not checked"}},
		{name: "an earlier template's overlapping StudioCidr is still judged", props: map[string]any{"VpcId": "vpc-1",
			"StudioCidr": "10.100.0.0/16", "ServiceName": "com.amazonaws.eu-west-1.s3", "EndpointSubnetIds": private, "LoadBalancerSubnetIds": private},
			vpcCIDRs: vpc, offered: ab, wantErr: []string{"StudioCidrs entry 10.100.0.0/16 is the VPC's own"}},
		{name: "delete checks nothing", props: map[string]any{}, kind: cfn.RequestDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == "" {
				kind = cfn.RequestCreate
			}
			ev := event(kind, "", tt.props, nil)
			ev.ResourceType = NetworkChecksType
			ev.LogicalResourceID = "NetworkChecks"
			r := &Reconciler{EC2: &fakeEC2{t: t}, ELB: &fakeELB{}, Logger: quiet(), IAMSettle: -1, Certificates: testCertificates(),
				BucketRegions: fakeBuckets{"media-bucket": "eu-west-1", "far-bucket": "us-east-1", "gone-bucket": ""},
				Network: &fakeNetwork{vpcCIDRs: tt.vpcCIDRs, zoneOf: zoneOf, offered: tt.offered, prefixList: map[string][]string{
					"pl-studio": {"192.168.0.0/16", "172.16.0.0/12"}, "pl-withvpc": {"192.168.0.0/16", "10.100.0.0/16"}, "pl-empty": {}}}}

			id, data, err := r.Handle(context.Background(), ev)

			if !strings.HasPrefix(id, "endpointtargets-NetworkChecks-") {
				t.Errorf("physical ID %q", id)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if kind != cfn.RequestDelete && data["Zones"] != tt.wantZones {
					t.Errorf("Zones = %v, want %s", data["Zones"], tt.wantZones)
				}
				warnings, _ := data["Warnings"].(string)
				if len(tt.wantWarnings) == 0 && warnings != "" {
					t.Errorf("Warnings = %q, want none", warnings)
				}
				for _, w := range tt.wantWarnings {
					if !strings.Contains(warnings, w) {
						t.Errorf("Warnings = %q, want it to contain %q", warnings, w)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("err = nil, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestNameCovers(t *testing.T) {
	tests := []struct {
		name, host string
		want       bool
	}{
		{"s3-proxy.studio.example.com", "s3-proxy.studio.example.com", true},
		{"S3-Proxy.Studio.Example.com", "s3-proxy.studio.example.com", true},
		{"s3-proxy.studio.example.com.", "s3-proxy.studio.example.com", true},
		{"*.studio.example.com", "s3-proxy.studio.example.com", true},
		{"*.studio.example.com", "studio.example.com", false},
		{"*.example.com", "s3-proxy.studio.example.com", false},
		{"*.studio.example.com", "a.b.studio.example.com", false},
		{"s3*.studio.example.com", "s3-proxy.studio.example.com", false},
		{"*", "localhost", false},
		{"studio.example.com", "s3-proxy.studio.example.com", false},
	}
	for _, tt := range tests {
		if got := nameCovers(tt.name, tt.host); got != tt.want {
			t.Errorf("nameCovers(%q, %q) = %v, want %v", tt.name, tt.host, got, tt.want)
		}
	}
}

// The HEAD S3 answers with the bucket's region in every status it uses
// for an existing bucket; a redirect is read, not followed.
func TestBucketRegionOverHTTP(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		region  string
		want    string
		wantErr string
	}{
		{name: "own region", status: 200, region: "eu-west-1", want: "eu-west-1"},
		{name: "redirect to the bucket's region", status: 301, region: "ap-southeast-2", want: "ap-southeast-2"},
		{name: "forbidden, as for an anonymous caller", status: 403, region: "us-east-1", want: "us-east-1"},
		{name: "no such bucket", status: 404, wantErr: ErrNoSuchBucket.Error()},
		{name: "no header", status: 400, wantErr: "answered 400 without x-amz-bucket-region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				if tt.region != "" {
					w.Header().Set("X-Amz-Bucket-Region", tt.region)
				}
				if tt.status == 301 {
					w.Header().Set("Location", "http://"+r.Host+"/elsewhere")
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			region, err := BucketRegionOverHTTP{Client: srv.Client(), Endpoint: srv.URL}.BucketRegion(context.Background(), "media-bucket")
			if got == nil || got.Method != http.MethodHead || got.URL.Path != "/media-bucket" || got.Header.Get("Authorization") != "" {
				t.Fatalf("request %+v, want an anonymous HEAD /media-bucket (and no redirect followed)", got)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || region != tt.want {
				t.Fatalf("got %q, %v; want %q", region, err, tt.want)
			}
		})
	}
}
