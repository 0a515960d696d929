package s3auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

const sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// v4 builds a SigV4 presigned query with overrides; an empty override value
// removes the parameter.
func v4(overrides ...string) string {
	params := [][2]string{
		{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
		{"X-Amz-Credential", "ASIAEXAMPLE123%2F20261127%2Fus-east-1%2Fs3%2Faws4_request"},
		{"X-Amz-Date", "20261127T100000Z"},
		{"X-Amz-Expires", "3600"},
		{"X-Amz-SignedHeaders", "host"},
		{"X-Amz-Security-Token", "FwoGZXIvYXdzEJr%2F%2F%2Ftoken%2Bplus"},
		{"X-Amz-Signature", sig},
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		found := false
		for j := range params {
			if params[j][0] == overrides[i] {
				params[j][1], found = overrides[i+1], true
			}
		}
		if !found {
			params = append(params, [2]string{overrides[i], overrides[i+1]})
		}
	}
	var parts []string
	for _, p := range params {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	return strings.Join(parts, "&")
}

var signedAt = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestParseAndCheck(t *testing.T) {
	now := signedAt.Add(10 * time.Minute)
	tests := []struct {
		name  string
		query string
		now   time.Time
		want  error // nil: accepted
	}{
		{"valid SigV4", v4(), now, nil},
		{"valid without token", v4("X-Amz-Security-Token", ""), now, nil},
		{"extra signed headers", v4("X-Amz-SignedHeaders", "content-type%3Bhost"), now, nil},
		{"overrides and part", v4("response-content-disposition", "attachment%3B%20filename%3D%22a.mov%22", "partNumber", "2"), now, nil},
		{"valid SigV2", "AWSAccessKeyId=AKIAEXAMPLE&Expires=1795788000&Signature=abc%2Bdef%3D", now, nil},
		{"no auth", "versionId=3", now, s3error.ErrMissingAuth},
		{"empty query", "", now, s3error.ErrMissingAuth},
		{"wrong algorithm", v4("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), now, s3error.ErrMalformedAuth},
		{"missing algorithm", v4("X-Amz-Algorithm", ""), now, s3error.ErrMalformedAuth},
		{"missing credential", v4("X-Amz-Credential", ""), now, s3error.ErrMalformedAuth},
		{"short credential", v4("X-Amz-Credential", "ASIA%2F20261127%2Fus-east-1%2Fs3"), now, s3error.ErrMalformedAuth},
		{"wrong service", v4("X-Amz-Credential", "ASIA1%2F20261127%2Fus-east-1%2Fec2%2Faws4_request"), now, s3error.ErrMalformedAuth},
		{"credential day differs", v4("X-Amz-Credential", "ASIA1%2F20261126%2Fus-east-1%2Fs3%2Faws4_request"), now, s3error.ErrMalformedAuth},
		{"bad date", v4("X-Amz-Date", "yesterday"), now, s3error.ErrMalformedAuth},
		{"missing expires", v4("X-Amz-Expires", ""), now, s3error.ErrMalformedAuth},
		{"zero expires", v4("X-Amz-Expires", "0"), now, s3error.ErrMalformedAuth},
		{"expires over 7 days", v4("X-Amz-Expires", "604801"), now, s3error.ErrMalformedAuth},
		{"expires not a number", v4("X-Amz-Expires", "1e3"), now, s3error.ErrMalformedAuth},
		{"host not signed", v4("X-Amz-SignedHeaders", "content-type"), now, s3error.ErrMalformedAuth},
		{"missing signature", v4("X-Amz-Signature", ""), now, s3error.ErrMalformedAuth},
		{"short signature", v4("X-Amz-Signature", "abc"), now, s3error.ErrMalformedAuth},
		{"garbage signature", v4("X-Amz-Signature", strings.Repeat("z", 64)), now, s3error.ErrMalformedAuth},
		{"duplicated signature", v4() + "&X-Amz-Signature=" + sig, now, s3error.ErrMalformedAuth},
		{"both versions", v4() + "&AWSAccessKeyId=AKIA1&Expires=1&Signature=x", now, s3error.ErrMalformedAuth},
		{"expired", v4(), signedAt.Add(time.Hour), s3error.ErrExpired},
		{"expired by a second", v4(), signedAt.Add(time.Hour + time.Second), s3error.ErrExpired},
		{"signed in the future", v4(), signedAt.Add(-20 * time.Minute), s3error.ErrNotYetValid},
		{"future within skew", v4(), signedAt.Add(-10 * time.Minute), nil},
		{"wrong region", v4("X-Amz-Credential", "ASIA1%2F20261127%2Feu-west-1%2Fs3%2Faws4_request"), now, s3error.ErrWrongRegion},
		{"SigV2 expired", "AWSAccessKeyId=AKIAEXAMPLE&Expires=1000&Signature=abc", now, s3error.ErrExpired},
		{"SigV2 no signature", "AWSAccessKeyId=AKIAEXAMPLE&Expires=1795788000", now, s3error.ErrMalformedAuth},
		{"SigV2 bad expires", "AWSAccessKeyId=AKIAEXAMPLE&Expires=soon&Signature=abc", now, s3error.ErrMalformedAuth},
		{"bad escape", v4("X-Amz-Credential", "ASIA%zz"), now, s3error.ErrBadURI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := parseCheck(tc.query, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func parseCheck(raw string, now time.Time) error {
	q, err := ParseQuery(raw)
	if err != nil {
		return err
	}
	a, err := Parse(q)
	if err != nil {
		return err
	}
	return a.Check(now, "us-east-1")
}

func TestParseFields(t *testing.T) {
	q, err := ParseQuery(v4("X-Amz-Expires", "120"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != V4 || a.AccessKeyID != "ASIAEXAMPLE123" || a.Region != "us-east-1" || !a.HasToken {
		t.Errorf("got %+v", a)
	}
	if !a.SignedAt.Equal(signedAt) || !a.ExpiresAt.Equal(signedAt.Add(2*time.Minute)) {
		t.Errorf("signed %v expires %v", a.SignedAt, a.ExpiresAt)
	}
	if got := a.Remaining(signedAt.Add(time.Minute)); got != time.Minute {
		t.Errorf("remaining: got %v", got)
	}
	if got := q.Values.Get("X-Amz-Security-Token"); got != "FwoGZXIvYXdzEJr///token+plus" {
		t.Errorf("token decoded to %q", got)
	}
}
