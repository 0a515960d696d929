// Package routes is the HTTPS listener of the deployed ALB (template.yaml)
// and of the local twin (s3proxy serve), as data: its rules in priority
// order and the response headers it sets. Keeping it in one place lets a
// test compare the template against exactly what the twin applies, so the
// two cannot drift apart; docs/architecture.md describes the table.
//
// A rule has the ALB's own shape: conditions (method, path pattern, query
// string, HTTP header) that are ANDed across conditions and ORed within
// one, and one action (forward to the function, forward to the endpoint
// with the host and URL rewrites, or a fixed response). Match interprets
// them the way the ALB's condition documentation states, so the twin needs
// no knowledge of what any rule is for.
package routes

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// ActionType is what a matched rule does with the request.
type ActionType string

const (
	// ToFunction forwards to the proxy function's target group.
	ToFunction ActionType = "function"
	// ToEndpoint forwards to the IP target group whose targets are the S3
	// interface endpoint's network interfaces: no compute sits in that
	// byte path.
	ToEndpoint ActionType = "endpoint"
	// Fixed answers from the load balancer itself; nothing is invoked.
	Fixed ActionType = "fixed-response"
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

// Action is a rule's one action. HostRewrite and StripPrefix are the
// host-header-rewrite and url-rewrite transforms of a forward to the
// endpoint; Response is set exactly when Type is Fixed.
type Action struct {
	Type        ActionType `json:"type"`
	HostRewrite Host       `json:"hostRewrite,omitempty"`
	// StripPrefix is removed from the front of the path.
	StripPrefix string         `json:"stripPrefix,omitempty"`
	Response    *FixedResponse `json:"response,omitempty"`
}

// FixedResponse is a fixed-response action's answer. The ALB takes a
// status of 2XX, 4XX or 5XX, a content type from a short list (no XML among
// them) and at most 1024 characters of body:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_FixedResponseActionConfig.html
type FixedResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}

// FixedContentTypes are the only content types a fixed response may carry
// (API_FixedResponseActionConfig, "ContentType ... Valid Values").
var FixedContentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}

// maxFixedBody is the longest fixed-response body (MessageBody, 1024).
const maxFixedBody = 1024

// QueryPair is one value of a query-string condition. Key may be empty (any
// key); Value may not. Both compare case-insensitively and take the
// wildcards '*' (any run) and '?' (one character); a backslash makes the
// next character literal. A pair matches one key=value of the query as the
// client sent it, still percent-encoded (the ALB documents no decoding).
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_QueryStringConditionConfig.html
//
// A condition can only find a pair; no condition says "this key is
// absent". A rule that must apply to requests without a key is therefore
// written as a rule forwarding those with it, at a higher priority, followed
// by a rule without the query condition.
type QueryPair struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value"`
}

// HeaderCondition is an http-header condition: the named header (any case)
// has a value matching one of Values, compared case-insensitively with the
// '*' and '?' wildcards.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
// ("HTTP header conditions").
type HeaderCondition struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// When names the deployments a rule exists in: the template creates the
// passthrough rules only with UploadPassthrough=true, and the rule that
// carries signed writes to the function only without it. A read-only
// table (Params.ReadOnly) has neither.
type When string

const (
	Always             When = ""
	WithPassthrough    When = "passthrough"
	WithoutPassthrough When = "no-passthrough"
)

// Rule is one listener rule. Conditions within a rule are ANDed, values
// within a condition are ORed, as on an ALB. An empty condition is absent.
type Rule struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"` // 0 for the default action
	// Methods is an http-request-method condition (exact, case-sensitive).
	Methods []string `json:"methods,omitempty"`
	// PathPatterns is a path-pattern condition: literal characters with '*'
	// (any run, possibly empty) and '?' (exactly one character) wildcards,
	// compared case-sensitively with the path as the client sent it.
	PathPatterns []string `json:"pathPatterns,omitempty"`
	// Query is one query-string condition: any one of its pairs matches.
	Query []QueryPair `json:"query,omitempty"`
	// Header is one http-header condition.
	Header *HeaderCondition `json:"header,omitempty"`
	Action Action           `json:"action"`
	When   When             `json:"when,omitempty"`
}

