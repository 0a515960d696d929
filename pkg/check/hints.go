package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
)

// Hints name the likely cause of a failure in the terms an operator deploys
// with: stack parameters (UploadPassthrough, SignedHost, AllowedOrigins,
// RedirectVia, InlineMaxBytes), their S3PROXY_* variables, DNS, certificates,
// security groups, policies. They are plain functions of what was observed,
// so each is tested on its own.

const (
	presignHint = "could not presign with your AWS credentials: check them (aws sts get-caller-identity) and --region"
	noETagHint  = "the upload worked but no ETag header came back: shotgun_api3 and the web uploader need each part's ETag; something in front of S3 strips it"
	bytesHint   = "the bytes differ from the uploaded ones: something between the client and S3 rewrites bodies (a compressing or caching proxy?)"

	largeInlineHint = "the proxy answered a large object itself instead of redirecting it: media bytes go through compute (is --url the old nginx proxy, or another build?)"
	locationHint    = "the redirect's Location is not a usable presigned URL: check S3PROXY_ENDPOINT_URL (the endpoint's path-style base URL)"
	// A URL that signs more than host breaks as soon as a browser or RV
	// adds a header; the Go SDK has regressed on this twice.
	widerMintHint         = "the deployed function mints URLs that grant more than the client's URL: upgrade s3proxy to a build with the mint invariant (README, \"What a redirect may grant\") before switching ShotGrid over"
	signedHeadersHint     = "the minted URL signs more than host, which clients cannot honour: upgrade s3proxy (an SDK presign regression)"
	headHint              = "HEAD did not come back with the object's headers: the function must forward HEAD and keep Content-Length and ETag"
	preflightRedirectHint = "the preflight was redirected, which browsers refuse: the listener rules must send OPTIONS to the function"
)

// netKind classifies a transport error.
func netKind(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &invalidErr):
		return "cert"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return "reset"
	}
	return "other"
}

// proxyNetHint explains why the proxy's own host could not be reached.
func proxyNetHint(err error, host string) string {
	switch netKind(err) {
	case "dns":
		return fmt.Sprintf("cannot resolve %s: check the DNS record for the proxy name (an alias to the load balancer, or to the accelerator in public mode)", host)
	case "cert":
		return fmt.Sprintf("the TLS certificate at %s is not valid for that name or not trusted here: the HTTPS listener's ACM certificate must cover it", host)
	case "refused":
		return fmt.Sprintf("%s refused the connection: check --url's scheme and port (the listener is HTTPS on 443)", host)
	case "timeout":
		return fmt.Sprintf("no answer from %s: the load balancer's security group must admit 443 from this network, and an internal load balancer is reachable only from the studio network (VPN/Direct Connect)", host)
	case "reset":
		return fmt.Sprintf("%s dropped the connection: check the load balancer's idle timeout and anything in between (a corporate proxy? HTTPS_PROXY)", host)
	}
	return fmt.Sprintf("cannot reach %s: check its DNS record, the listener's certificate and the load balancer's security group", host)
}

// pingStatusHint explains a /ping answer other than 200.
func pingStatusHint(status int, location, base string) string {
	switch {
	case status >= 300 && status <= 399 && strings.HasPrefix(base, "http://") && strings.HasPrefix(location, "https://"):
		return "port 80 only redirects to HTTPS: use the https:// URL"
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed, status == http.StatusForbidden, status >= 300 && status <= 399:
		return "/ping is not answered by the proxy function: is --url the S3 Proxy Host Address (the load balancer), not the bucket? Check the listener rules"
	case status == http.StatusBadGateway:
		return "the load balancer got no valid answer from the function: see the function's logs (LambdaUserError / LambdaInternalError)"
	case status == http.StatusServiceUnavailable:
		return "the load balancer has no healthy target: check the function's target group and its invoke permission"
	case status == http.StatusGatewayTimeout:
		return "the function timed out on /ping: see its logs"
	}
	return fmt.Sprintf("/ping answered %d, not 200: is --url the proxy?", status)
}

