package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"S3PROXY_BUCKET": "media", "AWS_REGION": "eu-west-1"}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"region from AWS_REGION", c.Region, "eu-west-1"},
		{"signed host", c.SignedHost, "media.s3.amazonaws.com"},
		{"virtual-hosted", c.VirtualHosted, true},
		{"upstream", c.UpstreamURL.String(), "https://media.s3.amazonaws.com"},
		{"no endpoint", c.EndpointURL == nil, true},
		{"via", c.RedirectVia, ViaEndpoint},
		{"inline max", c.InlineMax, int64(700 << 10)},
		{"ttl", c.RedirectTTL, time.Hour},
		{"all keys", c.AllowsKey("anything"), true},
		{"no origins", len(c.AllowedOrigins), 0},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestFromEnvExplicit(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"S3PROXY_BUCKET":           "media",
		"S3PROXY_REGION":           "us-west-2",
		"S3PROXY_SIGNED_HOST":      "s3.us-west-2.amazonaws.com",
		"S3PROXY_UPSTREAM_URL":     "http://127.0.0.1:9000/",
		"S3PROXY_ENDPOINT_URL":     "https://bucket.vpce-0a1b-xyz.s3.us-west-2.vpce.amazonaws.com",
		"S3PROXY_REDIRECT_VIA":     "proxy",
		"S3PROXY_PUBLIC_URL":       "https://s3-proxy.studio.example",
		"S3PROXY_INLINE_MAX_BYTES": "1024",
		"S3PROXY_REDIRECT_TTL":     "2m",
		"S3PROXY_KEY_PREFIXES":     "shotgun/, other/ ,",
		"S3PROXY_ALLOWED_ORIGINS":  "https://studio.shotgrid.autodesk.com,http://localhost:3000",
		"S3PROXY_LOG_LEVEL":        "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.VirtualHosted {
		t.Error("path-style signed host taken as virtual-hosted")
	}
	if got := c.UpstreamURL.String(); got != "http://127.0.0.1:9000" {
		t.Errorf("upstream: got %q", got)
	}
	if c.RedirectVia != ViaProxy || c.InlineMax != 1024 || c.RedirectTTL != 2*time.Minute {
		t.Errorf("got via %q, inline %d, ttl %v", c.RedirectVia, c.InlineMax, c.RedirectTTL)
	}
	if !c.AllowsKey("shotgun/a") || !c.AllowsKey("other/b") || c.AllowsKey("secret/c") || c.AllowsKey("shotgu") {
		t.Errorf("prefixes %q misapplied", c.KeyPrefixes)
	}
	if !c.AllowsOrigin("https://studio.shotgrid.autodesk.com") || c.AllowsOrigin("https://evil.example") || c.AllowsOrigin("null") {
		t.Errorf("origins %q misapplied", c.AllowedOrigins)
	}
}

// Every problem is named at once, so one failed deploy shows them all.
func TestFromEnvReportsEveryProblem(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"S3PROXY_UPSTREAM_URL":     "ftp://x",
		"S3PROXY_ENDPOINT_URL":     "https://host/path",
		"S3PROXY_REDIRECT_VIA":     "sideways",
		"S3PROXY_INLINE_MAX_BYTES": "800000",
		"S3PROXY_REDIRECT_TTL":     "8d",
		"S3PROXY_KEY_PREFIXES":     "/shotgun/",
		"S3PROXY_ALLOWED_ORIGINS":  "*",
		"S3PROXY_LOG_LEVEL":        "loud",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, name := range []string{
		"S3PROXY_BUCKET", "S3PROXY_REGION", "S3PROXY_UPSTREAM_URL", "S3PROXY_ENDPOINT_URL", "S3PROXY_REDIRECT_VIA",
		"S3PROXY_INLINE_MAX_BYTES", "S3PROXY_REDIRECT_TTL", "S3PROXY_KEY_PREFIXES", "S3PROXY_ALLOWED_ORIGINS", "S3PROXY_LOG_LEVEL",
	} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestInlineMaxFitsALBResponse(t *testing.T) {
	base := map[string]string{"S3PROXY_BUCKET": "media", "AWS_REGION": "us-east-1"}
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"default-sized", "716800", true},
		{"largest accepted", "725424", true},
		{"one over", "725425", false},
		{"1 MiB", "1048576", false},
		{"zero", "0", false},
		{"negative", "-5", false},
		{"not a number", "700KiB", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{"S3PROXY_INLINE_MAX_BYTES": tc.value}
			for k, v := range base {
				m[k] = v
			}
			_, err := FromEnv(env(m))
			if (err == nil) != tc.ok {
				t.Fatalf("got err %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// The ceiling itself must fit: base64 of MaxInline plus headroom.
	if b64 := (MaxInline + 2) / 3 * 4; b64+responseHeadroom > ALBResponseLimit {
		t.Errorf("MaxInline %d encodes to %d bytes, over the limit with headroom", MaxInline, b64)
	}
}

func TestBucketNames(t *testing.T) {
	tests := map[string]bool{
		"media": true, "my-studio.media": true, "ab": false, "Media": false, "-media": false,
		"media-": false, "me..dia": false, strings.Repeat("a", 64): false, "a_b": false,
	}
	for name, ok := range tests {
		_, err := FromEnv(env(map[string]string{"S3PROXY_BUCKET": name, "AWS_REGION": "us-east-1"}))
		if (err == nil) != ok {
			t.Errorf("bucket %q: got err %v, want ok=%v", name, err, ok)
		}
	}
}

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
		err   string
	}{
		{"", false, ""},
		{"false", false, ""},
		{"true", true, ""},
		{"TRUE", true, ""},
		{"yes", false, `S3PROXY_READ_ONLY: "yes" must be true or false`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			c, err := FromEnv(env(map[string]string{"S3PROXY_BUCKET": "media", "AWS_REGION": "eu-west-1", "S3PROXY_READ_ONLY": tc.value}))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ReadOnly != tc.want {
				t.Errorf("ReadOnly = %v, want %v", c.ReadOnly, tc.want)
			}
		})
	}
}