// DirectPrefix is the path prefix of redirects that travel through the proxy
// host to the endpoint (S3PROXY_REDIRECT_VIA=proxy).
const DirectPrefix = "/_direct"

// MaxKeyPrefixes is how many key prefixes the template's rules can express.
const MaxKeyPrefixes = 5

// ALB rule limits: at most three values in one condition, five across a
// rule's conditions, and five wildcards in a rule.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
// ("Condition basics"). A listener holds at most 100 rules besides its
// default, with priorities 1 to 50000, each used once:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
const (
	maxConditionValues = 3
	maxRuleValues      = 5
	maxRuleWildcards   = 5
	MaxRules           = 100
	MaxPriority        = 50000
)

// Params are the deployment values the table depends on: the endpoint
// routes match only object paths of this bucket under these prefixes.
type Params struct {
	Bucket      string
	KeyPrefixes []string
	// PathStyle is true when the signed host does not name the bucket, so
	// request paths are /<bucket>/<key> rather than /<key>
	// (config.VirtualHosted is its negation).
	PathStyle bool
	// ReadOnly drops every rule that carries a write (passthrough and
	// signed-write), so each write gets the ALB's fixed 403 (405 under
	// /_direct): the template's ReadOnly, config.ReadOnly.
	ReadOnly bool
}

// Methods the proxy serves, by the route they take.
var (
	// readMethods are what a presigned read and a minted URL are.
	readMethods = []string{"GET", "HEAD"}
	// writeMethods are uploads, multipart steps and deletes.
	writeMethods = []string{"PUT", "POST", "DELETE"}
	// signedQuery finds the signature of a SigV4 or a SigV2 presigned URL.
	// Only its presence is tested: the function parses it, S3 checks it.
	signedQuery = []QueryPair{{Key: "X-Amz-Signature", Value: "*"}, {Key: "Signature", Value: "*"}}
	// preflightHeader is what makes an OPTIONS a CORS preflight: every
	// browser sends Access-Control-Request-Method with one.
	// https://fetch.spec.whatwg.org/#cors-preflight-fetch
	preflightHeader = &HeaderCondition{Name: "Access-Control-Request-Method", Values: []string{"*"}}
)

// Fixed answers, as close to S3's XML errors as a fixed response allows:
// S3's body, as text/plain, the only listed type a browser will not run or
// style. The ALB sends no headers of the rule's own, so a 405 carries no
// Allow and a refusal no CORS headers.
var (
	// refuseUnsigned answers a read without query authentication.
	refuseUnsigned = fixed(s3error.ErrMissingAuth)
	// refuseWrite answers a write that is not of an object under the key
	// prefixes (bucket configuration, listing, other buckets), and an
	// unsigned write when writes go through the function.
	refuseWrite = fixed(&s3error.Error{Status: 403, Code: "AccessDenied",
		Message: "Only signed writes of objects under the allowed key prefixes pass through this proxy."})
	// refuseMethod answers a method the proxy never serves, and any write
	// under /_direct.
	refuseMethod = fixed(s3error.ErrMethodNotAllowed)
	// refuseReadOnly answers every write to a read-only proxy.
	refuseReadOnly = fixed(s3error.ErrReadOnly)
)

func fixed(e *s3error.Error) Action {
	return Action{Type: Fixed, Response: &FixedResponse{Status: e.Status, ContentType: "text/plain", Body: string(e.Body(""))}}
}

// Priorities, spaced so that each family of rules can grow with the
// number of key prefixes without meeting the next.
const (
	pingPriority         = 10
	directPriority       = 100
	preflightPriority    = 200
	signedReadPriority   = 210
	unsignedReadPriority = 220
	directRefusePriority = 230
	passthroughPriority  = 300
	signedWritePriority  = 400
	writeRefusePriority  = 410
)