// signedHostHint is the cause of a SignatureDoesNotMatch on a request S3
// judged with the host the load balancer or the function set.
const signedHostHint = "check the signed host: --signed-host here, and the stack's SignedHost parameter (S3PROXY_SIGNED_HOST), must both be the host ShotGrid signs for; check --region too"

// codeHint explains S3 error codes that mean the same whoever sent the
// request; "" when the code says nothing specific.
func codeHint(code string) string {
	switch code {
	case "SignatureDoesNotMatch":
		return "403 SignatureDoesNotMatch: " + signedHostHint
	case "AuthorizationQueryParametersError", "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
		return code + ": the bucket is in another region than the one signed for: --region (and S3PROXY_REGION) must be the bucket's"
	case "InvalidAccessKeyId", "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
		return code + ": S3 does not accept your credentials: refresh them (aws sso login) or pick another profile"
	case "RequestTimeTooSkewed":
		return "this machine's clock is off: fix its time sync"
	case "NoSuchBucket":
		return "S3 does not know the bucket at the signed host: check --bucket, --signed-host and the stack's SignedHost / S3PROXY_UPSTREAM_URL"
	case "SlowDown":
		return "S3 is throttling: retry later"
	}
	return ""
}

// putHint explains an upload PUT (single or part) answered other than 200.
func putHint(status int, code string) string {
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return "PUT answered 413: UploadPassthrough is off, so uploads go to the function, which takes at most 1 MB; turn UploadPassthrough on"
	case code == "SignatureDoesNotMatch":
		return "403 SignatureDoesNotMatch on PUT through passthrough: " + signedHostHint
	case codeHint(code) != "":
		return codeHint(code)
	case status == http.StatusForbidden:
		return "the upload was refused: the interface endpoint admits the check's writes under <prefix>s3proxy-check/ (use --prefix) by CheckPrincipalArns only, so the role you run the check with must be listed there; your credentials need s3:PutObject; the key must be under KeyPrefixes (S3PROXY_KEY_PREFIXES) either way: the load balancer refuses other writes"
	case status >= 300 && status <= 399:
		return "the PUT was redirected, and clients fail on a redirected PUT (urllib): the UploadPassthrough rule is missing"
	case status == http.StatusMethodNotAllowed:
		return "the proxy refused the PUT: the UploadPassthrough rule is missing"
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return "the load balancer could not get the upload to S3: the IP target group must list the S3 interface endpoint's addresses as healthy, and the endpoint's security group must admit 443 from the load balancer"
	}
	return fmt.Sprintf("the upload answered %d, not 200", status)
}

// readOnlyAcceptedHint explains an upload a read-only check saw accepted.
const readOnlyAcceptedHint = "--read-only checks a stack deployed with ReadOnly=\"true\", which takes no upload; this one took it: deploy it with ReadOnly=\"true\" (the [replica] environment sets it), or run the check without --read-only for a stack that takes uploads"

// readOnlyStackHint explains the read-only refusal of an upload that the
// check expected to be taken.
const readOnlyStackHint = "the stack is read-only (ReadOnly=\"true\"), as Media Replication's replica is: run the check with --read-only (with --stack, its ReadOnly output sets it), which expects uploads refused and writes its test objects directly to S3"

// readOnlyS3Hint explains a read-only check's upload refused by S3
// rather than by the proxy.
const readOnlyS3Hint = "the upload went past the proxy and S3 refused it; a read-only stack's load balancer refuses every upload itself: deploy it with ReadOnly=\"true\""

