package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/mediaisolation/s3proxy/pkg/config"
)

// This file is the one place the mint meets the AWS SDK: the SDK's bare
// SigV4 signer, with S3's URL rules applied here, in one function (Sign).
// The S3 presign client did the same work through its whole middleware stack
// (endpoint rules, about fifty steps) on every call; its URL is the reference
// the tests hold this one to, byte for byte. The rest of the package speaks
// of a SignRequest and checks the URL that comes back against the grant
// (admits), trusting neither this file nor the SDK.

// unsignedPayload is what a presigned S3 URL signs in place of a body hash.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
const unsignedPayload = "UNSIGNED-PAYLOAD"

// v4Signer mints with v4.Signer.PresignHTTP, path-style against the VPC
// endpoint (one host, covered by the endpoint's certificate).
type v4Signer struct {
	signer *v4.Signer
	creds  aws.CredentialsProvider
	region string
	scheme string
	host   string
	// base is the endpoint's own path, escaped, without a trailing slash.
	base string
}

// NewSigner returns the signer for redirects. It signs with awsCfg's
// credentials, through a cache (aws.Config's own provider already is one),
// so a mint costs no credential lookup once they are known.
func NewSigner(awsCfg aws.Config, cfg *config.Config) Signer {
	creds := awsCfg.Credentials
	if _, cached := creds.(*aws.CredentialsCache); creds != nil && !cached {
		creds = aws.NewCredentialsCache(creds)
	}
	s := &v4Signer{
		// S3 signs the URI path as sent, not escaped once more: the path
		// is escaped here, once, by S3's rules (escapeS3).
		// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		creds:  creds,
		region: cfg.Region,
	}
	if e := cfg.EndpointURL; e != nil {
		s.scheme, s.host, s.base = e.Scheme, e.Host, strings.TrimSuffix(e.EscapedPath(), "/")
	}
	return s
}

// Sign presigns a GET of req's object at the instant at, valid for ttl. The
// URL rules are S3's, as its presign client applies them:
//
//   - path-style: <endpoint>/<bucket>/<key>, the key escaped once, every byte
//     but the unreserved ones (A-Z a-z 0-9 - . _ ~) and '/' percent-encoded,
//     and signed as it stands (so "a b+c%" is "a%20b%2Bc%25", and "//" and
//     ".." are kept);
//   - the query: req.Query's parameters, x-id=GetObject (S3 ignores it; the
//     presign client adds it, and keeping it keeps the URL the same),
//     X-Amz-Expires, and X-Amz-Security-Token when the credentials carry
//     one;
//   - the headers: req.Header's. Those S3 requires as headers (Range, If-*,
//     the SSE-C ones) stay signed headers, the client sending them; the
//     other x-amz-* ones (x-amz-checksum-mode, x-amz-request-payer,
//     x-amz-expected-bucket-owner) the SDK's signer hoists into the signed
//     query, where S3 honours them;
//   - UNSIGNED-PAYLOAD for the body.
func (s *v4Signer) Sign(ctx context.Context, req SignRequest, ttl time.Duration, at time.Time) (string, http.Header, error) {
	if s.creds == nil || s.host == "" {
		return "", nil, errors.New("no credentials or endpoint to sign with")
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", nil, err
	}
	path := make([]byte, 0, 2+len(s.base)+len(req.Bucket)+3*len(req.Key))
	path = append(path, "//"...)
	path = append(path, s.host...)
	path = append(path, s.base...)
	path = append(path, '/')
	path = escapeS3(path, req.Bucket, false)
	path = append(path, '/')
	path = escapeS3(path, req.Key, true)

	q := make(url.Values, len(req.Query)+2)
	for k, vs := range req.Query {
		q[k] = vs
	}
	q["x-id"] = []string{"GetObject"}
	q["X-Amz-Expires"] = []string{strconv.FormatInt(int64(ttl/time.Second), 10)}
	hdr := make(http.Header, len(req.Header))
	for k, vs := range req.Header {
		// The signer's hoisting rules match canonical names only.
		hdr[http.CanonicalHeaderKey(k)] = vs
	}
	r := &http.Request{
		Method: http.MethodGet,
		URL:    &url.URL{Scheme: s.scheme, Host: s.host, Opaque: string(path), RawQuery: q.Encode()},
		Host:   s.host,
		Header: hdr,
	}
	return s.signer.PresignHTTP(ctx, creds, r, unsignedPayload, "s3", s.region, at)
}

// escapeS3 appends s to dst escaped as S3 escapes a URI path: every byte
// but the unreserved ones percent-encoded with upper-case hex, and '/' kept
// where slash says so (in a key) and encoded elsewhere (a bucket).
func escapeS3(dst []byte, s string, slash bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && slash:
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}