// Table returns the listener rules in priority order, default last. In
// order of evaluation:
//
//   - ping: GET and HEAD of /ping reach the function.
//   - direct: GET and HEAD of this bucket's objects under the key prefixes,
//     below /_direct, go to the endpoint with /_direct stripped and the
//     endpoint's host: what a minted URL (S3PROXY_REDIRECT_VIA=proxy) is.
//   - preflight: an OPTIONS with Access-Control-Request-Method (a CORS
//     preflight) reaches the function; any other OPTIONS falls to the
//     default.
//   - signed-read: GET and HEAD with X-Amz-Signature or Signature in the
//     query reach the function, which refuses what it must (also under
//     /_direct).
//   - unsigned-read: every other GET and HEAD is answered 403 by the ALB.
//   - direct-refuse: anything else under /_direct is answered 405, so no
//     write reaches S3 through the route meant for reads.
//   - passthrough (with UploadPassthrough): PUT, POST and DELETE of object
//     paths under the key prefixes go to the endpoint with the signed host.
//     "/" and bucket subresources ("/?policy", "/?cors", a path-style
//     "/<bucket>") are no object path and never match.
//   - signed-write (without UploadPassthrough): signed PUT, POST and DELETE
//     reach the function, which relays them.
//   - write-refuse: every other write is answered 403 by the ALB.
//     Read-only (Params.ReadOnly): there is no passthrough and no
//     signed-write rule, and this rule answers every write.
//   - default: any other method is answered 405 by the ALB.
//
// So no request without a signature, and no method the proxy never
// serves, invokes the function; /ping and preflights still do. The
// signature test is presence only: anyone can add a parameter named
// X-Amz-Signature, and the function and S3 still judge it.
func Table(p Params) []Rule {
	rules := []Rule{
		{Name: "ping", Priority: pingPriority, Methods: readMethods, PathPatterns: []string{"/ping"}, Action: Action{Type: ToFunction}},
	}
	for i, chunk := range chunks(DirectPatterns(p), maxConditionValues) {
		rules = append(rules, Rule{Name: numbered("direct", i), Priority: directPriority + i, Methods: readMethods, PathPatterns: chunk,
			Action: Action{Type: ToEndpoint, HostRewrite: EndpointHost, StripPrefix: DirectPrefix}})
	}
	rules = append(rules,
		Rule{Name: "preflight", Priority: preflightPriority, Methods: []string{"OPTIONS"}, Header: preflightHeader, Action: Action{Type: ToFunction}},
		Rule{Name: "signed-read", Priority: signedReadPriority, Methods: readMethods, Query: signedQuery, Action: Action{Type: ToFunction}},
		Rule{Name: "unsigned-read", Priority: unsignedReadPriority, Methods: readMethods, Action: refuseUnsigned},
		Rule{Name: "direct-refuse", Priority: directRefusePriority, PathPatterns: []string{DirectPrefix, DirectPrefix + "/*"}, Action: refuseMethod},
	)
	if p.ReadOnly {
		return append(rules,
			Rule{Name: "write-refuse", Priority: writeRefusePriority, Methods: writeMethods, Action: refuseReadOnly},
			Rule{Name: "default", Priority: 0, Action: refuseMethod},
		)
	}
	// Three methods leave room for two path values in a rule.
	for i, chunk := range chunks(ObjectPatterns(p), maxRuleValues-len(writeMethods)) {
		rules = append(rules, Rule{Name: numbered("passthrough", i), Priority: passthroughPriority + i, Methods: writeMethods, PathPatterns: chunk,
			Action: Action{Type: ToEndpoint, HostRewrite: SignedHost}, When: WithPassthrough})
	}
	return append(rules,
		Rule{Name: "signed-write", Priority: signedWritePriority, Methods: writeMethods, Query: signedQuery,
			Action: Action{Type: ToFunction}, When: WithoutPassthrough},
		Rule{Name: "write-refuse", Priority: writeRefusePriority, Methods: writeMethods, Action: refuseWrite},
		Rule{Name: "default", Priority: 0, Action: refuseMethod},
	)
}

