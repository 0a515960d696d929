package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/s3auth"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// The mint invariant. The function signs URLs with its own role, which may
// read every object under the allowed prefixes; the client's URL may grant
// far less. So a minted URL must grant no more than the client's did, and
// this file is the one place that decides it:
//
//  1. Only a plain GetObject is minted: the client's query holds nothing but
//     the query-auth parameters, versionId, partNumber, the response-*
//     overrides and x-id=GetObject. Anything else names a subresource
//     (tagging, acl, attributes, uploadId, …) or something S3 may add later.
//  2. The minted URL names the same bucket, key, version and part, with the
//     same overrides, byte for byte.
//  3. Every header the client's signature covers beyond host is carried into
//     the minted URL, signed, with the value the client sent, so that S3
//     enforces it again. For SigV2 URLs, which sign every x-amz-* header
//     sent and no Range or If-* header, those are the x-amz-* headers.
//  4. It expires no later than the client's URL.
//
// grantFor derives the grant from the client's request alone; mint asks the
// SDK for a URL and then checks the URL itself against the grant, so that
// neither a mistake here nor an SDK regression can widen what is handed out.
// Where the grant cannot be expressed, or the URL does not match it, the
// answer is ErrNotMintable, never a 307.

// grant is what a minted URL may allow.
type grant struct {
	key string
	// query holds the carried parameters with the client's exact values.
	query url.Values
	// headers holds the covered headers, lower-case, with the client's
	// values.
	headers map[string]string
	// notAfter is the client URL's expiry.
	notAfter time.Time
}

// authParams are the query-auth parameters of SigV4 and SigV2 URLs; they
// authenticate the request and select nothing.
var authParams = map[string]bool{
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
	"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
	"AWSAccessKeyId": true, "Expires": true, "Signature": true, "x-amz-security-token": true,
}

// carriedParams select the bytes or shape the response of a GetObject, and
// are carried into the minted URL unchanged.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
var carriedParams = map[string]func(*s3.GetObjectInput, string){
	"versionId":                    func(in *s3.GetObjectInput, v string) { in.VersionId = aws.String(v) },
	"partNumber":                   setPartNumber,
	"response-cache-control":       func(in *s3.GetObjectInput, v string) { in.ResponseCacheControl = aws.String(v) },
	"response-content-disposition": func(in *s3.GetObjectInput, v string) { in.ResponseContentDisposition = aws.String(v) },
	"response-content-encoding":    func(in *s3.GetObjectInput, v string) { in.ResponseContentEncoding = aws.String(v) },
	"response-content-language":    func(in *s3.GetObjectInput, v string) { in.ResponseContentLanguage = aws.String(v) },
	"response-content-type":        func(in *s3.GetObjectInput, v string) { in.ResponseContentType = aws.String(v) },
	"response-expires":             setResponseExpires,
}

// carriedHeaders are the GetObject request headers a minted URL can sign.
// A covered header outside this list cannot be carried, so nothing is
// minted for it.
var carriedHeaders = map[string]func(*s3.GetObjectInput, string){
	"range":               func(in *s3.GetObjectInput, v string) { in.Range = aws.String(v) },
	"if-match":            func(in *s3.GetObjectInput, v string) { in.IfMatch = aws.String(v) },
	"if-none-match":       func(in *s3.GetObjectInput, v string) { in.IfNoneMatch = aws.String(v) },
	"if-modified-since":   setTime(func(in *s3.GetObjectInput, t time.Time) { in.IfModifiedSince = aws.Time(t) }),
	"if-unmodified-since": setTime(func(in *s3.GetObjectInput, t time.Time) { in.IfUnmodifiedSince = aws.Time(t) }),
	"x-amz-server-side-encryption-customer-algorithm": func(in *s3.GetObjectInput, v string) { in.SSECustomerAlgorithm = aws.String(v) },
	"x-amz-server-side-encryption-customer-key":       func(in *s3.GetObjectInput, v string) { in.SSECustomerKey = aws.String(v) },
	"x-amz-server-side-encryption-customer-key-md5":   func(in *s3.GetObjectInput, v string) { in.SSECustomerKeyMD5 = aws.String(v) },
	"x-amz-checksum-mode":                             func(in *s3.GetObjectInput, v string) { in.ChecksumMode = types.ChecksumMode(v) },
	"x-amz-request-payer":                             func(in *s3.GetObjectInput, v string) { in.RequestPayer = types.RequestPayer(v) },
	"x-amz-expected-bucket-owner":                     func(in *s3.GetObjectInput, v string) { in.ExpectedBucketOwner = aws.String(v) },
}

