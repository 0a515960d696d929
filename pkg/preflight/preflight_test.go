package preflight

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

func TestStudioRanges(t *testing.T) {
	const vpc = "10.100.0.0/16"
	for _, tc := range []struct {
		name, in     string
		refuse, warn bool
		problem      string
	}{
		{"a studio range", "192.168.10.0/24", false, false, ""},
		{"another private range", "172.16.0.0/12", false, false, ""},
		{"everyone", "0.0.0.0/0", true, false, "whole Internet"},
		{"the VPC itself", "10.100.0.0/16", true, false, "VPC's own"},
		{"ShotGrid's default, containing the VPC", "10.0.0.0/8", false, true, "contains the VPC"},
		{"inside the VPC", "10.100.4.0/24", true, false, "inside the VPC"},
		{"host bits", "192.168.10.1/24", true, false, "host bits"},
		{"not a CIDR", "studio", true, false, "not an IPv4"},
		{"IPv6", "2001:db8::/32", true, false, "not an IPv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := StudioRanges([]string{tc.in}, vpc)[0]
			if f.Refuse != tc.refuse || f.Warn != tc.warn || !strings.Contains(f.Problem, tc.problem) {
				t.Errorf("%+v, want refuse %v warn %v problem %q", f, tc.refuse, tc.warn, tc.problem)
			}
			if (f.Refuse || f.Warn) && f.Fix == "" {
				t.Error("no fix named")
			}
		})
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		names []string
		host  string
		want  bool
	}{
		{[]string{"s3-proxy.studio.com"}, "s3-proxy.studio.com", true},
		{[]string{"S3-Proxy.Studio.com"}, "s3-proxy.studio.com.", true},
		{[]string{"*.studio.com"}, "s3-proxy.studio.com", true},
		{[]string{"*.studio.com"}, "studio.com", false},
		{[]string{"*.studio.com"}, "a.b.studio.com", false},
		{[]string{"studio.com", "*.studio.com"}, "studio.com", true},
		{[]string{"other.com"}, "s3-proxy.studio.com", false},
		{nil, "s3-proxy.studio.com", false},
	} {
		if got := Covers(tc.names, tc.host); got != tc.want {
			t.Errorf("Covers(%v, %q) = %v, want %v", tc.names, tc.host, got, tc.want)
		}
	}
}

// fakeLambda answers GetAccountSettings with a fixed unreserved count.
type fakeLambda struct{ unreserved, total int32 }

func (f fakeLambda) GetAccountSettings(context.Context, *lambda.GetAccountSettingsInput, ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error) {
	return &lambda.GetAccountSettingsOutput{AccountLimit: &lambdatypes.AccountLimit{
		UnreservedConcurrentExecutions: aws.Int32(f.unreserved), ConcurrentExecutions: f.total}}, nil
}

func TestConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name       string
		unreserved int32
		want       Status
	}{
		{"a new account's 10", 10, Warn},
		{"just under", MinUnreservedConcurrency - 1, Warn},
		{"the default 1000", 900, Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{o: Options{Region: "eu-west-1", Lambda: fakeLambda{tc.unreserved, 1000}}}
			res := r.concurrency(context.Background())
			if res.Status != tc.want {
				t.Errorf("%s %s — %s, want %s", res.Status, res.Detail, res.Hint, tc.want)
			}
			if res.Status == Warn && !strings.Contains(res.Hint, "Service Quotas") {
				t.Errorf("hint %q names no fix", res.Hint)
			}
		})
	}
}

