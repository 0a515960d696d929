// Package samconfig reads and writes one environment of an AWS SAM CLI
// configuration file (samconfig.toml): its stack name, region and
// parameter_overrides. Writing replaces only that environment's tables and
// keeps every other line of the file, comments included, as it was.
//
// File format: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html
package samconfig

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultFile is the file SAM reads when given no --config-file.
const DefaultFile = "samconfig.toml"

// Env is the part of one environment that s3proxy reads and writes.
type Env struct {
	// Name is the environment, e.g. "default" or "prod".
	Name string
	// StackName and Region are SAM's stack_name and region; region is read
	// from the global table first, as every SAM command reads it there.
	StackName, Region string
	// Parameters are the template parameter values of parameter_overrides.
	Parameters map[string]string
	// Order is the order parameters are written in; names not in it follow
	// sorted.
	Order []string
}

var envName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidName reports whether name can be an environment table's first key
// without quoting.
func ValidName(name string) error {
	if !envName.MatchString(name) {
		return fmt.Errorf("environment name %q: use letters, digits, '-' and '_' only", name)
	}
	return nil
}

// ErrNoEnv is returned by Load when the file has no such environment.
var ErrNoEnv = errors.New("no such environment")

// Load reads environment env of the file at path.
func Load(path, env string) (Env, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Env{}, err
	}
	return Parse(b, env)
}

// Parse reads environment env of a samconfig.toml document.
func Parse(doc []byte, env string) (Env, error) {
	var all map[string]any
	if err := toml.Unmarshal(doc, &all); err != nil {
		return Env{}, fmt.Errorf("not valid TOML: %w", err)
	}
	e, ok := all[env].(map[string]any)
	if !ok {
		return Env{}, fmt.Errorf("environment %q: %w", env, ErrNoEnv)
	}
	table := func(cmd string) map[string]any {
		c, _ := e[cmd].(map[string]any)
		p, _ := c["parameters"].(map[string]any)
		return p
	}
	global, deploy := table("global"), table("deploy")
	str := func(key string) string {
		for _, t := range []map[string]any{global, deploy} {
			if s, ok := t[key].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	out := Env{Name: env, StackName: str("stack_name"), Region: str("region"), Parameters: map[string]string{}}
	var raw string
	switch v := deploy["parameter_overrides"].(type) {
	case string:
		raw = v
	case []any:
		// SAM also takes a list of "Key=Value" strings.
		var parts []string
		for _, p := range v {
			if s, ok := p.(string); ok {
				parts = append(parts, s)
			}
		}
		raw = strings.Join(parts, " ")
	}
	params, order, err := ParseOverrides(raw)
	if err != nil {
		return Env{}, fmt.Errorf("environment %q, parameter_overrides: %w", env, err)
	}
	out.Parameters, out.Order = params, order
	return out, nil
}

// ParseOverrides reads SAM's parameter_overrides form: Key=Value pairs
// separated by spaces, a value either double-quoted (with \" and \\
// escapes) or a run of non-space characters. It returns the values and the
// keys in the order given.
func ParseOverrides(s string) (map[string]string, []string, error) {
	params := map[string]string{}
	var order []string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			return params, order, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return nil, nil, fmt.Errorf("%q is not Key=Value", truncate(s[i:]))
		}
		key := strings.Trim(s[i:i+eq], `"`)
		if !isKey(key) {
			return nil, nil, fmt.Errorf("%q is not a parameter name", key)
		}
		i += eq + 1
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, nil, fmt.Errorf("the value of %s has no closing quote", key)
			}
		} else {
			for i < len(s) && s[i] != ' ' {
				val.WriteByte(s[i])
				i++
			}
		}
		if _, dup := params[key]; !dup {
			order = append(order, key)
		}
		params[key] = val.String()
	}
}

func isKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// FormatOverrides writes params in SAM's parameter_overrides form, every
// value double-quoted, in the order of order then sorted.
func FormatOverrides(params map[string]string, order []string) string {
	var parts []string
	for _, k := range keys(params, order) {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(params[k])
		parts = append(parts, k+`="`+v+`"`)
	}
	return strings.Join(parts, " ")
}

func keys(params map[string]string, order []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range order {
		if _, ok := params[k]; ok && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range params {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// quote is a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Render is e's three tables (global, build, deploy) as TOML, headed by
// comment lines.
func Render(e Env, comment []string) []byte {
	var b strings.Builder
	for _, c := range comment {
		b.WriteString("# " + c + "\n")
	}
	fmt.Fprintf(&b, "[%s.global.parameters]\n", e.Name)
	fmt.Fprintf(&b, "stack_name = %s\n", quote(e.StackName))
	// In the global table, so that sam delete and sam list use it too.
	fmt.Fprintf(&b, "region = %s\n\n", quote(e.Region))
	fmt.Fprintf(&b, "[%s.build.parameters]\n", e.Name)
	b.WriteString("cached = true\nparallel = true\nbuild_in_source = true\n\n")
	fmt.Fprintf(&b, "[%s.deploy.parameters]\n", e.Name)
	b.WriteString("capabilities = \"CAPABILITY_IAM\"\nconfirm_changeset = true\nfail_on_empty_changeset = false\nresolve_s3 = true\n")
	fmt.Fprintf(&b, "s3_prefix = %s\n", quote(e.StackName))
	fmt.Fprintf(&b, "parameter_overrides = %s\n", quote(FormatOverrides(e.Parameters, e.Order)))
	return []byte(b.String())
}

var header = regexp.MustCompile(`^\s*\[\s*([^\]\s]+)\s*\]`)

// Upsert returns doc with every table of environment env replaced by
// block, at the place of the first of them (or at the end). Every other
// line is kept: comments and blank lines that end a replaced table stay, as
// they head the table after it. An empty doc gets SAM's version line.
func Upsert(doc []byte, env string, block []byte) []byte {
	if strings.TrimSpace(string(doc)) == "" {
		return append([]byte("version = 0.1\n\n"), block...)
	}
	lines := strings.SplitAfter(string(doc), "\n")
	var out, pending []string
	inserted, skipping := false, false
	for _, l := range lines {
		if m := header.FindStringSubmatch(l); m != nil {
			name := strings.Trim(m[1], `"`)
			mine := name == env || strings.HasPrefix(name, env+".")
			switch {
			case mine && !inserted:
				out = append(out, string(block))
				inserted = true
			case !mine && skipping:
				out = append(out, "\n")
				out = append(out, trimBlank(pending)...)
			}
			pending = nil
			skipping = mine
			if mine {
				continue
			}
		}
		if !skipping {
			out = append(out, l)
			continue
		}
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			pending = append(pending, l)
		} else {
			pending = nil
		}
	}
	res := strings.Join(out, "")
	if !inserted {
		res = strings.TrimRight(res, "\n") + "\n\n" + string(block)
	}
	return []byte(res)
}

// trimBlank drops the blank lines at the start of lines.
func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	return lines
}
