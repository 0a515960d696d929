package routes

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// request is a request line; an OPTIONS is a browser's CORS preflight,
// and "OPTIONS-plain" an OPTIONS without Access-Control-Request-Method.
func request(method, target string) Request {
	path, query, _ := strings.Cut(target, "?")
	r := Request{Method: method, Path: path, RawQuery: query}
	switch method {
	case "OPTIONS":
		r.Header = http.Header{"Origin": {"https://site.example"}, "Access-Control-Request-Method": {"GET"}}
	case "OPTIONS-plain":
		r.Method = "OPTIONS"
	}
	return r
}

const sig = "X-Amz-Credential=AK%2F20261120%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc"

func TestMatch(t *testing.T) {
	open := Table(Params{Bucket: "media"})
	prefixed := Table(Params{Bucket: "media", KeyPrefixes: []string{"shotgun/", "a/", "b/", "c/", "d/"}})
	pathStyle := Table(Params{Bucket: "media", KeyPrefixes: []string{"shotgun/"}, PathStyle: true})
	tests := []struct {
		name        string
		rules       []Rule
		method      string
		target      string
		passthrough bool
		want        string
	}{
		{"ping", open, "GET", "/ping", true, "ping"},
		{"ping head", open, "HEAD", "/ping", true, "ping"},
		{"ping is exact", open, "GET", "/ping/x", true, "unsigned-read"},
		{"ping preflight", open, "OPTIONS", "/ping", true, "preflight"},
		{"put on ping is an object write", open, "PUT", "/ping", true, "passthrough"},
		{"direct get", open, "GET", "/_direct/media/key?" + sig, true, "direct"},
		{"direct unsigned get still goes to S3", open, "GET", "/_direct/media/key", true, "direct"},
		{"direct head", open, "HEAD", "/_direct/media/key", true, "direct"},
		{"direct preflight", open, "OPTIONS", "/_direct/media/key", true, "preflight"},
		{"direct put refused", open, "PUT", "/_direct/media/key?" + sig, true, "direct-refuse"},
		{"direct delete refused", open, "DELETE", "/_direct/media/key", true, "direct-refuse"},
		{"direct post refused", open, "POST", "/_direct/media/key", false, "direct-refuse"},
		{"direct bare put refused", open, "PUT", "/_direct", true, "direct-refuse"},
		{"direct signed listing to the function", open, "GET", "/_direct/media/?" + sig, true, "signed-read"},
		{"direct unsigned listing refused", open, "GET", "/_direct/media/", true, "unsigned-read"},
		{"direct bucket root", open, "GET", "/_direct/media?" + sig, true, "signed-read"},
		{"direct other bucket", open, "GET", "/_direct/other/key?" + sig, true, "signed-read"},
		{"direct bucket name is whole", open, "GET", "/_direct/mediax/key", true, "unsigned-read"},
		{"direct in prefix", prefixed, "GET", "/_direct/media/shotgun/a.mov", true, "direct"},
		{"direct fourth prefix", prefixed, "GET", "/_direct/media/c/a.mov", true, "direct-2"},
		{"direct outside prefixes", prefixed, "GET", "/_direct/media/secret/a.mov?" + sig, true, "signed-read"},
		{"direct needs the slash", open, "GET", "/_directory", true, "unsigned-read"},
		{"put passthrough", open, "PUT", "/shotgun/a.mov?" + sig, true, "passthrough"},
		{"post passthrough", open, "POST", "/shotgun/a.mov?uploads", true, "passthrough"},
		{"delete passthrough", open, "DELETE", "/shotgun/a.mov?uploadId=x", true, "passthrough"},
		{"prefixed passthrough", prefixed, "PUT", "/shotgun/a.mov", true, "passthrough"},
		{"third prefix passthrough", prefixed, "PUT", "/b/a.mov", true, "passthrough-2"},
		{"fifth prefix passthrough", prefixed, "PUT", "/d/a.mov", true, "passthrough-3"},
		{"write outside the prefixes", prefixed, "PUT", "/secret/a.mov?" + sig, true, "write-refuse"},
		{"prefix is a prefix of the key, not of a segment", prefixed, "PUT", "/shotgunx/a.mov", true, "write-refuse"},
		{"path-style passthrough", pathStyle, "PUT", "/media/shotgun/a.mov", true, "passthrough"},
		{"path-style without the bucket", pathStyle, "PUT", "/shotgun/a.mov", true, "write-refuse"},
		{"path-style other bucket", pathStyle, "PUT", "/other/shotgun/a.mov", true, "write-refuse"},
		{"put without passthrough", open, "PUT", "/shotgun/a.mov?" + sig, false, "signed-write"},
		{"sigv2 put without passthrough", open, "PUT", "/shotgun/a.mov?AWSAccessKeyId=AK&Expires=1&Signature=x%2By", false, "signed-write"},
		{"unsigned put without passthrough", open, "PUT", "/shotgun/a.mov", false, "write-refuse"},
		{"signed get", open, "GET", "/shotgun/a.mov?" + sig, true, "signed-read"},
		{"sigv2 get", open, "GET", "/shotgun/a.mov?AWSAccessKeyId=AK&Expires=1&Signature=x", true, "signed-read"},
		{"signature key in any case", open, "GET", "/shotgun/a.mov?x-amz-signature=abc", true, "signed-read"},
		{"signature without a value", open, "GET", "/shotgun/a.mov?X-Amz-Signature", true, "signed-read"},
		{"credential alone is no signature", open, "GET", "/shotgun/a.mov?X-Amz-Credential=AK", true, "unsigned-read"},
		{"signature as a value is no signature", open, "GET", "/shotgun/a.mov?q=X-Amz-Signature", true, "unsigned-read"},
		{"signature-like key", open, "GET", "/shotgun/a.mov?X-Amz-Signatures=1", true, "unsigned-read"},
		{"unsigned get", open, "GET", "/shotgun/a.mov", true, "unsigned-read"},
		{"unsigned head", open, "HEAD", "/", true, "unsigned-read"},
		{"options", open, "OPTIONS", "/shotgun/a.mov", true, "preflight"},
		{"options that is no preflight", open, "OPTIONS-plain", "/shotgun/a.mov", true, "default"},
		{"patch", open, "PATCH", "/shotgun/a.mov?" + sig, true, "default"},
		{"lower-case get is another method", open, "get", "/shotgun/a.mov?" + sig, true, "default"},
		{"trace", open, "TRACE", "/", false, "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.rules, request(tc.method, tc.target), tc.passthrough); got.Name != tc.want {
				t.Errorf("got %q, want %q", got.Name, tc.want)
			}
		})
	}
}

