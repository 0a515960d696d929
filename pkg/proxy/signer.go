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
		// Other services sign each path segment escaped twice; S3 signs it
		// escaped once, as sent. The path is escaped here, once, by S3's
		// rules (escapeS3), and the signer takes it as it stands.
		// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
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
//   - the query: req.Query's parameters, X-Amz-Expires, and
//     X-Amz-Security-Token when the credentials carry one. The presign
//     client also added x-id=GetObject, an SDK routing hint S3 ignores; it
//     is left out, so the URL carries nothing S3 did not check but its
//     authentication (and it costs four allocations per mint);
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
	// The request is built as the signer reads it: the path escaped once,
	// in URL.Opaque ("//host/path", which the signer and URL.String take as
	// it stands), and the query as a raw string the signer parses. Both are
	// written into one buffer.
	size := 2 + len(s.host) + len(s.base) + 2 + 3*len(req.Bucket) + 3*len(req.Key) + 64
	for k, vs := range req.Query {
		for _, v := range vs {
			size += 2 + 3*len(k) + 3*len(v)
		}
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString("//")
	b.WriteString(s.host)
	b.WriteString(s.base)
	b.WriteByte('/')
	escapeS3(&b, req.Bucket, false)
	b.WriteByte('/')
	escapeS3(&b, req.Key, true)
	pathEnd := b.Len()
	var n [20]byte
	b.WriteString("X-Amz-Expires=")
	b.Write(strconv.AppendInt(n[:0], int64(ttl/time.Second), 10))
	for k, vs := range req.Query {
		for _, v := range vs {
			b.WriteByte('&')
			escapeS3(&b, k, false)
			b.WriteByte('=')
			escapeS3(&b, v, false)
		}
	}
	target := b.String()
	hdr := req.Header
	for k := range req.Header {
		if k != http.CanonicalHeaderKey(k) {
			// The signer's hoisting rules match canonical names only.
			hdr = make(http.Header, len(req.Header))
			for k, vs := range req.Header {
				hdr[http.CanonicalHeaderKey(k)] = vs
			}
			break
		}
	}
	// PresignHTTP signs a clone; neither req nor this request is changed.
	// The request and its URL are one allocation.
	r := &struct {
		req http.Request
		url url.URL
	}{url: url.URL{Scheme: s.scheme, Host: s.host, Opaque: target[:pathEnd], RawQuery: target[pathEnd:]}}
	r.req = http.Request{Method: http.MethodGet, URL: &r.url, Host: s.host, Header: hdr}
	return s.signer.PresignHTTP(ctx, creds, &r.req, unsignedPayload, "s3", s.region, at)
}

// escapeS3 writes s to b escaped as S3 escapes a URI path: every byte but
// the unreserved ones percent-encoded with upper-case hex, and '/' kept
// where slash says so (in a key) and encoded elsewhere (a bucket).
func escapeS3(b *strings.Builder, s string, slash bool) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '/' && slash {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// unreserved reports RFC 3986's unreserved characters, the ones S3 and
// SigV4 never escape.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
