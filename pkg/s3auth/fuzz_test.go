package s3auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/s3auth"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// fuzzCheckErr asserts that a refusal is an S3-style client error: the
// proxy answers it itself, so it must be a *s3error.Error with a 4xx.
func fuzzCheckErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *s3error.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %T %v is not an *s3error.Error", what, err, err)
	}
	if e.Status < 400 || e.Status > 499 {
		t.Fatalf("%s: status %d for %v, want a 4xx", what, e.Status, e)
	}
}

// FuzzParseQuery drives a raw query string through ParseQuery, Parse and
// Check, at a clock offset from the URL's own signing time.
func FuzzParseQuery(f *testing.F) {
	const good = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261127%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20261127T100000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host" +
		"&X-Amz-Security-Token=SECRET%2Btoken&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	seeds := []struct {
		q   string
		off int64 // seconds after 2026-11-27T10:00:00Z
	}{
		{good, 300},
		{good, 3600},
		{good, -3600},
		{good + "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0},
		{good + "&x-amz-date=20261127T100000Z", 0},
		{"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T100000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "ab", 0},
		{"AWSAccessKeyId=AKIAEXAMPLE&Expires=1800000000&Signature=abc%2Bdef%3D", 0},
		{"AWSAccessKeyId=AKIAEXAMPLE&Expires=-1&Signature=x", 0},
		{"AWSAccessKeyId=AKIA&X-Amz-Signature=abc", 0},
		{"%zz=1", 0},
		{"a=%", 0},
		{"versionId=v1&partNumber=2&response-content-disposition=attachment%3B%20filename%3D%22a.mov%22", 0},
		{"&&&=&", 0},
		{"X-Amz-Credential=%2F%2F%2F%2F", 0},
		{"X-Amz-Expires=99999999999999999999", 0},
	}
	for _, s := range seeds {
		f.Add(s.q, s.off, "us-east-1")
	}
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string, offset int64, region string) {
		q, err := s3auth.ParseQuery(raw)
		fuzzCheckErr(t, "ParseQuery", err)
		if err != nil {
			return
		}
		a, err := s3auth.Parse(q)
		fuzzCheckErr(t, "Parse", err)
		if err != nil {
			if a != nil {
				t.Fatalf("Parse returned both %+v and %v", a, err)
			}
			return
		}
		if a == nil {
			t.Fatal("Parse returned neither auth nor error")
		}
		switch a.Version {
		case s3auth.V4:
			if !a.ExpiresAt.After(a.SignedAt) {
				t.Fatalf("ExpiresAt %v is not after SignedAt %v", a.ExpiresAt, a.SignedAt)
			}
			if a.ExpiresAt.Sub(a.SignedAt) > s3auth.MaxExpires*time.Second {
				t.Fatalf("lifetime %v exceeds SigV4's 7 days", a.ExpiresAt.Sub(a.SignedAt))
			}
			if a.Region == "" || a.AccessKeyID == "" {
				t.Fatalf("V4 auth without region or access key: %+v", a)
			}
		case s3auth.V2:
		default:
			t.Fatalf("unknown version %d", a.Version)
		}
		now := base.Add(time.Duration(offset%(1<<40)) * time.Second)
		err = a.Check(now, region)
		fuzzCheckErr(t, "Check", err)
		if err == nil {
			if !now.Before(a.ExpiresAt) {
				t.Fatalf("Check accepted a URL expired at %v at %v", a.ExpiresAt, now)
			}
			if a.Version == s3auth.V4 && a.Region != region {
				t.Fatalf("Check accepted region %q for %q", a.Region, region)
			}
			if a.Remaining(now) <= 0 {
				t.Fatalf("accepted URL has %v remaining", a.Remaining(now))
			}
		}
	})
}
