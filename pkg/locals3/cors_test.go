package locals3

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCORSPreflight(t *testing.T) {
	withRule := newFixture(t, func(o *Options) {
		o.CORSOrigins = []string{"https://app.example.com", "http://*.example.org"}
	})
	star := newFixture(t, func(o *Options) { o.CORSOrigins = []string{"*"} })
	noRule := newFixture(t, nil)

	cases := []struct {
		name        string
		f           *fixture
		origin      string
		method      string
		reqHeaders  string
		wantStatus  int
		wantCode    string
		wantHeaders map[string]string
	}{
		{"exact origin", withRule, "https://app.example.com", "PUT", "content-type, x-amz-meta-title", 200, "", map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET, PUT, HEAD, POST, DELETE",
			"Access-Control-Allow-Headers":     "content-type, x-amz-meta-title",
			"Access-Control-Expose-Headers":    "ETag",
			"Access-Control-Max-Age":           "3000",
		}},
		{"wildcard origin", withRule, "http://player.example.org", "GET", "", 200, "", map[string]string{
			"Access-Control-Allow-Origin": "http://player.example.org",
		}},
		{"star rule", star, "https://anything.test", "DELETE", "", 200, "", map[string]string{
			"Access-Control-Allow-Origin":      "*",
			"Access-Control-Allow-Credentials": "",
		}},
		{"origin not allowed", withRule, "https://evil.example.net", "GET", "", 403, "AccessForbidden", map[string]string{
			"Access-Control-Allow-Origin": "",
		}},
		{"scheme differs", withRule, "http://app.example.com", "GET", "", 403, "AccessForbidden", nil},
		{"wildcard needs a label", withRule, "http://example.org", "GET", "", 403, "AccessForbidden", nil},
		{"method not allowed", withRule, "https://app.example.com", "PATCH", "", 403, "AccessForbidden", nil},
		{"no CORS rule", noRule, "https://app.example.com", "GET", "", 403, "AccessForbidden", nil},
		{"no request method", withRule, "https://app.example.com", "", "", 400, "BadRequest", nil},
		{"no origin", withRule, "", "GET", "", 400, "BadRequest", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			if tc.method != "" {
				hdr.Set("Access-Control-Request-Method", tc.method)
			}
			if tc.reqHeaders != "" {
				hdr.Set("Access-Control-Request-Headers", tc.reqHeaders)
			}
			got := tc.f.sendURL(t, http.MethodOptions, tc.f.ts.URL+"/demo/video.mp4", hdr, nil)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if tc.wantCode != "" && got.code() != tc.wantCode {
				t.Errorf("code = %q, want %q", got.code(), tc.wantCode)
			}
			for k, v := range tc.wantHeaders {
				if g := got.header.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

func TestCORSOnAuthenticatedResponses(t *testing.T) {
	withRule := newFixture(t, func(o *Options) { o.CORSOrigins = []string{"https://app.example.com"} })
	noRule := newFixture(t, nil)
	for _, f := range []*fixture{withRule, noRule} {
		f.seed(t, "a.txt", []byte("A"))
	}
	cases := []struct {
		name       string
		f          *fixture
		origin     string
		tamper     bool
		wantStatus int
		wantACAO   string
	}{
		{"allowed origin", withRule, "https://app.example.com", false, 200, "https://app.example.com"},
		{"allowed origin on an error", withRule, "https://app.example.com", true, 403, "https://app.example.com"},
		{"other origin", withRule, "https://evil.example.net", false, 200, ""},
		{"no origin", withRule, "", false, 200, ""},
		{"no rule", noRule, "https://app.example.com", false, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := presignGet(t, tc.f.vhostPresigner(), "a.txt", time.Minute)
			if tc.tamper {
				u = strings.Replace(u, "X-Amz-Expires=60", "X-Amz-Expires=61", 1)
			}
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			got := tc.f.sendURL(t, http.MethodGet, u, hdr, nil)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if g := got.header.Get("Access-Control-Allow-Origin"); g != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", g, tc.wantACAO)
			}
			wantExpose, wantVary := "", false
			if tc.wantACAO != "" {
				wantExpose, wantVary = "ETag", true
			}
			if g := got.header.Get("Access-Control-Expose-Headers"); g != wantExpose {
				t.Errorf("Access-Control-Expose-Headers = %q, want %q", g, wantExpose)
			}
			if g := strings.Contains(strings.Join(got.header.Values("Vary"), ","), "Origin"); g != wantVary {
				t.Errorf("Vary contains Origin = %v, want %v (Vary %q)", g, wantVary, got.header.Values("Vary"))
			}
		})
	}
}