// Bucket-level calls name no object: they never reach the endpoint, and
// are answered by the load balancer itself.
func TestBucketCallsNeverReachTheEndpoint(t *testing.T) {
	for _, pathStyle := range []bool{false, true} {
		for _, prefixes := range [][]string{nil, {"shotgun/"}} {
			p := Params{Bucket: "media", KeyPrefixes: prefixes, PathStyle: pathStyle}
			rules := Table(p)
			root := "/"
			calls := []struct{ method, target string }{}
			if pathStyle {
				// another bucket's configuration, on the shared host
				root = "/media"
				calls = append(calls, struct{ method, target string }{"PUT", "/other?policy&" + sig})
			}
			for _, c := range append(calls, []struct{ method, target string }{
				{"PUT", root + "?policy&" + sig},
				{"DELETE", root + "?policy&" + sig},
				{"DELETE", root + "?" + sig},
				{"PUT", root + "?cors&" + sig},
				{"PUT", root + "?lifecycle&" + sig},
				{"PUT", root + "?acl&" + sig},
				{"POST", root + "?delete&" + sig},
				{"PUT", strings.TrimSuffix(root, "/") + "/?versioning&" + sig},
			}...) {
				for _, passthrough := range []bool{true, false} {
					name := fmt.Sprintf("%s %s prefixes=%v pathStyle=%v passthrough=%v", c.method, c.target, prefixes, pathStyle, passthrough)
					got := Match(rules, request(c.method, c.target), passthrough)
					if got.Action.Type == ToEndpoint {
						t.Errorf("%s: rule %q sends it to the endpoint", name, got.Name)
					}
					if passthrough && got.Action.Type != Fixed {
						t.Errorf("%s: rule %q, want a fixed answer from the load balancer", name, got.Name)
					}
				}
			}
		}
	}
}

