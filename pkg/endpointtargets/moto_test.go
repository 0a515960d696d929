package endpointtargets

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// The custom resource against moto's EC2 and ELBv2 APIs (moto_server, on
// loopback): the real SDK clients, real request serialisation and moto's
// models of VPCs, subnets, interface endpoints, network interfaces and IP
// target groups, through create, an update that changes the endpoint's
// interfaces, and delete, with the target group's registered IPs asserted
// after each.
//
// Where moto is less faithful than AWS, and what the test does about it:
//
//   - ModifyVpcEndpoint with AddSubnetIds/RemoveSubnetIds changes the
//     endpoint's subnet list but not its network interfaces (AWS creates an
//     interface in each added subnet and deletes those of removed ones). The
//     test creates the new subnet's interface itself with
//     CreateNetworkInterface, and motoEC2 reports the endpoint's interfaces
//     as AWS would after the change. The IPs still come from moto.
//   - An interface endpoint's DnsEntries in moto are one made-up name
//     (vpce-….com.amazonaws.<region>.s3), not AWS's regional name plus one
//     per zone (*.vpce-….s3.<region>.vpce.amazonaws.com). motoEC2 replaces
//     them with AWS-shaped entries, zonal first, which is exactly what the
//     regional-name choice must cope with.
//   - Endpoints are "available" at once; AWS starts at "pending".
//     TestHandleWaitsForEndpoint covers the wait with fakes.
//   - Deregistered targets vanish at once; AWS keeps them "draining" for
//     the deregistration delay (300 s by default). The resource ignores
//     draining targets, which moto cannot show.
//   - moto keys targets by ID only, AWS by ID and port. The stack uses one
//     port, so the difference does not show here.
//   - DescribeVpcEndpointServices in moto offers its default services in
//     every zone of the region; AWS does not promise that for the S3
//     interface endpoint. TestNetworkChecks covers a zone without it, with
//     fakes; here the network checks run against moto's VPC, subnets and
//     service list, and refuse an overlapping studio CIDR.
//   - moto checks no IAM permissions (the role's policy is checked
//     structurally in tests/template) and does not tie IP targets to the
//     VPC's CIDR or to the load balancer's zones (NetworkChecks does that).
//   - A certificate requested from moto's ACM stays PENDING_VALIDATION for
//     MOTO_ACM_VALIDATION_WAIT seconds and is then ISSUED, with no DNS
//     record to create; the test sets the wait to one second, sees the
//     refusal, then waits for ISSUED.
func TestAgainstMoto(t *testing.T) {
	ec, elb, certs := startMoto(t)
	ctx := context.Background()
	const region = "eu-west-1"

	v, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.100.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(v.Vpc.VpcId)
	subnet := map[string]string{}
	for i, zone := range []string{"a", "b", "c"} {
		s, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID),
			CidrBlock: aws.String(fmt.Sprintf("10.100.%d.0/24", i)), AvailabilityZone: aws.String(region + zone)})
		if err != nil {
			t.Fatal(err)
		}
		subnet[zone] = aws.ToString(s.Subnet.SubnetId)
	}
	ep, err := ec.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: aws.String(vpcID),
		ServiceName: aws.String("com.amazonaws." + region + ".s3"), VpcEndpointType: ec2types.VpcEndpointTypeInterface,
		SubnetIds: []string{subnet["a"], subnet["b"]}})
	if err != nil {
		t.Fatal(err)
	}
	endpointID := aws.ToString(ep.VpcEndpoint.VpcEndpointId)
	tg, err := elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("s3proxy-test-ip"),
		TargetType: elbtypes.TargetTypeEnumIp, Protocol: elbtypes.ProtocolEnumHttps, Port: aws.Int32(443), VpcId: aws.String(vpcID)})
	if err != nil {
		t.Fatal(err)
	}
	tgArn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)

	mec := &motoEC2{Client: ec, region: region}
	base := aws.ToString(ec.Options().BaseEndpoint)
	r := &Reconciler{EC2: mec, ELB: elb, Network: ec, Certificates: certs, PollInterval: 10 * time.Millisecond, IAMSettle: -1,
		BucketRegions: BucketRegionOverHTTP{Client: &http.Client{Timeout: 5 * time.Second}, Endpoint: base}, Logger: quiet()}
	for bucket, where := range map[string]string{"media-bucket": region, "far-bucket": "us-east-1"} {
		if err := createBucket(base, bucket, where); err != nil {
			t.Fatal(err)
		}
	}

	ipsOf := func(enis []string) []string {
		out, err := ec.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: enis})
		if err != nil {
			t.Fatal(err)
		}
		var ips []string
		for _, n := range out.NetworkInterfaces {
			ips = append(ips, aws.ToString(n.PrivateIpAddress))
		}
		slices.Sort(ips)
		return ips
	}
	registered := func() []string {
		out, err := elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgArn)})
		if err != nil {
			t.Fatal(err)
		}
		var ips []string
		for _, d := range out.TargetHealthDescriptions {
			if aws.ToInt32(d.Target.Port) != 443 {
				t.Errorf("target %s on port %d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port))
			}
			ips = append(ips, aws.ToString(d.Target.Id))
		}
		slices.Sort(ips)
		return ips
	}
	eventFor := func(kind cfn.RequestType, enis, oldENIs []string) cfn.Event {
		p := map[string]any{"VpcEndpointId": endpointID, "TargetGroupArn": tgArn, "Port": "443", "NetworkInterfaceIds": toAny(enis)}
		var old map[string]any
		if oldENIs != nil {
			old = map[string]any{"VpcEndpointId": endpointID, "TargetGroupArn": tgArn, "Port": "443", "NetworkInterfaceIds": toAny(oldENIs)}
		}
		id := ""
		if kind != cfn.RequestCreate {
			id = wantID
		}
		return event(kind, id, p, old)
	}

	// Network checks first, as the template orders them: a certificate
	// that is still pending validation, then one for another name, then
	// the issued one; studio ranges around, at and inside the VPC; a
	// prefix list.
	const name = "s3-proxy.studio.example.com"
	requested, err := certs.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String(name),
		SubjectAlternativeNames: []string{name, "s3-proxy-next.studio.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := certs.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("*.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	nc := event(cfn.RequestCreate, "", map[string]any{"VpcId": vpcID, "StudioCidrs": []any{"192.168.0.0/16", "172.16.8.0/22"},
		"StudioPrefixListId": "", "CertificateArn": aws.ToString(requested.CertificateArn), "DomainName": name, "Region": region,
		"BucketName":  "media-bucket",
		"ServiceName": "com.amazonaws." + region + ".s3", "EndpointSubnetIds": []any{subnet["a"], subnet["b"]},
		"LoadBalancerSubnetIds": []any{subnet["a"], subnet["b"]}}, nil)
	nc.ResourceType, nc.LogicalResourceID = NetworkChecksType, "NetworkChecks"
	if _, _, err := r.Handle(ctx, nc); err == nil || !strings.Contains(err.Error(), "is PENDING_VALIDATION, not ISSUED") {
		t.Fatalf("network checks with a certificate pending validation: %v", err)
	}
	waitIssued(t, certs, aws.ToString(requested.CertificateArn), aws.ToString(other.CertificateArn))
	if _, data, err := r.Handle(ctx, nc); err != nil || data["Zones"] != region+"a,"+region+"b" || data["Warnings"] != "" {
		t.Fatalf("network checks: %v, %v", data, err)
	}
	nc.ResourceProperties["BucketName"] = "far-bucket"
	if _, _, err := r.Handle(ctx, nc); err == nil || !strings.Contains(err.Error(), "bucket far-bucket is in us-east-1, the stack in "+region) {
		t.Fatalf("network checks with a bucket in another region: %v", err)
	}
	nc.ResourceProperties["BucketName"] = "media-bucket"
	nc.ResourceProperties["CertificateArn"] = aws.ToString(other.CertificateArn)
	if _, _, err := r.Handle(ctx, nc); err == nil || !strings.Contains(err.Error(), "not ProxyDomainName "+name) {
		t.Fatalf("network checks with a wildcard two labels up: %v", err)
	}
	nc.ResourceProperties["CertificateArn"] = aws.ToString(requested.CertificateArn)
	nc.ResourceProperties["StudioCidrs"] = []any{"10.0.0.0/8"}
	if _, data, err := r.Handle(ctx, nc); err != nil || !strings.Contains(data["Warnings"].(string), "contains the VPC's CIDR block 10.100.0.0/16") {
		t.Fatalf("network checks with ShotGrid's old 10.0.0.0/8: want a pass with a warning, got %v, %v", data, err)
	}
	nc.ResourceProperties["StudioCidrs"] = []any{"10.100.0.0/16"}
	if _, _, err := r.Handle(ctx, nc); err == nil || !strings.Contains(err.Error(), "is the VPC's own CIDR block 10.100.0.0/16") {
		t.Fatalf("network checks with the VPC's own range: %v", err)
	}
	pl, err := ec.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{PrefixListName: aws.String("studio"),
		AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(5), Entries: []ec2types.AddPrefixListEntry{
			{Cidr: aws.String("192.168.0.0/16")}, {Cidr: aws.String("10.100.4.0/24")}}})
	if err != nil {
		t.Fatal(err)
	}
	nc.ResourceProperties["StudioCidrs"] = []any{""}
	nc.ResourceProperties["StudioPrefixListId"] = aws.ToString(pl.PrefixList.PrefixListId)
	if _, _, err := r.Handle(ctx, nc); err == nil || !strings.Contains(err.Error(), "entry 10.100.4.0/24 is the VPC's own CIDR block") {
		t.Fatalf("network checks with a prefix list entry inside the VPC: %v", err)
	}

	// Create.
	created := slices.Sorted(slices.Values(ep.VpcEndpoint.NetworkInterfaceIds))
	if len(created) != 2 {
		t.Fatalf("moto gave the endpoint %d interfaces, want 2", len(created))
	}
	_, data, err := r.Handle(ctx, eventFor(cfn.RequestCreate, created, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := ipsOf(created)
	if got := registered(); !slices.Equal(got, want) {
		t.Fatalf("after create: registered %v, want %v", got, want)
	}
	if data["Ips"] != strings.Join(want, ",") {
		t.Errorf("Ips = %v, want %v", data["Ips"], want)
	}
	wantDNS := endpointID + "-abcdefgh.s3." + region + ".vpce.amazonaws.com"
	if data["RegionalDnsName"] != wantDNS {
		t.Errorf("RegionalDnsName = %v, want %s", data["RegionalDnsName"], wantDNS)
	}

	// Update: SubnetIds a,b → b,c in place. The endpoint keeps its ID; the
	// interface in a goes and one in c comes.
	if _, err := ec.ModifyVpcEndpoint(ctx, &ec2.ModifyVpcEndpointInput{VpcEndpointId: aws.String(endpointID),
		AddSubnetIds: []string{subnet["c"]}, RemoveSubnetIds: []string{subnet["a"]}}); err != nil {
		t.Fatal(err)
	}
	var keep, gone string
	for _, eni := range created {
		out, err := ec.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.NetworkInterfaces[0].SubnetId) == subnet["a"] {
			gone = eni
		} else {
			keep = eni
		}
	}
	added, err := ec.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet["c"])})
	if err != nil {
		t.Fatal(err)
	}
	updated := slices.Sorted(slices.Values([]string{keep, aws.ToString(added.NetworkInterface.NetworkInterfaceId)}))
	mec.setInterfaces(updated)
	oldIP := ipsOf([]string{gone})[0]
	if _, err := ec.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Handle(ctx, eventFor(cfn.RequestUpdate, updated, created)); err != nil {
		t.Fatal(err)
	}
	want = ipsOf(updated)
	if got := registered(); !slices.Equal(got, want) {
		t.Fatalf("after update: registered %v, want %v (the old %s must be gone)", got, want, oldIP)
	}

	// Delete.
	if _, _, err := r.Handle(ctx, eventFor(cfn.RequestDelete, updated, nil)); err != nil {
		t.Fatal(err)
	}
	if got := registered(); len(got) != 0 {
		t.Fatalf("after delete: registered %v, want none", got)
	}
}

