package samconfig

import (
	"os"
	"strings"
	"testing"
)

func TestParseOverrides(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		order    string
		err      string
	}{
		{"quoted", `BucketName="media" KeyPrefixes="shotgun/,a b/"`, map[string]string{"BucketName": "media", "KeyPrefixes": "shotgun/,a b/"}, "BucketName KeyPrefixes", ""},
		{"bare and empty", `A=x B="" C=`, map[string]string{"A": "x", "B": "", "C": ""}, "A B C", ""},
		{"escapes", `A="say \"hi\" \\ there"`, map[string]string{"A": `say "hi" \ there`}, "A", ""},
		{"quoted key", `"A"="1"`, map[string]string{"A": "1"}, "A", ""},
		{"no equals", `BucketName`, nil, "", "not Key=Value"},
		{"unclosed", `A="open`, nil, "", "no closing quote"},
		{"bad key", `A-B=1`, nil, "", "not a parameter name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, order, err := ParseOverrides(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(order, " ") != tc.order || len(got) != len(tc.want) {
				t.Fatalf("got %v %v, want %v %v", got, order, tc.want, tc.order)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			// What FormatOverrides writes reads back the same.
			again, _, err := ParseOverrides(FormatOverrides(got, order))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range got {
				if again[k] != v {
					t.Errorf("round trip: %s = %q, want %q", k, again[k], v)
				}
			}
		})
	}
}

// The repository's own samconfig.toml keeps every line of its other
// environments when one is rewritten, and the new one parses back.
func TestUpsertKeepsTheRest(t *testing.T) {
	doc, err := os.ReadFile("../../samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	e := Env{Name: "default", StackName: "s3proxy-studio", Region: "eu-west-1",
		Parameters: map[string]string{"BucketName": "media", "StudioCidrs": "192.168.0.0/16,172.16.0.0/12", "Note": `a "quoted" \ value`},
		Order:      []string{"BucketName", "StudioCidrs"}}
	out := Upsert(doc, "default", Render(e, []string{"Written by a test."}))
	got, err := Parse(out, "default")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.StackName != e.StackName || got.Region != e.Region {
		t.Errorf("stack %q region %q", got.StackName, got.Region)
	}
	for k, v := range e.Parameters {
		if got.Parameters[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Parameters[k], v)
		}
	}
	// Every line outside [default.*] is still there, in order.
	var kept []string
	mine := false
	for _, l := range strings.Split(string(doc), "\n") {
		if m := header.FindStringSubmatch(l); m != nil {
			mine = strings.HasPrefix(m[1], "default.")
		}
		if !mine && strings.TrimSpace(l) != "" {
			kept = append(kept, l)
		}
	}
	rest := string(out)
	for _, l := range kept {
		i := strings.Index(rest, l)
		if i < 0 {
			t.Fatalf("line %q lost or out of order:\n%s", l, out)
		}
		rest = rest[i+len(l):]
	}
	if strings.Count(string(out), "[default.deploy.parameters]") != 1 {
		t.Errorf("the environment is not written once:\n%s", out)
	}
	prod, err := Parse(out, "prod")
	if err != nil || prod.StackName != "s3proxy-prod" {
		t.Errorf("prod after the rewrite: %+v, %v", prod, err)
	}

	// A new environment goes at the end; an empty file gets the version.
	out2 := Upsert(out, "studio", Render(Env{Name: "studio", StackName: "s", Region: "us-east-1"}, nil))
	if !strings.HasPrefix(string(out2), string(out)[:len(out)-1]) || !strings.Contains(string(out2), "\n\n[studio.global.parameters]\n") {
		t.Errorf("a new environment is not appended:\n%s", out2)
	}
	if _, err := Parse(out2, "studio"); err != nil {
		t.Error(err)
	}
	fresh := Upsert(nil, "default", Render(e, nil))
	if !strings.HasPrefix(string(fresh), "version = 0.1\n") {
		t.Errorf("new file:\n%s", fresh)
	}
	if _, err := Parse(fresh, "nope"); err == nil {
		t.Error("a missing environment parsed")
	}
}