// An unsigned scan never invokes the function; what the proxy serves does.
func TestJunkNeverReachesTheFunction(t *testing.T) {
	rules := Table(Params{Bucket: "media", KeyPrefixes: []string{"shotgun/"}})
	methods := []string{"GET", "HEAD", "PATCH", "TRACE", "PROPFIND", "CONNECT", "FOO", "get", "OPTIONS-plain"}
	for i := range 1000 {
		method := methods[i%len(methods)]
		target := fmt.Sprintf("/%s/p%d/x.php?id=%d&X-Amz-Credential=k", []string{"shotgun", "_direct/media/secret", "admin", ".git", "_direct"}[i%5], i, i)
		for _, passthrough := range []bool{true, false} {
			if r := Match(rules, request(method, target), passthrough); r.Action.Type == ToFunction {
				t.Fatalf("%s %s (passthrough %v) reaches the function through %q", method, target, passthrough, r.Name)
			}
		}
	}
	for _, c := range []struct{ method, target string }{
		{"GET", "/ping"}, {"HEAD", "/ping"}, {"OPTIONS", "/shotgun/a.mov"}, {"OPTIONS", "/_direct/media/shotgun/a.mov"},
		{"GET", "/shotgun/a.mov?" + sig}, {"HEAD", "/shotgun/a.mov?" + sig},
	} {
		if r := Match(rules, request(c.method, c.target), true); r.Action.Type != ToFunction {
			t.Errorf("%s %s: rule %q, want the function", c.method, c.target, r.Name)
		}
	}
}

func TestTableShape(t *testing.T) {
	for n := 0; n <= MaxKeyPrefixes; n++ {
		for _, pathStyle := range []bool{false, true} {
			var prefixes []string
			for i := range n {
				prefixes = append(prefixes, strings.Repeat("p", i+1)+"/")
			}
			name := fmt.Sprintf("%d prefixes, path-style %v", n, pathStyle)
			rules := Table(Params{Bucket: "media", KeyPrefixes: prefixes, PathStyle: pathStyle})
			if len(rules)-1 > MaxRules {
				t.Errorf("%s: %d rules, over the listener's %d", name, len(rules)-1, MaxRules)
			}
			last := rules[len(rules)-1]
			if last.Priority != 0 || last.Action.Type != Fixed || last.Action.Response.Status != 405 ||
				len(last.Methods)+len(last.PathPatterns)+len(last.Query) != 0 {
				t.Errorf("%s: default rule %+v, want priority 0, no conditions, a fixed 405", name, last)
			}
			if !Valid(last) {
				t.Errorf("%s: the default action breaks the ALB's limits", name)
			}
			seen := map[int]bool{}
			direct, passthrough := 0, 0
			prev := 0
			for _, r := range rules[:len(rules)-1] {
				if r.Priority <= prev || r.Priority > MaxPriority || seen[r.Priority] {
					t.Errorf("%s: rule %q has a missing, repeated, out-of-order or out-of-range priority %d", name, r.Name, r.Priority)
				}
				prev = r.Priority
				seen[r.Priority] = true
				if !Valid(r) {
					t.Errorf("%s: rule %q breaks the ALB's limits: %+v", name, r.Name, r)
				}
				if r.Action.Type != ToEndpoint {
					continue
				}
				switch r.Action.HostRewrite {
				case EndpointHost:
					direct += len(r.PathPatterns)
					if strings.Join(r.Methods, ",") != "GET,HEAD" || r.Action.StripPrefix != DirectPrefix {
						t.Errorf("%s: %q carries %v to the endpoint host, want GET and HEAD with /_direct stripped", name, r.Name, r.Methods)
					}
				case SignedHost:
					passthrough += len(r.PathPatterns)
					if r.When != WithPassthrough || len(r.PathPatterns) == 0 || r.Action.StripPrefix != "" {
						t.Errorf("%s: passthrough rule %q: %+v", name, r.Name, r)
					}
				default:
					t.Errorf("%s: %q forwards to the endpoint with host %q", name, r.Name, r.Action.HostRewrite)
				}
			}
			if want := max(n, 1); direct != want || passthrough != want {
				t.Errorf("%s: %d /_direct and %d passthrough patterns, want %d of each", name, direct, passthrough, want)
			}
		}
	}
}

