package check

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// fakePolicy answers GetBucketPolicy with a fixed document or error.
type fakePolicy struct {
	doc string
	err error
}

func (f fakePolicy) GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &s3.GetBucketPolicyOutput{Policy: aws.String(f.doc)}, nil
}

// recommended is the shape of the stack's RecommendedBucketPolicy output.
const recommended = `{"Version":"2012-10-17","Statement":[
{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
"Resource":["arn:aws:s3:::media","arn:aws:s3:::media/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},
{"Sid":"DenyReadsOutsideProxyNetwork","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":["arn:aws:s3:::media/shotgun/*"],
"Condition":{"StringNotEquals":{"aws:SourceVpc":["vpc-new"],"aws:SourceVpce":["vpce-new"]}}},
{"Sid":"DenyEndpointReadsExceptProxyRole","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":"arn:aws:s3:::media/*",
"Condition":{"StringEquals":{"aws:SourceVpce":"vpce-new"},"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/proxy-new"}}},
{"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/proxy-new"},
"Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":["arn:aws:s3:::media/shotgun/*"]}]}`

func TestBucketPolicy(t *testing.T) {
	// As merged by hand: ShotGrid's VPC ID and transcoder IPs added to the
	// read deny, its own statements kept, keys in another case and order.
	merged := `{"Version":"2012-10-17","Statement":[
{"Sid":"ShotGridRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/sg"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::media/*"},
{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":["s3:*"],
"Resource":["arn:aws:s3:::media/*","arn:aws:s3:::media"],"Condition":{"Bool":{"aws:SecureTransport":["false"]}}},
{"Sid":"DenyReadsOutsideProxyNetwork","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":"arn:aws:s3:::media/shotgun/*",
"Condition":{"StringNotEquals":{"aws:sourceVpc":["vpc-shotgrid","vpc-new"],"aws:SourceVpce":"vpce-new"},"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}},
{"Sid":"DenyEndpointReadsExceptProxyRole","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":["arn:aws:s3:::media/*"],
"Condition":{"StringEquals":{"aws:SourceVpce":["vpce-new"]},"ArnNotEquals":{"aws:PrincipalArn":["arn:aws:iam::123456789012:role/proxy-new"]}}},
{"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/proxy-new"]},
"Action":["s3:GetObjectVersion","s3:GetObject"],"Resource":["arn:aws:s3:::media/shotgun/*"]}]}`
	// After an update that replaced the endpoint and the role, the policy
	// still names the old ones.
	stale := strings.NewReplacer("vpce-new", "vpce-old", "proxy-new", "proxy-old").Replace(merged)
	for _, tc := range []struct {
		name   string
		api    fakePolicy
		bp     bool
		status Status
		want   []string
	}{
		{"merged", fakePolicy{doc: merged}, true, Pass, []string{"all 4 statements"}},
		{"after a replacing update", fakePolicy{doc: stale}, true, Fail, []string{
			"DenyReadsOutsideProxyNetwork (present, but naming other values: StringNotEquals aws:sourcevpce lacks vpce-new)",
			"DenyEndpointReadsExceptProxyRole", "AllowProxyRoleReads (present, but naming other values: principal"}},
		{"only ShotGrid's statement", fakePolicy{doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::media/*"}}`}, true, Fail,
			[]string{"DenyInsecureTransport; DenyReadsOutsideProxyNetwork"}},
		{"no policy", fakePolicy{err: &smithy.GenericAPIError{Code: "NoSuchBucketPolicy"}}, true, Fail, []string{"no policy"}},
		{"access denied", fakePolicy{err: &smithy.GenericAPIError{Code: "AccessDenied"}}, true, Fail, []string{"GetBucketPolicy"}},
		{"no stack", fakePolicy{}, false, Skip, []string{"--stack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Bucket: "media"}
			if tc.bp {
				o.BucketPolicy = &BucketPolicy{Recommended: recommended, S3: tc.api}
			}
			res := (&runner{o: o}).bucketPolicy(context.Background())
			if res.Status != tc.status {
				t.Fatalf("%s %s — %s, want %s", res.Status, res.Detail, res.Hint, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Detail, w) {
					t.Errorf("detail %q lacks %q", res.Detail, w)
				}
			}
			if res.Status == Fail && tc.api.err == nil && !strings.Contains(res.Hint, "RecommendedBucketPolicy") {
				t.Errorf("hint %q does not name the output", res.Hint)
			}
		})
	}
}

func TestBrowserOrigin(t *testing.T) {
	proxy := mustURL(t, "https://s3-proxy.studio.com")
	for _, tc := range []struct{ target, want string }{
		{"https://bucket.vpce-0abc.s3.eu-west-1.vpce.amazonaws.com/media/k", "null"},
		{"https://s3-proxy.studio.com/_direct/media/k", "https://site.example"},
		{"https://S3-Proxy.studio.com/_direct/media/k", "https://site.example"},
		{"http://s3-proxy.studio.com/_direct/media/k", "null"},
	} {
		if got := browserOrigin("https://site.example", proxy, mustURL(t, tc.target)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.target, got, tc.want)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
