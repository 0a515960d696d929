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
//     same overrides, byte for byte. A path with a literal '+' names no key
//     for certain (S3 may read it as a space), so it is never minted.
//  3. Every header the client's signature covers beyond host is carried into
//     the minted URL, signed, with the value S3 checked: the one in the
//     request the proxy sent upstream, which must also be the one the
//     client sent, and must not be empty. S3 enforces it again on the
//     minted URL. For SigV2 URLs, which sign every x-amz-* header sent and
//     no Range or If-* header, those are the x-amz-* headers sent.
//  4. It expires no later than the client's URL.
//
// grantFor derives the grant from the request S3 accepted; mint asks the
// Signer for a URL and then checks the URL itself against the grant, so that
// neither a mistake here nor an SDK regression can widen what is handed out.
// Where the grant cannot be expressed, or the URL does not match it, the
// answer is ErrNotMintable, never a 307.

// grant is what a minted URL may allow.
type grant struct {
	key string
	// query holds the carried parameters with the client's exact values.
	query url.Values
	// headers holds the covered headers, lower-case, with the values
	// S3 checked.
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
var carriedParams = map[string]bool{
	"versionId": true, "partNumber": true, "response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "response-content-language": true, "response-content-type": true, "response-expires": true,
}

// carriedHeaders are the GetObject request headers a minted URL can sign.
// A covered header outside this list cannot be carried, so nothing is
// minted for it.
var carriedHeaders = map[string]bool{
	"range": true, "if-match": true, "if-none-match": true, "if-modified-since": true, "if-unmodified-since": true,
	"x-amz-server-side-encryption-customer-algorithm": true, "x-amz-server-side-encryption-customer-key": true,
	"x-amz-server-side-encryption-customer-key-md5": true, "x-amz-checksum-mode": true, "x-amz-request-payer": true,
	"x-amz-expected-bucket-owner": true,
}

// Signer signs the GET a grant allows. It returns the URL and the headers
// it signed; mint then checks both against the grant, trusting neither.
type Signer interface {
	Sign(ctx context.Context, req SignRequest, ttl time.Duration, at time.Time) (signedURL string, signed http.Header, err error)
}

// SignRequest is what a grant asks a Signer for: a GET of Key in Bucket on
// the endpoint, with exactly Query's parameters, signing host and exactly
// Header's headers with their values.
type SignRequest struct {
	Bucket, Key string
	Query       url.Values
	Header      http.Header
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
		case carriedParams[k]:
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
// host, lower-case, in the request sent upstream.
func coveredHeaders(a *s3auth.Auth, sent http.Header) []string {
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
		for k := range sent {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
				names = append(names, lk)
			}
		}
		slices.Sort(names)
	}
	return names
}

// grantFor derives the grant (clauses 1, 3 and 4) from sent, the request S3
// accepted under the client's signature, or answers ErrNotMintable. The
// client's own headers serve only to refuse: a covered header whose value the
// proxy changed on the way (its probe Range, say) grants nothing, since S3
// never checked the client's value.
func grantFor(sr *signedRequest, client http.Header, sent *http.Request) (grant, error) {
	if sr == nil || sr.auth == nil || sent == nil || !plainGetObject(sr.query) || sent.URL.RawQuery != sr.rawQuery {
		return grant{}, s3error.ErrNotMintable
	}
	if sr.plusInPath {
		// The key S3 served is not known for certain: S3 is reported to
		// read a literal '+' in a path as a space, as in a form, so a URL
		// signed for "a b" would be served for the path "a+b" while the
		// proxy's key, taken literally, is "a+b", another object. SDKs and
		// browsers send a '+' in a key as %2B, so nothing a client really
		// sends is lost.
		return grant{}, s3error.ErrNotMintable
	}
	g := grant{key: sr.key, notAfter: sr.auth.ExpiresAt}
	for k, vs := range sr.query {
		if carriedParams[k] {
			if g.query == nil {
				g.query = make(url.Values, len(carriedParams))
			}
			g.query[k] = vs
		}
	}
	for _, name := range coveredHeaders(sr.auth, sent.Header) {
		vs := sent.Header.Values(name)
		if !carriedHeaders[name] || len(vs) != 1 || strings.TrimSpace(vs[0]) == "" || !slices.Equal(client.Values(name), vs) {
			return grant{}, s3error.ErrNotMintable
		}
		if g.headers == nil {
			g.headers = map[string]string{}
		}
		g.headers[name] = vs[0]
	}
	return g, nil
}