// readHint explains a read (GET or HEAD) answered with an error.
func readHint(status int, code string) string {
	if h := codeHint(code); h != "" {
		return h
	}
	switch {
	case code == "NoSuchKey", status == http.StatusNotFound:
		return "the object just uploaded was not found by the read: the function's S3PROXY_UPSTREAM_URL / S3PROXY_SIGNED_HOST address another bucket than the uploads"
	case status == http.StatusForbidden:
		return "the read was refused: the key must be under S3PROXY_KEY_PREFIXES (use --prefix), the bucket policy must admit the function's VPC (aws:SourceVpc) and endpoint, and its DenyVpcReadsExceptListedPrincipals refuses reads signed by anyone it does not list: list the role you run the check with in CheckPrincipalArns, and apply the RecommendedBucketPolicy output that names it"
	case status == http.StatusBadGateway:
		return "the load balancer got no valid answer from the function: see its logs (LambdaUserError / LambdaInternalError)"
	case status == http.StatusServiceUnavailable:
		return "the function could not reach S3 in time: check the S3 gateway endpoint, the route tables of the function's subnets and the bucket policy"
	case status == http.StatusGatewayTimeout:
		return "the function timed out: check its path to S3 (gateway endpoint, route tables)"
	case status == http.StatusMethodNotAllowed:
		return "the function refused the method: is --url the proxy?"
	}
	return fmt.Sprintf("the read answered %d", status)
}

// smallRedirectHint: a small object must come back inline.
func smallRedirectHint(size int) string {
	return fmt.Sprintf("a %d-byte object was redirected, not answered inline: InlineMaxBytes (S3PROXY_INLINE_MAX_BYTES) is below that, or --url is not the proxy function", size)
}

// largeStatusHint explains a large GET answered neither 307 nor 200.
func largeStatusHint(status int, code string) string {
	switch {
	case status == http.StatusBadGateway && code == "InternalError":
		return "a large read got 502 InternalError: the function cannot mint redirects without S3PROXY_ENDPOINT_URL (the stack's endpoint)"
	case status == http.StatusBadGateway && code == "":
		return "a large read got the load balancer's 502: the function's answer was over 1 MB or it failed; see its logs (LambdaUserError / LambdaInternalError)"
	}
	return readHint(status, code)
}

// redirectNetHint explains why the 307's target could not be reached.
func redirectNetHint(err error, host string) string {
	if netKind(err) == "cert" {
		return fmt.Sprintf("the certificate at %s is not valid for that name: S3PROXY_ENDPOINT_URL must use the endpoint's own DNS name (bucket.vpce-….s3.<region>.vpce.amazonaws.com)", host)
	}
	return fmt.Sprintf("the 307 points at %s which does not resolve or connect from here: are you on the studio network, or should RedirectVia be proxy?", host)
}

// followHint explains an error from the URL the function minted.
// body is S3's answer: a refusal that names KMS means the object is
// encrypted with a customer-managed key the function's role may not use.
func followHint(status int, code string, body []byte, target *url.URL) string {
	direct := strings.HasPrefix(target.EscapedPath(), "/_direct/")
	switch {
	case status == http.StatusForbidden && (strings.Contains(code, "KMS") || bytes.Contains(bytes.ToLower(body), []byte("kms"))):
		return "S3 refused the minted URL for the object's KMS key: the bucket uses SSE-KMS with a customer-managed key; set the stack's BucketKmsKeyArn to it, and let the proxy's role (output ProxyFunctionRoleArn) use kms:Decrypt in the key policy"
	case direct && (status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout):
		return "the /_direct rule could not reach the endpoint: the IP target group must list the S3 interface endpoint's addresses as healthy"
	case code == "SignatureDoesNotMatch":
		return "S3 refused the minted URL's signature: S3PROXY_ENDPOINT_URL must be the endpoint's DNS name exactly, path-style"
	case status == http.StatusForbidden:
		return "S3 refused the minted URL: the function's role needs s3:GetObject on this prefix, the interface endpoint's policy must be the stack's (the role's reads under KeyPrefixes), and the bucket policy must admit the interface endpoint (aws:SourceVpce) and list the role (output ProxyFunctionRoleArn) in DenyVpcReadsExceptListedPrincipals"
	case code == "NoSuchBucket", status == http.StatusNotFound:
		return "the minted URL does not address the object: S3PROXY_ENDPOINT_URL must be the endpoint's base URL with no bucket in it (the function adds /<bucket>/<key>)"
	}
	if h := codeHint(code); h != "" {
		return h
	}
	return fmt.Sprintf("the minted URL answered %d", status)
}