func TestValidCatchesOverLimit(t *testing.T) {
	fn := Action{Type: ToFunction}
	body := func(n int) Action {
		return Action{Type: Fixed, Response: &FixedResponse{Status: 403, ContentType: "text/plain", Body: strings.Repeat("x", n)}}
	}
	if !Valid(Rule{Methods: []string{"GET"}, Action: body(maxFixedBody)}) {
		t.Fatal("a valid fixed response is refused")
	}
	for name, r := range map[string]Rule{
		"four path values in one condition": {PathPatterns: []string{"/a*", "/b*", "/c*", "/d*"}, Action: fn},
		"six values in one rule":            {PathPatterns: []string{"/a*", "/b*", "/c*"}, Methods: []string{"GET", "HEAD", "PUT"}, Action: fn},
		"six values with the query":         {Methods: []string{"PUT", "POST", "DELETE"}, PathPatterns: []string{"/a*"}, Query: signedQuery, Action: fn},
		"six wildcards":                     {PathPatterns: []string{"/a*?*", "/b??"}, Query: []QueryPair{{Key: "k", Value: "*"}}, Action: fn},
		"six values with a header":          {Methods: []string{"PUT", "POST", "DELETE"}, PathPatterns: []string{"/a*", "/b*"}, Header: &HeaderCondition{Name: "X", Values: []string{"1"}}, Action: fn},
		"header without values":             {Header: &HeaderCondition{Name: "X"}, Action: fn},
		"wildcard in a header name":         {Header: &HeaderCondition{Name: "X-*", Values: []string{"1"}}, Action: fn},
		"empty query value":                 {Query: []QueryPair{{Key: "k"}}, Action: fn},
		"XML fixed response":                {Action: Action{Type: Fixed, Response: &FixedResponse{Status: 403, ContentType: "application/xml"}}},
		"fixed body over 1024":              {Action: body(maxFixedBody + 1)},
		"fixed redirect status":             {Action: Action{Type: Fixed, Response: &FixedResponse{Status: 302, ContentType: "text/plain"}}},
		"fixed without a response":          {Action: Action{Type: Fixed}},
		"fixed with a rewrite":              {Action: Action{Type: Fixed, HostRewrite: SignedHost, Response: &FixedResponse{Status: 403, ContentType: "text/plain"}}},
		"forward with a response":           {Action: Action{Type: ToFunction, Response: &FixedResponse{Status: 200, ContentType: "text/plain"}}},
		"no action":                         {},
	} {
		if Valid(r) {
			t.Errorf("%s passed", name)
		}
	}
}

// The fixed answers are S3 error documents a client can parse.
func TestFixedAnswersAreS3Errors(t *testing.T) {
	for _, r := range Table(Params{Bucket: "media"}) {
		if r.Action.Type != Fixed {
			continue
		}
		f := r.Action.Response
		var e struct {
			XMLName xml.Name `xml:"Error"`
			Code    string   `xml:"Code"`
			Message string   `xml:"Message"`
		}
		if err := xml.Unmarshal([]byte(f.Body), &e); err != nil || e.Code == "" || e.Message == "" {
			t.Errorf("%s: body %q is not an S3 error (%v)", r.Name, f.Body, err)
		}
		if want := map[int]string{403: "AccessDenied", 405: "MethodNotAllowed"}[f.Status]; e.Code != want {
			t.Errorf("%s: status %d with code %q, want %q", r.Name, f.Status, e.Code, want)
		}
		if f.ContentType != "text/plain" {
			t.Errorf("%s: content type %q; text/plain is the listed type no browser runs", r.Name, f.ContentType)
		}
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		query      bool
		want       bool
	}{
		{"/a/?*", "/a/x", false, true},
		{"/a/?*", "/a/", false, false},
		{"/a/*", "/a/", false, true},
		{"/a*b", "/axxb", false, true},
		{"/a*b", "/axxc", false, false},
		{"/ping", "/ping", false, true},
		{"/ping", "/pingx", false, false},
		{"/Ping", "/ping", false, false},
		{"X-Amz-Signature", "x-amz-signature", true, true},
		{"X-Amz-Signature", "X-Amz-Signature2", true, false},
		{"*", "", true, true},
		{"?", "", true, false},
		{`a\*`, "a*", true, true},
		{`a\*`, "ab", true, false},
		{`a\?`, "ab", true, false},
		{`a\?`, "a?", true, true},
	}
	for _, tc := range tests {
		if got := wildcard(tc.pattern, tc.s, tc.query); got != tc.want {
			t.Errorf("wildcard(%q, %q, query %v) = %v, want %v", tc.pattern, tc.s, tc.query, got, tc.want)
		}
	}
}

