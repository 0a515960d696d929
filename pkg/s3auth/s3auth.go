// Package s3auth reads the query-string authentication of a presigned S3 URL
// well enough to refuse hopeless requests without asking S3. It cannot verify
// a signature — the proxy never holds the signer's secret — so it only checks
// what is visible: that the parameters are all there and well formed, that
// the URL has not expired, and that it was signed for this proxy's region.
// S3 remains the judge of the signature itself.
package s3auth

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// Version is the signature scheme of a presigned URL.
type Version int

const (
	// V4 is AWS Signature Version 4 query auth (X-Amz-*), what ShotGrid mints.
	V4 Version = 4
	// V2 is legacy query auth (AWSAccessKeyId/Expires/Signature), still found
	// in old attachment URLs; it is passed through for S3 to judge.
	V2 Version = 2
)

// MaxExpires is SigV4's ceiling on X-Amz-Expires, in seconds.
const MaxExpires = 604800

// clockSkew is how far in the future a signing time may be, as S3 allows.
const clockSkew = 15 * time.Minute

// Query is a raw query string split into decoded parameters. Values keep
// their order; Dup lists authentication parameters that appeared twice,
// which S3 refuses and so do we.
type Query struct {
	Values url.Values
	Dup    []string
}

// ParseQuery splits raw without losing anything that matters for auth. A
// malformed escape is an error: the URL cannot be what anyone signed.
func ParseQuery(raw string) (Query, error) {
	q := Query{Values: url.Values{}}
	if raw == "" {
		return q, nil
	}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return Query{}, s3error.ErrBadURI
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return Query{}, s3error.ErrBadURI
		}
		if _, seen := q.Values[key]; seen && isAuthParam(key) {
			q.Dup = append(q.Dup, key)
		}
		q.Values[key] = append(q.Values[key], val)
	}
	return q, nil
}

func isAuthParam(k string) bool {
	switch k {
	case "AWSAccessKeyId", "Expires", "Signature":
		return true
	}
	return len(k) > 6 && strings.EqualFold(k[:6], "x-amz-")
}

// Auth is what a presigned URL reveals about itself.
type Auth struct {
	Version     Version
	AccessKeyID string
	// SignedAt is the X-Amz-Date of a V4 URL; zero for V2.
	SignedAt time.Time
	// ExpiresAt is when S3 will stop honouring the URL.
	ExpiresAt time.Time
	Region    string // V4 only
	// SignedHeaders is the V4 X-Amz-SignedHeaders list.
	SignedHeaders []string
	HasToken      bool
}

var (
	sigV4   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	akid    = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
	dateFmt = "20060102T150405Z"
	dayFmt  = "20060102"
	header  = regexp.MustCompile(`^[a-z0-9-]+(;[a-z0-9-]+)*$`)
)

// Parse reads the query auth of q. It fails with a client-facing 403 for a
// URL without query auth or with auth S3 would reject as malformed.
func Parse(q Query) (*Auth, error) {
	if len(q.Dup) > 0 {
		return nil, s3error.ErrMalformedAuth
	}
	v := q.Values
	has := func(k string) bool { _, ok := v[k]; return ok }
	v4 := has("X-Amz-Algorithm") || has("X-Amz-Credential") || has("X-Amz-Signature")
	v2 := has("AWSAccessKeyId") || has("Signature")
	switch {
	case v4 && v2:
		return nil, s3error.ErrMalformedAuth
	case v4:
		return parseV4(v)
	case v2:
		return parseV2(v)
	}
	return nil, s3error.ErrMissingAuth
}

func parseV4(v url.Values) (*Auth, error) {
	if v.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return nil, s3error.ErrMalformedAuth
	}
	cred := strings.Split(v.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || !akid.MatchString(cred[0]) || cred[3] != "s3" || cred[4] != "aws4_request" || cred[2] == "" {
		return nil, s3error.ErrMalformedAuth
	}
	day, err := time.Parse(dayFmt, cred[1])
	if err != nil {
		return nil, s3error.ErrMalformedAuth
	}
	signed, err := time.Parse(dateFmt, v.Get("X-Amz-Date"))
	if err != nil || !sameDay(day, signed) {
		return nil, s3error.ErrMalformedAuth
	}
	exp, err := strconv.Atoi(v.Get("X-Amz-Expires"))
	if err != nil || exp < 1 || exp > MaxExpires {
		return nil, s3error.ErrMalformedAuth
	}
	sh := v.Get("X-Amz-SignedHeaders")
	if !header.MatchString(sh) {
		return nil, s3error.ErrMalformedAuth
	}
	headers := strings.Split(sh, ";")
	if !slices.Contains(headers, "host") {
		return nil, s3error.ErrMalformedAuth
	}
	if !sigV4.MatchString(v.Get("X-Amz-Signature")) {
		return nil, s3error.ErrMalformedAuth
	}
	_, token := v["X-Amz-Security-Token"]
	return &Auth{
		Version:       V4,
		AccessKeyID:   cred[0],
		SignedAt:      signed,
		ExpiresAt:     signed.Add(time.Duration(exp) * time.Second),
		Region:        cred[2],
		SignedHeaders: headers,
		HasToken:      token,
	}, nil
}

func parseV2(v url.Values) (*Auth, error) {
	id, sig, exp := v.Get("AWSAccessKeyId"), v.Get("Signature"), v.Get("Expires")
	if !akid.MatchString(id) || sig == "" || len(sig) > 128 {
		return nil, s3error.ErrMalformedAuth
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || secs < 0 || secs > 1<<40 {
		return nil, s3error.ErrMalformedAuth
	}
	_, token := v["x-amz-security-token"]
	return &Auth{Version: V2, AccessKeyID: id, ExpiresAt: time.Unix(secs, 0).UTC(), HasToken: token}, nil
}

// Check refuses a URL that S3 would refuse for its time or region alone.
func (a *Auth) Check(now time.Time, region string) error {
	if !now.Before(a.ExpiresAt) {
		return s3error.ErrExpired
	}
	if a.Version == V4 {
		if a.SignedAt.After(now.Add(clockSkew)) {
			return s3error.ErrNotYetValid
		}
		if a.Region != region {
			return s3error.ErrWrongRegion
		}
	}
	return nil
}

// Remaining is how long the URL stays valid after now.
func (a *Auth) Remaining(now time.Time) time.Duration { return a.ExpiresAt.Sub(now) }

func sameDay(day, t time.Time) bool {
	y1, m1, d1 := day.Date()
	y2, m2, d2 := t.Date()
	return y1 == y2 && m1 == m2 && d1 == d2
}
