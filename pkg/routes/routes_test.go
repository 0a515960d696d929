package routes

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		passthrough bool
		want        string
	}{
		{"ping", "GET", "/ping", true, "ping"},
		{"ping is exact", "GET", "/ping/x", true, "default"},
		{"ping before passthrough", "PUT", "/ping", true, "ping"},
		{"direct", "GET", "/_direct/media/key", true, "direct"},
		{"direct any method", "PUT", "/_direct/media/key", true, "direct"},
		{"direct needs the slash", "GET", "/_directory", true, "default"},
		{"put passthrough", "PUT", "/shotgun/a.mov", true, "passthrough"},
		{"post passthrough", "POST", "/shotgun/a.mov", true, "passthrough"},
		{"delete passthrough", "DELETE", "/shotgun/a.mov", true, "passthrough"},
		{"put without passthrough", "PUT", "/shotgun/a.mov", false, "default"},
		{"get", "GET", "/shotgun/a.mov", true, "default"},
		{"options", "OPTIONS", "/shotgun/a.mov", true, "default"},
		{"head", "HEAD", "/shotgun/a.mov", true, "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.method, tc.path, tc.passthrough); got.Name != tc.want {
				t.Errorf("got %q, want %q", got.Name, tc.want)
			}
		})
	}
}

func TestTableShape(t *testing.T) {
	rules := Table()
	if last := rules[len(rules)-1]; last.Priority != 0 || last.Target != Lambda {
		t.Errorf("default rule %+v, want priority 0 to the function", last)
	}
	seen := map[int]bool{}
	for _, r := range rules[:len(rules)-1] {
		if r.Priority <= 0 || seen[r.Priority] {
			t.Errorf("rule %q has a missing or repeated priority %d", r.Name, r.Priority)
		}
		seen[r.Priority] = true
		// ALB limits: at most 5 condition values per rule.
		if n := len(r.PathPatterns) + len(r.Methods); n > 5 {
			t.Errorf("rule %q has %d condition values, over the ALB's 5", r.Name, n)
		}
	}
}