// rangeHint explains a Range read answered other than 206.
func rangeHint(status int, code string) string {
	switch status {
	case http.StatusOK:
		return "the Range was ignored and the whole object came back: video seeking breaks; the function must forward Range"
	case http.StatusPartialContent:
		return "the 206 covers another range than asked: the function must pass S3's Content-Range on"
	case http.StatusRequestedRangeNotSatisfiable:
		return "416 for a range inside the object: the function replaced the client's Range"
	}
	return readHint(status, code)
}

// originRefusedHint: the configured origin's preflight was refused.
func originRefusedHint(origin string) string {
	return fmt.Sprintf("the preflight for %s was refused: add it to AllowedOrigins (S3PROXY_ALLOWED_ORIGINS), exactly, or, when that is empty, to the bucket's CORS rules", origin)
}

// foreignAllowedHint: any origin may upload.
func foreignAllowedHint(allowOrigin string) string {
	if allowOrigin == "*" {
		return "every origin is allowed (*): list only the ShotGrid site in AllowedOrigins or the bucket's CORS rules"
	}
	return "a foreign origin was allowed: AllowedOrigins (or the bucket's CORS rules) must list the ShotGrid site only"
}

// notRefusedHint explains a bad URL that was not refused with a plain 403.
func notRefusedHint(status int, location bool) string {
	switch {
	case location:
		return "the proxy redirected a request whose signature S3 had not accepted: do not switch over; the function must let S3 judge the client's signature before it mints a URL"
	case status >= 200 && status <= 299:
		return "the object was served without a valid signature: is the bucket public, or does something sign requests on the client's behalf?"
	}
	return readHint(status, "")
}

// unlistedHint explains an unlisted principal's signature that was not
// refused with a plain 403.
func unlistedHint(status int, location bool) string {
	const policy = "the bucket policy must hold DenyVpcReadsExceptListedPrincipals from the stack's RecommendedBucketPolicy output, and this principal must be in none of its lists (ShotGridPrincipalArns, OtherReaderArns, CheckPrincipalArns): apply the output as docs/deploy.md §5 says"
	switch {
	case location:
		return "the proxy redirected a read signed by a principal that is not ShotGrid's, so anyone with read credentials can read through it: " + policy
	case status >= 200 && status <= 299:
		return "a read signed by a principal that is not ShotGrid's was served: " + policy
	}
	return readHint(status, "")
}

const (
	unlistedCredentialsHint = "check --unlisted-profile: the profile must exist and hold usable credentials (aws sso login --profile …)"
	unlistedSameHint        = "--unlisted-profile must sign as another principal than the check itself: one that may read the bucket by IAM but is not in ShotGridPrincipalArns, OtherReaderArns or CheckPrincipalArns"
)

// s3Hint explains an error of a direct S3 call; perm names the permission
// it needs.
func s3Hint(err error, perm string) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		if code == "AccessDenied" || code == "Forbidden" {
			return fmt.Sprintf("your credentials may not %s on the bucket, or the bucket policy refuses requests from where you are: use credentials the policy admits", perm)
		}
		if h := codeHint(code); h != "" {
			return h
		}
		return "S3 answered " + code
	}
	msg := err.Error()
	if strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS") || strings.Contains(msg, "failed to refresh cached credentials") {
		return "no usable AWS credentials: set AWS_PROFILE, or run aws sso login"
	}
	return "cannot reach S3 directly: check --s3-endpoint (for a local S3) or this machine's network"
}

// completeHint explains a failed CompleteMultipartUpload.
func completeHint(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "InvalidPart" || apiErr.ErrorCode() == "InvalidPartOrder") {
		return "S3 did not accept the part ETags the proxy returned: something in between alters the ETag header"
	}
	return s3Hint(err, "s3:PutObject")
}

func cleanupHint(folder string) string {
	return fmt.Sprintf("could not remove the test objects: your credentials need s3:DeleteObject and s3:AbortMultipartUpload; remove %s by hand", folder)
}