// numbered names the i-th rule of a family: name, name-2, name-3...
func numbered(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "-" + strconv.Itoa(i+1)
}

func chunks(values []string, size int) [][]string {
	var out [][]string
	for len(values) > 0 {
		n := min(size, len(values))
		out = append(out, values[:n])
		values = values[n:]
	}
	return out
}

// DirectPatterns are the path patterns of the /_direct rules: one per key
// prefix, or any non-empty key when all keys are allowed. The ALB compares
// patterns with the path as the client sent it, so a prefix is expressed
// exactly only when it needs no percent-encoding and holds no '*' or '?'
// (config refuses such prefixes where /_direct is used; the function's own
// check still applies to every other read).
func DirectPatterns(p Params) []string {
	return prefixPatterns(DirectPrefix+"/"+p.Bucket+"/", p.KeyPrefixes)
}

// ObjectPatterns are the path patterns of object paths under the key
// prefixes as the signed host sees them: /<prefix>* virtual-hosted,
// /<bucket>/<prefix>* path-style; any non-empty key when all keys are
// allowed. None matches "/" or a path-style "/<bucket>" or "/<bucket>/",
// where the bucket's own subresources live.
func ObjectPatterns(p Params) []string {
	base := "/"
	if p.PathStyle {
		base = "/" + p.Bucket + "/"
	}
	return prefixPatterns(base, p.KeyPrefixes)
}

func prefixPatterns(base string, prefixes []string) []string {
	if len(prefixes) == 0 {
		return []string{base + "?*"}
	}
	out := make([]string, 0, len(prefixes))
	for _, k := range prefixes {
		out = append(out, base+k+"*")
	}
	return out
}

// Request is what the ALB's conditions look at: the method, the path and
// query exactly as the client sent them, and the headers.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
}

// Match returns the first rule of rules that applies to the request in a
// deployment with or without upload passthrough; the default rule (the
// last) when none does.
func Match(rules []Rule, r Request, passthrough bool) Rule {
	for _, rule := range rules {
		if rule.Priority == 0 || !rule.When.holds(passthrough) {
			continue
		}
		if rule.matches(r) {
			return rule
		}
	}
	return rules[len(rules)-1]
}

func (w When) holds(passthrough bool) bool {
	switch w {
	case WithPassthrough:
		return passthrough
	case WithoutPassthrough:
		return !passthrough
	}
	return true
}

func (r Rule) matches(req Request) bool {
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, req.Method) {
		return false
	}
	if len(r.PathPatterns) > 0 && !slices.ContainsFunc(r.PathPatterns, func(p string) bool { return wildcard(p, req.Path, false) }) {
		return false
	}
	if len(r.Query) > 0 && !queryHas(req.RawQuery, r.Query) {
		return false
	}
	if h := r.Header; h != nil && !slices.ContainsFunc(req.Header.Values(h.Name), func(v string) bool {
		return slices.ContainsFunc(h.Values, func(p string) bool { return wildcard(p, v, true) })
	}) {
		return false
	}
	return true
}

// queryHas reports whether any key=value of raw matches any of pairs. A
// parameter without '=' has an empty value.
func queryHas(raw string, pairs []QueryPair) bool {
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		for _, p := range pairs {
			if (p.Key == "" || wildcard(p.Key, k, true)) && wildcard(p.Value, v, true) {
				return true
			}
		}
	}
	return false
}

