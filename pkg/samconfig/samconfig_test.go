package samconfig

import (
	"errors"
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

// The repository's own samconfig.toml: rewriting [default] keeps every
// line of the other environments and of [default] itself but the values
// written, and what it writes parses back.
func TestUpdateKeepsTheRest(t *testing.T) {
	doc, err := os.ReadFile("../../samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	e := Env{Name: "default", StackName: "s3proxy-studio", Region: "eu-west-1",
		Parameters: map[string]string{"BucketName": "media", "StudioCidrs": "192.168.0.0/16,172.16.0.0/12", "Note": `a "quoted" \ value`},
		Order:      []string{"BucketName", "StudioCidrs"}}
	out := Update(doc, e, []string{"Written by a test."})
	got, err := Parse(out, "default")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.StackName != e.StackName || got.Region != e.Region {
		t.Errorf("stack %q region %q", got.StackName, got.Region)
	}
	if len(got.Parameters) != len(e.Parameters) {
		t.Errorf("parameters %v, want %v", got.Parameters, e.Parameters)
	}
	for k, v := range e.Parameters {
		if got.Parameters[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Parameters[k], v)
		}
	}
	// Every line but the four written is still there, in order.
	written := map[string]bool{"stack_name": true, "region": true, "s3_prefix": true, "parameter_overrides": true}
	inDefault := false
	rest := string(out)
	for _, l := range strings.Split(string(doc), "\n") {
		if m := header.FindStringSubmatch(l); m != nil {
			inDefault = strings.HasPrefix(m[1], "default.")
		}
		k, _, _ := strings.Cut(l, "=")
		if strings.TrimSpace(l) == "" || inDefault && written[strings.TrimSpace(k)] {
			continue
		}
		i := strings.Index(rest, l)
		if i < 0 {
			t.Fatalf("line %q lost or out of order:\n%s", l, out)
		}
		rest = rest[i+len(l):]
	}
	for _, w := range []string{"[default.validate.parameters]\nlint = true", "cached = false", "# resolve_s3 creates SAM's managed artifact bucket"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("lost %q", w)
		}
	}
	prod, err := Parse(out, "prod")
	if err != nil || prod.StackName != "s3proxy-prod" {
		t.Errorf("prod after the rewrite: %+v, %v", prod, err)
	}
	// Writing again changes nothing.
	if again := Update(out, e, nil); string(again) != string(out) {
		t.Errorf("a second write differs:\n%s", again)
	}
}

func TestUpdateShapes(t *testing.T) {
	e := Env{Name: "studio", StackName: "s", Region: "us-east-1", Parameters: map[string]string{"BucketName": "b"}}
	for _, tc := range []struct {
		name, doc string
		want      []string
		not       []string
	}{
		{"empty file", "", []string{"version = 0.1\n", "[studio.deploy.parameters]", "cached = false"}, nil},
		{"a new environment goes at the end", "version = 0.1\n\n[default.global.parameters]\nstack_name = \"x\"\n",
			[]string{"stack_name = \"x\"\n\n[studio.global.parameters]"}, nil},
		{"a table missing, and its own keys kept", "version = 0.1\n[studio.global.parameters]\nstack_name = \"old\"\n# keep me\n[studio.deploy.parameters]\ns3_bucket = \"artifacts\"\nregion = \"eu-west-1\"\n",
			[]string{"stack_name = \"s\"\nregion = \"us-east-1\"\n# keep me\n", "s3_bucket = \"artifacts\"\nregion = \"us-east-1\"\n", "[studio.build.parameters]\ncached = false"},
			[]string{"resolve_s3", "eu-west-1"}},
		{"a list over several lines", "[studio.deploy.parameters]\nparameter_overrides = [\n  \"BucketName=old\",\n  \"KeyPrefixes=x/\"\n]\nconfirm_changeset = true\n",
			[]string{`parameter_overrides = "BucketName=\"b\""` + "\nconfirm_changeset = true"}, []string{"KeyPrefixes", "old"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := string(Update([]byte(tc.doc), e, nil))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("still has %q:\n%s", n, out)
				}
			}
			got, err := Parse([]byte(out), "studio")
			if err != nil || got.StackName != "s" || got.Region != "us-east-1" || got.Parameters["BucketName"] != "b" {
				t.Errorf("%+v, %v\n%s", got, err, out)
			}
		})
	}
	if _, err := Parse([]byte("version = 0.1\n"), "nope"); !errors.Is(err, ErrNoEnv) {
		t.Errorf("a missing environment: %v", err)
	}
}
