package routes

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	open := Table(Params{Bucket: "media"})
	prefixed := Table(Params{Bucket: "media", KeyPrefixes: []string{"shotgun/", "a/", "b/", "c/", "d/"}})
	tests := []struct {
		name        string
		rules       []Rule
		method      string
		path        string
		passthrough bool
		want        string
	}{
		{"ping", open, "GET", "/ping", true, "ping"},
		{"ping is exact", open, "GET", "/ping/x", true, "default"},
		{"ping before passthrough", open, "PUT", "/ping", true, "ping"},
		{"direct get", open, "GET", "/_direct/media/key", true, "direct"},
		{"direct head", open, "HEAD", "/_direct/media/key", true, "direct"},
		{"direct put refused", open, "PUT", "/_direct/media/key", true, "direct-refuse"},
		{"direct delete refused", open, "DELETE", "/_direct/media/key", true, "direct-refuse"},
		{"direct post refused", open, "POST", "/_direct/media/key", false, "direct-refuse"},
		{"direct listing refused", open, "GET", "/_direct/media/", true, "direct-refuse"},
		{"direct bucket root refused", open, "GET", "/_direct/media", true, "direct-refuse"},
		{"direct other bucket refused", open, "GET", "/_direct/other/key", true, "direct-refuse"},
		{"direct bucket name is whole", open, "GET", "/_direct/mediax/key", true, "direct-refuse"},
		{"direct in prefix", prefixed, "GET", "/_direct/media/shotgun/a.mov", true, "direct"},
		{"direct fourth prefix", prefixed, "GET", "/_direct/media/c/a.mov", true, "direct-2"},
		{"direct outside prefixes", prefixed, "GET", "/_direct/media/secret/a.mov", true, "direct-refuse"},
		{"direct needs the slash", open, "GET", "/_directory", true, "default"},
		{"put passthrough", open, "PUT", "/shotgun/a.mov", true, "passthrough"},
		{"post passthrough", open, "POST", "/shotgun/a.mov", true, "passthrough"},
		{"delete passthrough", open, "DELETE", "/shotgun/a.mov", true, "passthrough"},
		{"put without passthrough", open, "PUT", "/shotgun/a.mov", false, "default"},
		{"get", open, "GET", "/shotgun/a.mov", true, "default"},
		{"options", open, "OPTIONS", "/shotgun/a.mov", true, "default"},
		{"head", open, "HEAD", "/shotgun/a.mov", true, "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.rules, tc.method, tc.path, tc.passthrough); got.Name != tc.want {
				t.Errorf("got %q, want %q", got.Name, tc.want)
			}
		})
	}
}

func TestTableShape(t *testing.T) {
	for n := 0; n <= MaxKeyPrefixes; n++ {
		var prefixes []string
		for i := range n {
			prefixes = append(prefixes, strings.Repeat("p", i+1)+"/")
		}
		rules := Table(Params{Bucket: "media", KeyPrefixes: prefixes})
		if last := rules[len(rules)-1]; last.Priority != 0 || last.Target != Lambda {
			t.Errorf("%d prefixes: default rule %+v, want priority 0 to the function", n, last)
		}
		seen := map[int]bool{}
		patterns := 0
		for _, r := range rules[:len(rules)-1] {
			if r.Priority <= 0 || seen[r.Priority] {
				t.Errorf("%d prefixes: rule %q has a missing or repeated priority %d", n, r.Name, r.Priority)
			}
			seen[r.Priority] = true
			if !Valid(r) {
				t.Errorf("%d prefixes: rule %q breaks the ALB's condition limits: %+v", n, r.Name, r)
			}
			if r.Target == Endpoint && r.StripPrefix == DirectPrefix {
				patterns += len(r.PathPatterns)
				if strings.Join(r.Methods, ",") != "GET,HEAD" {
					t.Errorf("%d prefixes: %q carries %v to the endpoint, want GET and HEAD only", n, r.Name, r.Methods)
				}
			}
		}
		if want := max(n, 1); patterns != want {
			t.Errorf("%d prefixes: %d /_direct patterns, want %d", n, patterns, want)
		}
	}
}

func TestValidCatchesOverLimit(t *testing.T) {
	r := Rule{PathPatterns: []string{"/a*", "/b*", "/c*", "/d*"}}
	if Valid(r) {
		t.Error("four path values in one condition passed")
	}
	r = Rule{PathPatterns: []string{"/a*", "/b*", "/c*"}, Methods: []string{"GET", "HEAD", "PUT"}}
	if Valid(r) {
		t.Error("six values in one rule passed")
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"/a/?*", "/a/x", true},
		{"/a/?*", "/a/", false},
		{"/a/*", "/a/", true},
		{"/a*b", "/axxb", true},
		{"/a*b", "/axxc", false},
		{"/ping", "/ping", true},
		{"/ping", "/pingx", false},
	}
	for _, tc := range tests {
		if got := wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
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