// wildcard matches s against an ALB pattern: '*' any run, '?' one byte. In
// a query-string or header value (query true) the comparison ignores ASCII
// case and a backslash makes the next character literal.
func wildcard(pattern, s string, query bool) bool {
	type tok struct {
		c    byte
		wild byte // 0, '*' or '?'
	}
	var toks []tok
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case query && c == '\\' && i+1 < len(pattern):
			i++
			toks = append(toks, tok{c: pattern[i]})
		case c == '*' || c == '?':
			toks = append(toks, tok{wild: c})
		default:
			toks = append(toks, tok{c: c})
		}
	}
	eq := func(a, b byte) bool {
		if query {
			return lower(a) == lower(b)
		}
		return a == b
	}
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(toks) && (toks[i].wild == '?' || (toks[i].wild == 0 && eq(toks[i].c, s[j]))):
			i++
			j++
		case i < len(toks) && toks[i].wild == '*':
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
	for i < len(toks) && toks[i].wild == '*' {
		i++
	}
	return i == len(toks)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
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

// Valid reports whether r keeps the ALB's documented limits: values per
// condition and per rule, wildcards per rule, and a fixed response's
// status, content type and body length.
func Valid(r Rule) bool {
	wild := 0
	for _, p := range r.PathPatterns {
		wild += wildcards(p, false)
	}
	for _, q := range r.Query {
		wild += wildcards(q.Key, true) + wildcards(q.Value, true)
		if q.Value == "" {
			return false
		}
	}
	headerValues := 0
	if h := r.Header; h != nil {
		if h.Name == "" || len(h.Values) == 0 || strings.ContainsAny(h.Name, "*?") {
			return false
		}
		headerValues = len(h.Values)
		for _, v := range h.Values {
			wild += wildcards(v, true)
		}
	}
	values := len(r.Methods) + len(r.PathPatterns) + len(r.Query) + headerValues
	for _, n := range []int{len(r.Methods), len(r.PathPatterns), len(r.Query), headerValues} {
		if n > maxConditionValues {
			return false
		}
	}
	if values > maxRuleValues || wild > maxRuleWildcards {
		return false
	}
	switch a := r.Action; a.Type {
	case ToFunction, ToEndpoint:
		return a.Response == nil
	case Fixed:
		f := a.Response
		return f != nil && a.HostRewrite == KeepHost && a.StripPrefix == "" &&
			(f.Status/100 == 2 || f.Status/100 == 4 || f.Status/100 == 5) && f.Status < 600 &&
			slices.Contains(FixedContentTypes, f.ContentType) && len(f.Body) <= maxFixedBody
	}
	return false
}

func wildcards(p string, query bool) int {
	n := 0
	for i := 0; i < len(p); i++ {
		switch {
		case query && p[i] == '\\':
			i++
		case p[i] == '*' || p[i] == '?':
			n++
		}
	}
	return n
}

// ResponseHeader is one header the HTTPS listener sets on every answer, by
// its listener attribute. The ALB adds the header with the configured value
// to all responses, replacing a value the target sent:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/header-modification.html#insert-header
type ResponseHeader struct {
	Attribute string `json:"attribute"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

// Security header values. Every answer from the proxy's origin carries
// them, so that an object uploaded as text/html or image/svg+xml never runs
// script as that origin, whether the function served it or the ALB
// forwarded it from the endpoint (/_direct, passthrough).
const (
	ContentTypeOptions    = "nosniff"
	ContentSecurityPolicy = "sandbox"
)

// ResponseHeaders are the HTTPS listener's response-header attributes.
var ResponseHeaders = []ResponseHeader{
	{Attribute: "routing.http.response.x_content_type_options.header_value", Name: "X-Content-Type-Options", Value: ContentTypeOptions},
	{Attribute: "routing.http.response.content_security_policy.header_value", Name: "Content-Security-Policy", Value: ContentSecurityPolicy},
}

// Listener is the whole HTTPS listener, as `s3proxy rules` prints it.
type Listener struct {
	Rules           []Rule           `json:"rules"`
	ResponseHeaders []ResponseHeader `json:"responseHeaders"`
}

// ListenerFor returns the HTTPS listener for p.
func ListenerFor(p Params) Listener {
	return Listener{Rules: Table(p), ResponseHeaders: ResponseHeaders}
}
