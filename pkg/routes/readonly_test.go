package routes

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A read-only table forwards no write anywhere, in either passthrough
// setting: every PUT, POST and DELETE gets the load balancer's own answer.
// Reads route exactly as in the writable table.
func TestReadOnlyForwardsNoWrite(t *testing.T) {
	for _, pathStyle := range []bool{false, true} {
		for _, prefixes := range [][]string{nil, {"shotgun/"}, {"a/", "b/", "c/", "d/", "e/"}} {
			p := Params{Bucket: "media", KeyPrefixes: prefixes, PathStyle: pathStyle}
			writable := Table(p)
			p.ReadOnly = true
			ro := Table(p)
			for _, r := range ro {
				if !Valid(r) {
					t.Errorf("rule %q breaks the ALB's limits", r.Name)
				}
				if r.When != Always {
					t.Errorf("read-only rule %q exists only %q: a read-only table has no passthrough dimension", r.Name, r.When)
				}
				if slices.ContainsFunc(r.Methods, func(m string) bool { return slices.Contains(writeMethods, m) }) && r.Action.Type != Fixed {
					t.Errorf("read-only rule %q forwards writes to the %s", r.Name, r.Action.Type)
				}
			}
			base := "/"
			if pathStyle {
				base = "/media/"
			}
			first := "x/"
			if len(prefixes) > 0 {
				first = prefixes[0]
			}
			for _, method := range writeMethods {
				for _, target := range []string{
					base + first + "new.mov?" + sig,
					base + first + "new.mov?uploadId=u&partNumber=1&" + sig,
					base + first + "new.mov?uploads&" + sig,
					base + first + "new.mov",
					"/_direct/media/" + first + "new.mov?" + sig,
					"/?policy&" + sig,
				} {
					for _, passthrough := range []bool{true, false} {
						name := fmt.Sprintf("%s %s prefixes=%v pathStyle=%v passthrough=%v", method, target, prefixes, pathStyle, passthrough)
						got := Match(ro, request(method, target), passthrough)
						if got.Action.Type != Fixed {
							t.Errorf("%s: rule %q sends it to the %s", name, got.Name, got.Action.Type)
							continue
						}
						want := 403
						if strings.HasPrefix(target, DirectPrefix) {
							want = 405
						}
						if got.Action.Response.Status != want {
							t.Errorf("%s: %d, want %d", name, got.Action.Response.Status, want)
						}
						if want == 403 && !strings.Contains(got.Action.Response.Body, "read-only") {
							t.Errorf("%s: body %q does not say the proxy is read-only", name, got.Action.Response.Body)
						}
					}
				}
			}
			for _, c := range []struct{ method, target string }{
				{"GET", base + first + "a.mov?" + sig}, {"HEAD", base + first + "a.mov?" + sig}, {"GET", "/ping"},
				{"GET", "/_direct/media/" + first + "a.mov?" + sig}, {"OPTIONS", base + first + "a.mov"},
				{"GET", base + first + "a.mov"}, {"PATCH", base + first + "a.mov?" + sig},
			} {
				for _, passthrough := range []bool{true, false} {
					w, r := Match(writable, request(c.method, c.target), passthrough), Match(ro, request(c.method, c.target), passthrough)
					if w.Name != r.Name || w.Action.Type != r.Action.Type {
						t.Errorf("%s %s: read-only rule %q (%s), writable %q (%s): reads must route alike", c.method, c.target, r.Name, r.Action.Type, w.Name, w.Action.Type)
					}
				}
			}
		}
	}
}