// request is the GET the grant allows (clause 2). Its Query is the grant's
// own: a Signer reads it and must not change it.
func (g *grant) request(bucket string) SignRequest {
	req := SignRequest{Bucket: bucket, Key: g.key, Query: g.query}
	if len(g.headers) > 0 {
		req.Header = make(http.Header, len(g.headers))
		for name, v := range g.headers {
			req.Header[http.CanonicalHeaderKey(name)] = []string{v}
		}
	}
	return req
}

// admits checks a minted URL against the grant: it must be a GET of the
// same object on the endpoint, carry exactly the grant's parameters, sign
// host plus exactly the grant's headers with the same values (or carry an
// x-amz-* one as a signed query parameter, as the SDK hoists some), and
// expire no later than the client's URL.
//
// It reads the URL in the one form the signer writes, and refuses any
// other: scheme://host/path?query with no fragment, the path and each query
// name and value holding only unreserved bytes and upper-case %XX escapes of
// bytes that are not (SigV4's canonical encoding). In that form there is one
// way to read each part, so every client reads the URL as this check does,
// and the check needs no parsed copy of it.
func (g *grant) admits(signedURL string, signedHeader http.Header, endpoint *url.URL, bucket string) error {
	rest, ok := strings.CutPrefix(signedURL, endpoint.Scheme)
	if ok {
		rest, ok = strings.CutPrefix(rest, "://")
	}
	if ok {
		rest, ok = strings.CutPrefix(rest, endpoint.Host)
	}
	if !ok || !strings.HasPrefix(rest, "/") {
		return errBadMint{"not the endpoint"}
	}
	path, query, _ := strings.Cut(rest, "?")
	if !canonicalEscape(path, true) {
		return errBadMint{"unparsable URL"}
	}
	if !decodesTo(path, strings.TrimSuffix(endpoint.Path, "/"), "/", bucket, "/", g.key) {
		return errBadMint{"another object"}
	}
	// Names are compared as written: in the canonical form a name has one
	// spelling, and every name this check knows is unreserved.
	var seen [32]string
	var hoisted [8]string
	nSeen, nHoisted := 0, 0
	var signedList, date, expires string
	for pair := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		switch {
		case !canonicalEscape(k, false) || !canonicalEscape(v, false):
			return errBadMint{"unparsable query"}
		case slices.Contains(seen[:nSeen], k):
			return errBadMint{"repeated parameter " + k}
		case nSeen == len(seen):
			return errBadMint{"too many parameters"}
		}
		seen[nSeen] = k
		nSeen++
		switch {
		case authParams[k]:
			switch k {
			case "X-Amz-SignedHeaders":
				signedList = v
			case "X-Amz-Date":
				date = v
			case "X-Amz-Expires":
				expires = v
			}
		case carriedParams[k]:
			if want, ok := g.query[k]; !ok || !decodesTo(v, want[0]) {
				return errBadMint{"parameter " + k + " differs from the client's"}
			}
		case hasPrefixFold(k, "x-amz-"):
			// S3 honours x-amz-* headers sent as signed query parameters,
			// and no others: a Range moved to the query binds nothing.
			h := ""
			for name := range g.headers {
				if strings.EqualFold(name, k) {
					h = name
				}
			}
			if h == "" || !decodesTo(v, g.headers[h]) || nHoisted == len(hoisted) {
				return errBadMint{"extra parameter " + k}
			}
			hoisted[nHoisted] = h
			nHoisted++
		default:
			return errBadMint{"extra parameter " + k}
		}
	}
	for k := range g.query {
		if !slices.Contains(seen[:nSeen], k) {
			return errBadMint{"parameter " + k + " dropped"}
		}
	}
	// The signed-header list is ';'-separated, which the canonical form
	// writes %3B; header names are unreserved.
	if !listed(signedList, "host") {
		return errBadMint{"host not signed"}
	}
	for h := range strings.SplitSeq(signedList, "%3B") {
		if h == "host" {
			continue
		}
		want, ok := g.headers[h]
		if !ok {
			return errBadMint{"signs " + h + ", which the client's URL did not"}
		}
		if got := signedHeader.Values(h); len(got) != 1 || got[0] != want {
			return errBadMint{"signs " + h + " with another value"}
		}
	}
	for h := range g.headers {
		if !slices.Contains(hoisted[:nHoisted], h) && !listed(signedList, h) {
			return errBadMint{"drops " + h + ", which the client's URL signed"}
		}
	}
	at, err := time.Parse("20060102T150405Z", date)
	secs, err2 := strconv.Atoi(expires)
	if err != nil || err2 != nil || secs < 1 || at.Add(time.Duration(secs)*time.Second).After(g.notAfter) {
		return errBadMint{"outlives the client's URL"}
	}
	return nil
}

