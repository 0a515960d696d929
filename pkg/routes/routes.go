// Package routes is the listener rule table shared by the deployed ALB
// (template.yaml) and the local twin (s3proxy serve). Keeping it as data in
// one place lets a test compare the template against exactly what the twin
// applies, so the two cannot drift apart.
package routes

import (
	"slices"
	"strings"
)

// Target names where a matched request is sent.
type Target string

const (
	// Lambda is the proxy function's target group.
	Lambda Target = "lambda"
	// Endpoint is the IP target group whose targets are the S3 interface
	// endpoint's network interfaces: no compute sits in that byte path.
	Endpoint Target = "endpoint"
)

// Host names the Host header a rule rewrites to before forwarding.
type Host string

const (
	// KeepHost leaves the client's Host header alone.
	KeepHost Host = ""
	// EndpointHost is the S3 interface endpoint's host (S3PROXY_ENDPOINT_URL),
	// the host minted redirect URLs are signed for.
	EndpointHost Host = "endpoint"
	// SignedHost is the host ShotGrid signed its URLs for
	// (S3PROXY_SIGNED_HOST).
	SignedHost Host = "signed"
)

// Rule is one listener rule. Conditions within a rule are ANDed, values
// within a condition are ORed, as on an ALB.
type Rule struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"` // 0 for the default action
	// PathPatterns are ALB path-pattern values: exact, or with a trailing '*'.
	PathPatterns []string `json:"pathPatterns,omitempty"`
	Methods      []string `json:"methods,omitempty"`
	Target       Target   `json:"target"`
	HostRewrite  Host     `json:"hostRewrite,omitempty"`
	// StripPrefix is removed from the path by a url-rewrite transform.
	StripPrefix string `json:"stripPrefix,omitempty"`
	// OnlyWithPassthrough marks the rule that exists only when upload
	// passthrough is on (template parameter UploadPassthrough).
	OnlyWithPassthrough bool `json:"onlyWithPassthrough,omitempty"`
}

// DirectPrefix is the path prefix of redirects that travel through the proxy
// host to the endpoint (S3PROXY_REDIRECT_VIA=proxy).
const DirectPrefix = "/_direct"

// Table returns the listener rules in priority order, default last.
func Table() []Rule {
	return []Rule{
		{Name: "ping", Priority: 10, PathPatterns: []string{"/ping"}, Target: Lambda},
		{Name: "direct", Priority: 20, PathPatterns: []string{DirectPrefix + "/*"}, Target: Endpoint,
			HostRewrite: EndpointHost, StripPrefix: DirectPrefix},
		{Name: "passthrough", Priority: 30, Methods: []string{"PUT", "POST", "DELETE"}, Target: Endpoint,
			HostRewrite: SignedHost, OnlyWithPassthrough: true},
		{Name: "default", Priority: 0, Target: Lambda},
	}
}

// Match returns the first rule of Table that applies to the request.
func Match(method, path string, passthrough bool) Rule {
	rules := Table()
	for _, r := range rules {
		if r.Priority == 0 {
			continue
		}
		if r.OnlyWithPassthrough && !passthrough {
			continue
		}
		if r.matches(method, path) {
			return r
		}
	}
	return rules[len(rules)-1]
}

func (r Rule) matches(method, path string) bool {
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
		return false
	}
	if len(r.PathPatterns) == 0 {
		return true
	}
	for _, p := range r.PathPatterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}
