package check

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
)

// Errors as net/http returns them: wrapped in *url.Error, then *net.OpError.
func dialErr(inner error) error {
	return &url.Error{Op: "Get", URL: "https://bucket.vpce-0abc.s3.us-east-1.vpce.amazonaws.com/k?X-Amz-Signature=secret",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: inner}}
}

func TestNetKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{dialErr(&net.DNSError{Err: "no such host", Name: "bucket.vpce-0abc.s3.us-east-1.vpce.amazonaws.com", IsNotFound: true}), "dns"},
		{dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "refused"},
		{&url.Error{Op: "Get", URL: "https://p", Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "p"}}, "cert"},
		{&url.Error{Op: "Get", URL: "https://p", Err: x509.UnknownAuthorityError{}}, "cert"},
		{fmt.Errorf("GET /ping: %w", context.DeadlineExceeded), "timeout"},
		{dialErr(&timeoutErr{}), "timeout"},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), "reset"},
		{dialErr(os.NewSyscallError("read", syscall.ECONNRESET)), "reset"},
		{errors.New("something else"), "other"},
	} {
		if got := netKind(tc.err); got != tc.want {
			t.Errorf("netKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// Each hint the issue names, selected from what was observed.
func TestHints(t *testing.T) {
	const vpce = "bucket.vpce-0abc.s3.us-east-1.vpce.amazonaws.com"
	for _, tc := range []struct {
		name string
		got  string
		want []string
	}{
		{"redirect target does not resolve", redirectNetHint(dialErr(&net.DNSError{Err: "no such host", Name: vpce}), vpce),
			[]string{"the 307 points at " + vpce + " which does not resolve or connect from here: are you on the studio network, or should RedirectVia be proxy?"}},
		{"redirect target does not connect", redirectNetHint(dialErr(&timeoutErr{}), vpce),
			[]string{"does not resolve or connect", "RedirectVia be proxy"}},
		{"redirect target with the wrong certificate", redirectNetHint(&url.Error{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: vpce}}, vpce),
			[]string{"S3PROXY_ENDPOINT_URL", "DNS name"}},
		{"PUT 413", putHint(413, ""), []string{"PUT answered 413: UploadPassthrough is off"}},
		{"PUT signature", putHint(403, "SignatureDoesNotMatch"), []string{"403 SignatureDoesNotMatch on PUT through passthrough: check the signed host", "SignedHost", "--signed-host"}},
		{"PUT region", putHint(400, "AuthorizationQueryParametersError"), []string{"--region"}},
		{"PUT refused", putHint(403, "AccessDenied"), []string{"CheckPrincipalArns", "s3proxy-check/", "--prefix", "S3PROXY_KEY_PREFIXES"}},
		{"PUT redirected", putHint(307, ""), []string{"redirected", "UploadPassthrough"}},
		{"PUT to a dead target group", putHint(502, ""), []string{"IP target group", "security group"}},
		{"ping DNS", proxyNetHint(dialErr(&net.DNSError{Err: "no such host", Name: "s3-proxy.studio.com"}), "s3-proxy.studio.com"),
			[]string{"cannot resolve s3-proxy.studio.com", "DNS record"}},
		{"ping certificate", proxyNetHint(&url.Error{Err: x509.UnknownAuthorityError{}}, "s3-proxy.studio.com"), []string{"certificate", "ACM"}},
		{"ping timeout", proxyNetHint(dialErr(&timeoutErr{}), "s3-proxy.studio.com"), []string{"security group", "studio network"}},
		{"ping refused", proxyNetHint(dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "s3-proxy.studio.com:80"), []string{"refused"}},
		{"ping over http", pingStatusHint(301, "https://s3-proxy.studio.com/ping", "http://s3-proxy.studio.com"), []string{"https://"}},
		{"ping 404", pingStatusHint(404, "", "https://x"), []string{"S3 Proxy Host Address"}},
		{"ping 503", pingStatusHint(503, "", "https://x"), []string{"healthy target"}},
		{"small GET redirected", smallRedirectHint(2048), []string{"2048-byte", "InlineMaxBytes", "S3PROXY_INLINE_MAX_BYTES"}},
		{"read refused by prefix", readHint(403, "AccessDenied"), []string{"S3PROXY_KEY_PREFIXES", "--prefix"}},
		{"read refused for the signer", readHint(403, "AccessDenied"), []string{"DenyVpcReadsExceptListedPrincipals", "CheckPrincipalArns", "RecommendedBucketPolicy"}},
		{"unlisted principal redirected", unlistedHint(307, true), []string{"redirected", "DenyVpcReadsExceptListedPrincipals", "OtherReaderArns"}},
		{"unlisted principal served", unlistedHint(200, false), []string{"was served", "RecommendedBucketPolicy"}},
		{"read signature", readHint(403, "SignatureDoesNotMatch"), []string{"signed host"}},
		{"read upstream down", readHint(503, "ServiceUnavailable"), []string{"gateway endpoint"}},
		{"large GET without endpoint", largeStatusHint(502, "InternalError"), []string{"S3PROXY_ENDPOINT_URL"}},
		{"large GET, ALB 502", largeStatusHint(502, ""), []string{"1 MB"}},
		{"minted URL refused", followHint(403, "AccessDenied", nil, &url.URL{Path: "/media/k"}), []string{"s3:GetObject", "aws:SourceVpce", "interface endpoint's policy"}},
		{"minted URL refused for its KMS key", followHint(403, "AccessDenied",
			[]byte("<Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::1:assumed-role/p is not authorized to perform: kms:Decrypt</Message></Error>"),
			&url.URL{Path: "/media/k"}), []string{"BucketKmsKeyArn", "kms:Decrypt"}},
		{"KMS error code", followHint(403, "KMS.DisabledException", nil, &url.URL{Path: "/media/k"}), []string{"BucketKmsKeyArn"}},
		{"/_direct target group down", followHint(502, "", nil, &url.URL{Path: "/_direct/media/k"}), []string{"/_direct", "IP target group"}},
		{"preflight refused", originRefusedHint("https://studio.shotgrid.autodesk.com"), []string{"https://studio.shotgrid.autodesk.com", "AllowedOrigins", "bucket's CORS"}},
		{"every origin allowed", foreignAllowedHint("*"), []string{"every origin"}},
		{"tampered URL redirected", notRefusedHint(307, true), []string{"do not switch over"}},
		{"tampered URL served", notRefusedHint(200, false), []string{"public"}},
		{"direct S3 refused", s3Hint(&smithy.GenericAPIError{Code: "AccessDenied"}, "s3:PutObject"), []string{"s3:PutObject"}},
		{"direct S3 expired credentials", s3Hint(&smithy.GenericAPIError{Code: "ExpiredToken"}, "s3:PutObject"), []string{"aws sso login"}},
		{"direct S3 unreachable", s3Hint(dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "s3:PutObject"), []string{"--s3-endpoint"}},
		{"parts ETags altered", completeHint(&smithy.GenericAPIError{Code: "InvalidPart"}), []string{"ETag"}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(tc.got, w) {
				t.Errorf("%s: hint %q lacks %q", tc.name, tc.got, w)
			}
		}
		if strings.Contains(tc.got, "secret") {
			t.Errorf("%s: hint %q carries the URL's query", tc.name, tc.got)
		}
	}
}

func TestUnwrapURLErrorDropsTheQuery(t *testing.T) {
	err := unwrapURLError(dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)))
	if strings.Contains(err.Error(), "X-Amz-Signature") {
		t.Errorf("%v", err)
	}
	if netKind(err) != "refused" {
		t.Errorf("unwrapping lost the cause: %v", err)
	}
}