// listed reports whether h is one of the %3B-separated names in list.
func listed(list, h string) bool {
	for name := range strings.SplitSeq(list, "%3B") {
		if name == h {
			return true
		}
	}
	return false
}

// canonicalEscape reports whether s is in SigV4's canonical encoding: every
// byte unreserved (or '/', where slash allows it), or a %XX escape, in
// upper-case hex, of a byte that is not.
func canonicalEscape(s string, slash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c), c == '/' && slash:
		case c == '%' && i+2 < len(s) && upperHex(s[i+1]) && upperHex(s[i+2]):
			if d := unhex(s[i+1])<<4 | unhex(s[i+2]); unreserved(d) || d == '/' && slash {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// decodesTo reports whether s, in the canonical encoding, decodes to the
// concatenation of parts.
func decodesTo(s string, parts ...string) bool {
	i := 0
	for _, p := range parts {
		for j := 0; j < len(p); j++ {
			if i >= len(s) {
				return false
			}
			c := s[i]
			if c == '%' {
				c = unhex(s[i+1])<<4 | unhex(s[i+2])
				i += 2
			}
			if c != p[j] {
				return false
			}
			i++
		}
	}
	return i == len(s)
}

func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// mint returns a URL for exactly what the request S3 accepted granted, or
// an error; it is the only caller of the Signer.
func (x *exchange) mint() (string, error) {
	h, sr, ctx := x.h, x.sr, x.r.Context()
	g, err := grantFor(sr, x.r.Header, x.up)
	if err != nil {
		return "", err
	}
	if h.signer == nil || h.cfg.EndpointURL == nil {
		return "", s3error.ErrNoRedirect
	}
	now := h.now()
	ttl, err := h.redirectTTL(ctx, sr, now)
	if err != nil {
		return "", err
	}
	signedURL, signed, err := h.signer.Sign(ctx, g.request(h.cfg.Bucket), ttl, now)
	if err != nil {
		h.log.ErrorContext(ctx, "presign failed", "key", sr.key, "error", err.Error())
		return "", s3error.ErrInternal
	}
	if err := g.admits(signedURL, signed, h.cfg.EndpointURL, h.cfg.Bucket); err != nil {
		var bad errBadMint
		if errors.As(err, &bad) {
			h.log.ErrorContext(ctx, "refusing to redirect", "key", sr.key, "reason", bad.reason)
		}
		return "", s3error.ErrNotMintable
	}
	return signedURL, nil
}