// errBadMint is a minted URL that does not match its grant. The reason is
// for the log; it names parameters, never their values.
type errBadMint struct{ reason string }

func (e errBadMint) Error() string { return "minted URL breaks the mint invariant: " + e.reason }

// plainGetObject reports whether a query names a GetObject and nothing else
// (clause 1). It is also what decides whether the proxy may add its probe
// Range: a subresource is not an object read.
func plainGetObject(q url.Values) bool {
	for k, vs := range q {
		switch {
		case authParams[k]:
		case carriedParams[k] != nil:
		case k == "x-id" && len(vs) == 1 && vs[0] == "GetObject":
		default:
			return false
		}
		if len(vs) != 1 {
			return false
		}
	}
	return true
}

// coveredHeaders lists the headers the client's signature covers beyond
// host, lower-case.
func coveredHeaders(a *s3auth.Auth, r *http.Request) []string {
	var names []string
	switch a.Version {
	case s3auth.V4:
		for _, h := range a.SignedHeaders {
			if h != "host" {
				names = append(names, h)
			}
		}
	case s3auth.V2:
		// SigV2 signs every x-amz-* header the request carries
		// (CanonicalizedAmzHeaders), and Range and If-* not at all.
		// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html
		for k := range r.Header {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
				names = append(names, lk)
			}
		}
		slices.Sort(names)
	}
	return names
}

// grantFor derives the grant of the client's request (clauses 1, 3 and 4),
// or ErrNotMintable.
func grantFor(sr *signedRequest, r *http.Request) (*grant, error) {
	if sr == nil || sr.auth == nil || !plainGetObject(sr.query) {
		return nil, s3error.ErrNotMintable
	}
	g := &grant{key: sr.key, query: url.Values{}, headers: map[string]string{}, notAfter: sr.auth.ExpiresAt}
	for k, vs := range sr.query {
		if carriedParams[k] != nil {
			g.query[k] = vs
		}
	}
	for _, name := range coveredHeaders(sr.auth, r) {
		vs := r.Header.Values(name)
		if carriedHeaders[name] == nil || len(vs) != 1 {
			return nil, s3error.ErrNotMintable
		}
		g.headers[name] = vs[0]
	}
	return g, nil
}

// input is the GetObject the grant allows (clause 2).
func (g *grant) input(bucket string) *s3.GetObjectInput {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(g.key)}
	for k, vs := range g.query {
		carriedParams[k](in, vs[0])
	}
	for name, v := range g.headers {
		carriedHeaders[name](in, v)
	}
	return in
}