// The go/no-go against versitygw, which checks SigV4 as S3 does: URLs
// signed for the global host <bucket>.s3.amazonaws.com, sent to the
// gateway's address with that Host. This shows the mechanics; only a real
// interface endpoint can give AWS's answer.
func TestUploadGoNoGoAgainstVersityGW(t *testing.T) {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{"studio-media"}})
	o := Options{Region: gw.Region, BucketName: "studio-media", KeyPrefix: "shotgun/", EndpointURL: gw.URL,
		Credentials: gw.Credentials, S3: gw.Client, Now: time.Now,
		HTTPClient: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}}
	ctx := context.Background()

	res := (&runner{o: o}).upload(ctx)
	if res.Status != Pass || !strings.Contains(res.Detail, "GO: presigned PUT and GET signed for studio-media.s3.amazonaws.com") {
		t.Fatalf("%s %s — %s", res.Status, res.Detail, res.Hint)
	}
	// The probe is gone, deleted through the same address.
	list, err := gw.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("studio-media")})
	if err != nil || len(list.Contents) != 0 {
		t.Errorf("objects left: %v, %v", list, err)
	}

	// Signed with a wrong secret: versitygw refuses it, as S3 would a URL
	// it cannot verify, and the verdict is NO-GO.
	bad := o
	bad.Credentials = credentials.NewStaticCredentialsProvider(gw.AccessKeyID, peertest.WrongSecret(gw.SecretAccessKey), "")
	res = (&runner{o: bad}).upload(ctx)
	if res.Status != Fail || !strings.Contains(res.Hint, "NO-GO") || !strings.Contains(res.Detail, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %s %s — %s", res.Status, res.Detail, res.Hint)
	}
	for _, s := range []string{res.Detail, res.Hint} {
		if strings.Contains(s, "X-Amz-Signature") || strings.Contains(s, gw.SecretAccessKey) {
			t.Errorf("the report carries a secret: %s", s)
		}
	}

	// A read-only stack passes no upload: nothing to decide, nothing sent.
	ro := bad
	ro.ReadOnly = true
	if res = (&runner{o: ro}).upload(ctx); res.Status != Skip || !strings.Contains(res.Detail, "ReadOnly") {
		t.Errorf("read-only: %s %s — %s", res.Status, res.Detail, res.Hint)
	}

	// No endpoint: skipped, with the commands for a temporary one.
	none := o
	none.EndpointURL, none.VpcID, none.SubnetIDs = "", "", []string{"subnet-a", "subnet-b"}
	res = (&runner{o: none}).upload(ctx)
	if res.Status != Skip || !strings.Contains(res.Hint, "aws ec2 create-vpc-endpoint") || !strings.Contains(res.Hint, "delete-vpc-endpoints") ||
		!strings.Contains(res.Hint, "--subnet-ids subnet-a subnet-b") {
		t.Errorf("no endpoint: %s %s — %s", res.Status, res.Detail, res.Hint)
	}
}

// The request reaches the endpoint's address with TLS SNI set to the
// endpoint's name and Host set to the global host: the same split the
// load balancer's passthrough makes.
func TestUploadSendsGlobalHostToEndpointName(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var stored []byte
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Method+" sni="+r.TLS.ServerName+" host="+r.Host)
		if r.Method == http.MethodPut {
			stored, _ = io.ReadAll(r.Body)
		} else {
			_, _ = w.Write(stored)
		}
	}))
	srv.StartTLS()
	defer srv.Close()
	const endpointName = "bucket.vpce-0abc-1de2.s3.eu-west-1.vpce.amazonaws.com"
	// Only this test's own server: the endpoint's name dials loopback.
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test's own server
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != endpointName+":443" {
				t.Errorf("dialled %s", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}}
	o := Options{Region: "eu-west-1", BucketName: "studio-media", EndpointURL: "https://" + endpointName,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), Now: time.Now,
		HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	res := (&runner{o: o}).upload(context.Background())
	if res.Status != Pass {
		t.Fatalf("%s %s — %s", res.Status, res.Detail, res.Hint)
	}
	want := []string{"PUT sni=" + endpointName + " host=studio-media.s3.amazonaws.com", "GET sni=" + endpointName + " host=studio-media.s3.amazonaws.com",
		"DELETE sni=" + endpointName + " host=studio-media.s3.amazonaws.com"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

func TestRegionalName(t *testing.T) {
	e := ec2types.VpcEndpoint{DnsEntries: []ec2types.DnsEntry{
		{DnsName: aws.String("*.vpce-0abc1234-5def6789-eu-west-1a.s3.eu-west-1.vpce.amazonaws.com")},
		{DnsName: aws.String("*.vpce-0abc1234-5def6789.s3.eu-west-1.vpce.amazonaws.com")},
		{DnsName: aws.String("*.vpce-0abc1234-5def6789-eu-west-1b.s3.eu-west-1.vpce.amazonaws.com")},
	}}
	if got := RegionalName(e); got != "vpce-0abc1234-5def6789.s3.eu-west-1.vpce.amazonaws.com" {
		t.Errorf("got %q", got)
	}
	if got := RegionalName(ec2types.VpcEndpoint{}); got != "" {
		t.Errorf("no entries: %q", got)
	}
}
