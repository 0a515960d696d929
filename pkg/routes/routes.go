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
	// PathPatterns are ALB path-pattern values: literal characters with '*'
	// (any run, possibly empty) and '?' (exactly one character) wildcards.
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

// MaxKeyPrefixes is how many key prefixes the /_direct rules can express.
const MaxKeyPrefixes = 5

// ALB rule limits: at most three values in one condition, five across a
// rule's conditions, and five wildcards in a rule.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
// ("Condition basics").
const (
	maxConditionValues = 3
	maxRuleValues      = 5
	maxRuleWildcards   = 5
)

// Params are the deployment values the table depends on: the /_direct rules
// match only object paths of this bucket under these prefixes.
type Params struct {
	Bucket      string
	KeyPrefixes []string
}

// directMethods are the only methods /_direct carries: a minted URL is a
// GetObject, and HEAD is what a client may send before it.
var directMethods = []string{"GET", "HEAD"}

// Table returns the listener rules in priority order, default last.
//
// /_direct carries GET and HEAD of this bucket's objects, under the allowed
// key prefixes, to the endpoint. Anything else under /_direct (other
// methods, the bucket's root, listing, other buckets, keys outside the
// prefixes) goes to the function, which refuses it: the endpoint is reached
// through the proxy only with what a minted URL can ask for.
func Table(p Params) []Rule {
	patterns := DirectPatterns(p)
	rules := []Rule{
		{Name: "ping", Priority: 10, PathPatterns: []string{"/ping"}, Target: Lambda},
	}
	for i := 0; i*maxConditionValues < len(patterns); i++ {
		name := "direct"
		if i > 0 {
			name = "direct-" + string(rune('1'+i))
		}
		chunk := patterns[i*maxConditionValues : min(len(patterns), (i+1)*maxConditionValues)]
		rules = append(rules, Rule{Name: name, Priority: 20 + i, PathPatterns: chunk,
			Methods: directMethods, Target: Endpoint, HostRewrite: EndpointHost, StripPrefix: DirectPrefix})
	}
	return append(rules,
		Rule{Name: "direct-refuse", Priority: 25, PathPatterns: []string{DirectPrefix + "/*"}, Target: Lambda},
		Rule{Name: "passthrough", Priority: 30, Methods: []string{"PUT", "POST", "DELETE"}, Target: Endpoint,
			HostRewrite: SignedHost, OnlyWithPassthrough: true},
		Rule{Name: "default", Priority: 0, Target: Lambda},
	)
}

// DirectPatterns are the path patterns of the /_direct rules: one per key
// prefix, or any non-empty key when all keys are allowed. The ALB compares
// patterns with the path as the client sent it, so a prefix is expressed
// exactly only when it needs no percent-encoding and holds no '*' or '?'
// (config refuses such prefixes where /_direct is used; the function's own
// check still applies to every other read).
func DirectPatterns(p Params) []string {
	base := DirectPrefix + "/" + p.Bucket + "/"
	if len(p.KeyPrefixes) == 0 {
		return []string{base + "?*"}
	}
	out := make([]string, 0, len(p.KeyPrefixes))
	for _, k := range p.KeyPrefixes {
		out = append(out, base+k+"*")
	}
	return out
}

// Match returns the first rule of rules that applies to the request.
func Match(rules []Rule, method, path string, passthrough bool) Rule {
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
		if wildcard(p, path) {
			return true
		}
	}
	return false
}

// wildcard matches s against an ALB pattern: '*' any run, '?' one byte.
func wildcard(pattern, s string) bool {
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(pattern) && (pattern[i] == '?' || pattern[i] == s[j]):
			i++
			j++
		case i < len(pattern) && pattern[i] == '*':
			star, mark = i, j
			i++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(pattern) && pattern[i] == '*' {
		i++
	}
	return i == len(pattern)
}

// Expressible reports whether an ALB path pattern can state prefix exactly:
// unreserved URL characters and '/' only, so that the raw path the ALB sees
// spells it the same way the decoded key does, with no wildcard in it.
func Expressible(prefix string) bool {
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Valid reports rules that break the ALB's documented condition limits.
func Valid(r Rule) bool {
	wild := 0
	for _, p := range r.PathPatterns {
		wild += strings.Count(p, "*") + strings.Count(p, "?")
	}
	return len(r.PathPatterns) <= maxConditionValues && len(r.Methods) <= maxConditionValues &&
		len(r.PathPatterns)+len(r.Methods) <= maxRuleValues && wild <= maxRuleWildcards
}