func TestQueryHas(t *testing.T) {
	tests := []struct {
		raw   string
		pairs []QueryPair
		want  bool
	}{
		{"a=1&X-Amz-Signature=f00", signedQuery, true},
		{"Signature=abc%2B", signedQuery, true},
		{"", signedQuery, false},
		{"&&", signedQuery, false},
		{"X-Amz-Signature-Extra=1", signedQuery, false},
		{"X-Amz-%53ignature=1", signedQuery, false}, // compared as sent
		{"v=example", []QueryPair{{Value: "example"}}, true},
		{"v=other", []QueryPair{{Value: "example"}}, false},
		{"version=v1", []QueryPair{{Key: "version", Value: "V?"}}, true},
	}
	for _, tc := range tests {
		if got := queryHas(tc.raw, tc.pairs); got != tc.want {
			t.Errorf("queryHas(%q, %v) = %v, want %v", tc.raw, tc.pairs, got, tc.want)
		}
	}
}

func TestExpressible(t *testing.T) {
	for p, want := range map[string]bool{"shotgun/": true, "a-b_c.d~/": true, "with space/": false, "x*": false, "x?": false, "é/": false} {
		if got := Expressible(p); got != want {
			t.Errorf("Expressible(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestResponseHeaders(t *testing.T) {
	want := map[string]string{"X-Content-Type-Options": "nosniff"}
	names := map[string]bool{}
	for _, h := range ResponseHeaders {
		if !strings.HasPrefix(h.Attribute, "routing.http.response.") || !strings.HasSuffix(h.Attribute, ".header_value") {
			t.Errorf("%s: attribute %q is not a response-header attribute", h.Name, h.Attribute)
		}
		if w, ok := want[h.Name]; ok && h.Value != w {
			t.Errorf("%s = %q, want %q", h.Name, h.Value, w)
		}
		names[h.Name] = true
	}
	if !names["X-Content-Type-Options"] || !names["Content-Security-Policy"] {
		t.Errorf("response headers %v lack nosniff or a CSP", ResponseHeaders)
	}
	if !strings.Contains(ContentSecurityPolicy, "sandbox") {
		t.Errorf("CSP %q does not sandbox a stored document", ContentSecurityPolicy)
	}
}

func TestHeaderCondition(t *testing.T) {
	r := Rule{Header: &HeaderCondition{Name: "Access-Control-Request-Method", Values: []string{"G?T", "put"}}, Action: Action{Type: ToFunction}}
	for _, tc := range []struct {
		header http.Header
		want   bool
	}{
		{http.Header{"Access-Control-Request-Method": {"GET"}}, true},
		{http.Header{"Access-Control-Request-Method": {"PUT"}}, true},
		{http.Header{"Access-Control-Request-Method": {"DELETE", "get"}}, true},
		{http.Header{"Access-Control-Request-Method": {"DELETE"}}, false},
		{http.Header{"Origin": {"GET"}}, false},
		{nil, false},
	} {
		if got := r.matches(Request{Method: "OPTIONS", Path: "/", Header: tc.header}); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.header, got, tc.want)
		}
	}
}
