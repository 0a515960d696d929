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

// recommended is the shape of the stack's RecommendedBucketPolicy output,
// with CheckPrincipalArns set.
const recommended = `{"Version":"2012-10-17","Statement":[
{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
"Resource":["arn:aws:s3:::media","arn:aws:s3:::media/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},
{"Sid":"DenyReadsOutsideProxyNetwork","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":["arn:aws:s3:::media/shotgun/*"],
"Condition":{"StringNotEquals":{"aws:SourceVpc":["vpc-new"],"aws:SourceVpce":["vpce-new"]}}},
{"Sid":"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":["arn:aws:s3:::media/shotgun/*"],
"Condition":{"StringEquals":{"aws:SourceVpc":"vpc-new"},
"ArnNotEquals":{"aws:PrincipalArn":["arn:aws:iam::123456789012:role/proxy-new","arn:aws:iam::123456789012:role/sg","arn:aws:iam::123456789012:role/check"]}}},
{"Sid":"DenyCheckPrincipalsOutsideCheckArea","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"NotResource":["arn:aws:s3:::media/shotgun/s3proxy-check/*"],
"Condition":{"StringEquals":{"aws:SourceVpc":"vpc-new"},"ArnEquals":{"aws:PrincipalArn":["arn:aws:iam::123456789012:role/check"]}}},
{"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/proxy-new"},
"Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":["arn:aws:s3:::media/shotgun/*"]}]}`

// merged is recommended as merged by hand (docs/deploy.md §5): ShotGrid's
// VPC ID and transcoder IPs added to the read deny, its own statements
// kept, keys in another case and order.
const merged = `{"Version":"2012-10-17","Statement":[
{"Sid":"ShotGridRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/sg"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::media/*"},
{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":["s3:*"],
"Resource":["arn:aws:s3:::media/*","arn:aws:s3:::media"],"Condition":{"Bool":{"aws:SecureTransport":["false"]}}},
{"Sid":"DenyReadsOutsideProxyNetwork","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":"arn:aws:s3:::media/shotgun/*",
"Condition":{"StringNotEquals":{"aws:sourceVpc":["vpc-shotgrid","vpc-new"],"aws:SourceVpce":"vpce-new"},"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}},
{"Sid":"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"Resource":"arn:aws:s3:::media/shotgun/*",
"Condition":{"ArnNotEquals":{"aws:PrincipalArn":["arn:aws:iam::123456789012:role/check","arn:aws:iam::123456789012:role/proxy-new","arn:aws:iam::123456789012:role/sg"]},
"StringEquals":{"aws:sourcevpc":["vpc-new"]}}},
{"Sid":"DenyCheckPrincipalsOutsideCheckArea","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",
"NotResource":"arn:aws:s3:::media/shotgun/s3proxy-check/*",
"Condition":{"StringEquals":{"aws:SourceVpc":"vpc-new"},"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/check"}}},
{"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/proxy-new"]},
"Action":["s3:GetObjectVersion","s3:GetObject"],"Resource":["arn:aws:s3:::media/shotgun/*"]}]}`

func TestBucketPolicy(t *testing.T) {
	// After an update that replaced the endpoint and the role, the policy
	// still names the old ones.
	stale := strings.NewReplacer("vpce-new", "vpce-old", "proxy-new", "proxy-old").Replace(merged)
	edit := func(old, new string) string {
		if !strings.Contains(merged, old) {
			t.Fatalf("the merged policy has no %q", old)
		}
		return strings.Replace(merged, old, new, 1)
	}
	const listed = `"aws:PrincipalArn":["arn:aws:iam::123456789012:role/check",`
	for _, tc := range []struct {
		name   string
		api    fakePolicy
		bp     bool
		status Status
		want   []string
	}{
		{"merged", fakePolicy{doc: merged}, true, Pass, []string{"all 5 statements"}},
		{"after a replacing update", fakePolicy{doc: stale}, true, Fail, []string{
			"DenyReadsOutsideProxyNetwork (present, but naming other values: StringNotEquals aws:sourcevpce has extra vpce-old, StringNotEquals aws:sourcevpce lacks vpce-new)",
			"DenyVpcReadsExceptListedPrincipals (present, but naming other values: ArnNotEquals aws:principalarn has extra arn:aws:iam::123456789012:role/proxy-old, ArnNotEquals aws:principalarn lacks arn:aws:iam::123456789012:role/proxy-new)",
			"AllowProxyRoleReads (present, but naming other values: principal"}},
		{"an extra principal excepted from the VPC deny", fakePolicy{doc: edit(listed, listed+`"arn:aws:iam::123456789012:role/artist",`)}, true, Fail,
			[]string{"DenyVpcReadsExceptListedPrincipals (present, but naming other values: ArnNotEquals aws:principalarn has extra arn:aws:iam::123456789012:role/artist)"}},
		{"a wildcard excepted from the VPC deny", fakePolicy{doc: edit(listed, listed+`"arn:aws:iam::*:role/*",`)}, true, Fail,
			[]string{"ArnNotEquals aws:principalarn has extra arn:aws:iam::*:role/*"}},
		{"an ArnNotLike exception added to the VPC deny", fakePolicy{doc: edit(`"StringEquals":{"aws:sourcevpc":["vpc-new"]}`,
			`"StringEquals":{"aws:sourcevpc":["vpc-new"]},"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/*"}`)}, true, Fail,
			[]string{"DenyVpcReadsExceptListedPrincipals (present, but naming other values: extra condition ArnNotLike aws:principalarn)"}},
		{"the VPC deny narrowed to one endpoint", fakePolicy{doc: edit(`"StringEquals":{"aws:sourcevpc":["vpc-new"]}`,
			`"StringEquals":{"aws:sourcevpc":["vpc-new"],"aws:SourceVpce":"vpce-new"}`)}, true, Fail,
			[]string{"extra condition StringEquals aws:sourcevpce"}},
		{"the TLS deny narrowed", fakePolicy{doc: edit(`"Bool":{"aws:SecureTransport":["false"]}`,
			`"Bool":{"aws:SecureTransport":["false"]},"StringEquals":{"aws:SourceVpc":"vpc-x"}`)}, true, Fail,
			[]string{"DenyInsecureTransport (present, but naming other values: extra condition StringEquals aws:sourcevpc)"}},
		{"another endpoint excepted from the read deny", fakePolicy{doc: edit(`"aws:SourceVpce":"vpce-new"`, `"aws:SourceVpce":["vpce-new","vpce-other"]`)}, true, Fail,
			[]string{"StringNotEquals aws:sourcevpce has extra vpce-other"}},
		{"another ShotGrid VPC and transcoder range merged in", fakePolicy{doc: edit(`"203.0.113.0/24"`, `"203.0.113.0/24","198.51.100.7/32"`)}, true, Pass,
			[]string{"all 5 statements"}},
		{"the check area widened", fakePolicy{doc: edit(`"NotResource":"arn:aws:s3:::media/shotgun/s3proxy-check/*"`, `"NotResource":"arn:aws:s3:::media/shotgun/*"`)}, true, Fail,
			[]string{"DenyCheckPrincipalsOutsideCheckArea (present, but naming other values: resources differ)"}},
		{"the check area's deny on a Resource instead", fakePolicy{doc: edit(`"NotResource":"arn:aws:s3:::media/shotgun/s3proxy-check/*"`, `"Resource":"arn:aws:s3:::media/shotgun/s3proxy-check/*"`)}, true, Fail,
			[]string{"DenyCheckPrincipalsOutsideCheckArea"}},
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