// createBucket creates a bucket in region on moto's S3, path-style, with
// a plain request (the test needs no S3 client otherwise).
func createBucket(base, bucket, region string) error {
	body := ""
	if region != "us-east-1" {
		body = `<CreateBucketConfiguration><LocationConstraint>` + region + `</LocationConstraint></CreateBucketConfiguration>`
	}
	req, err := http.NewRequest(http.MethodPut, base+"/"+bucket, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/"+region+"/s3/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create bucket %s in %s: %s", bucket, region, resp.Status)
	}
	return nil
}

// waitIssued waits (bounded) until moto's ACM reports the certificates ISSUED.
func waitIssued(t *testing.T, certs *acm.Client, arns ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range arns {
		for {
			out, err := certs.DescribeCertificate(context.Background(), &acm.DescribeCertificateInput{CertificateArn: aws.String(a)})
			if err != nil {
				t.Fatal(err)
			}
			if out.Certificate.Status == "ISSUED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("certificate %s is still %s", a, out.Certificate.Status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// motoEC2 is moto's EC2 with the two answers moto gets wrong for this test
// made AWS-shaped (see TestAgainstMoto).
type motoEC2 struct {
	*ec2.Client
	region string
	mu     sync.Mutex
	enis   []string // nil: as moto says
}

func (m *motoEC2) setInterfaces(enis []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enis = enis
}

func (m *motoEC2) DescribeVpcEndpoints(ctx context.Context, in *ec2.DescribeVpcEndpointsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error) {
	out, err := m.Client.DescribeVpcEndpoints(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range out.VpcEndpoints {
		ep := &out.VpcEndpoints[i]
		id := aws.ToString(ep.VpcEndpointId)
		zone := aws.String("Z7HUB22UULQXV")
		ep.DnsEntries = []ec2types.DnsEntry{
			{DnsName: aws.String("*." + id + "-abcdefgh-" + m.region + "a.s3." + m.region + ".vpce.amazonaws.com"), HostedZoneId: zone},
			{DnsName: aws.String("*." + id + "-abcdefgh.s3." + m.region + ".vpce.amazonaws.com"), HostedZoneId: zone},
		}
		if m.enis != nil {
			ep.NetworkInterfaceIds = slices.Clone(m.enis)
		}
	}
	return out, nil
}

// startMoto runs moto_server on a free loopback port for this test and
// returns EC2, ELBv2 and ACM clients pointed at it.
func startMoto(t *testing.T) (*ec2.Client, *elbv2.Client, *acm.Client) {
	t.Helper()
	m := peertest.StartMoto(t, peertest.MotoOptions{Env: []string{"MOTO_ACM_VALIDATION_WAIT=1"}})
	base, creds := m.URL, m.Credentials
	ec := ec2.New(ec2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(base), Credentials: creds})
	elb := elbv2.New(elbv2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(base), Credentials: creds})
	certs := acm.New(acm.Options{Region: "eu-west-1", BaseEndpoint: aws.String(base), Credentials: creds})
	return ec, elb, certs
}