// admits checks a minted URL against the grant: it must be a GET of the
// same object on the endpoint, carry exactly the grant's parameters, sign
// host plus exactly the grant's headers with the same values (or carry an
// x-amz-* one as a signed query parameter, as the SDK hoists some), and
// expire no later than the client's URL.
func (g *grant) admits(m *v4.PresignedHTTPRequest, endpoint *url.URL, bucket string) error {
	if m.Method != http.MethodGet {
		return errBadMint{"method " + m.Method}
	}
	u, err := url.Parse(m.URL)
	if err != nil {
		return errBadMint{"unparsable URL"}
	}
	if u.Scheme != endpoint.Scheme || u.Host != endpoint.Host || u.User != nil || u.Fragment != "" {
		return errBadMint{"not the endpoint"}
	}
	wantPath := strings.TrimSuffix(endpoint.Path, "/") + "/" + bucket + "/" + g.key
	if path, err := url.PathUnescape(u.EscapedPath()); err != nil || path != wantPath {
		return errBadMint{"another object"}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errBadMint{"unparsable query"}
	}
	hoisted := map[string]bool{}
	for k, vs := range q {
		lk := strings.ToLower(k)
		switch {
		case len(vs) != 1:
			return errBadMint{"repeated parameter " + k}
		case authParams[k]:
		case k == "x-id" && vs[0] == "GetObject":
		case carriedParams[k] != nil:
			if want, ok := g.query[k]; !ok || want[0] != vs[0] {
				return errBadMint{"parameter " + k + " differs from the client's"}
			}
		case strings.HasPrefix(lk, "x-amz-") && g.headers[lk] != "" && g.headers[lk] == vs[0]:
			// S3 honours x-amz-* headers sent as signed query parameters,
			// and no others: a Range moved to the query binds nothing.
			hoisted[lk] = true
		default:
			return errBadMint{"extra parameter " + k}
		}
	}
	for k := range g.query {
		if _, ok := q[k]; !ok {
			return errBadMint{"parameter " + k + " dropped"}
		}
	}
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	if !slices.Contains(signed, "host") {
		return errBadMint{"host not signed"}
	}
	for _, h := range signed {
		if h == "host" {
			continue
		}
		want, ok := g.headers[h]
		if !ok {
			return errBadMint{"signs " + h + ", which the client's URL did not"}
		}
		if got := m.SignedHeader.Values(h); len(got) != 1 || got[0] != want {
			return errBadMint{"signs " + h + " with another value"}
		}
	}
	for h := range g.headers {
		if !slices.Contains(signed, h) && !hoisted[h] {
			return errBadMint{"drops " + h + ", which the client's URL signed"}
		}
	}
	at, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || err2 != nil || secs < 1 || at.Add(time.Duration(secs)*time.Second).After(g.notAfter) {
		return errBadMint{"outlives the client's URL"}
	}
	return nil
}

// mint returns a URL for exactly what the client's URL granted, or an
// error; it is the only caller of the Presigner.
func (h *Handler) mint(ctx context.Context, r *http.Request, sr *signedRequest) (string, error) {
	g, err := grantFor(sr, r)
	if err != nil {
		return "", err
	}
	if h.presigner == nil || h.cfg.EndpointURL == nil {
		return "", s3error.ErrNoRedirect
	}
	now := h.now()
	ttl, err := h.redirectTTL(ctx, sr, now)
	if err != nil {
		return "", err
	}
	minted, err := h.presigner.PresignGetObject(ctx, g.input(h.cfg.Bucket), s3.WithPresignExpires(ttl), signingAt(now))
	if err != nil {
		h.log.ErrorContext(ctx, "presign failed", "key", sr.key, "error", err.Error())
		return "", s3error.ErrInternal
	}
	if err := g.admits(minted, h.cfg.EndpointURL, h.cfg.Bucket); err != nil {
		var bad errBadMint
		if errors.As(err, &bad) {
			h.log.ErrorContext(ctx, "refusing to redirect", "key", sr.key, "reason", bad.reason)
		}
		return "", s3error.ErrNotMintable
	}
	return minted.URL, nil
}

func setPartNumber(in *s3.GetObjectInput, v string) {
	// A value that does not survive the round trip ("01", "+1") is left
	// out, and admits then refuses the URL for dropping it.
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 && strconv.FormatInt(n, 10) == v {
		in.PartNumber = aws.Int32(int32(n))
	}
}

func setResponseExpires(in *s3.GetObjectInput, v string) {
	if t, err := http.ParseTime(v); err == nil {
		in.ResponseExpires = aws.Time(t)
	}
}

func setTime(set func(*s3.GetObjectInput, time.Time)) func(*s3.GetObjectInput, string) {
	return func(in *s3.GetObjectInput, v string) {
		if t, err := http.ParseTime(v); err == nil {
			set(in, t)
		}
	}
}

// clockSigner signs at the instant the TTL was measured from, so that the
// minted expiry is exactly the one computed against the client's URL.
type clockSigner struct {
	inner s3.HTTPPresignerV4
	at    time.Time
}

func (c clockSigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return c.inner.PresignHTTP(ctx, creds, r, payloadHash, service, region, c.at, optFns...)
}

func signingAt(t time.Time) func(*s3.PresignOptions) {
	return func(o *s3.PresignOptions) {
		if o.Presigner != nil {
			o.Presigner = clockSigner{inner: o.Presigner, at: t}
		}
	}
}
