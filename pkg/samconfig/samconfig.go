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
	"slices"
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

// tables are the three tables s3proxy writes, in order, with their
// default contents (keys other than those Update sets).
var tables = []struct{ cmd, defaults string }{
	{"global", ""},
	// No build cache: SAM's makefile builder does not pass the function's
	// architecture to make, so a cached build of one architecture could be
	// reused for the other (docs/deploy.md).
	{"build", "cached = false\nparallel = true\nbuild_in_source = true\n"},
	{"deploy", "capabilities = \"CAPABILITY_IAM\"\nconfirm_changeset = true\nfail_on_empty_changeset = false\nresolve_s3 = true\n"},
}

// set are the keys Update writes into table cmd of e.
func (e Env) set(cmd string) [][2]string {
	switch cmd {
	case "global":
		// In the global table, so that sam delete and sam list use it too.
		return [][2]string{{"stack_name", quote(e.StackName)}, {"region", quote(e.Region)}}
	case "deploy":
		return [][2]string{{"s3_prefix", quote(e.StackName)}, {"parameter_overrides", quote(FormatOverrides(e.Parameters, e.Order))}}
	}
	return nil
}

// Render is e's three tables (global, build, deploy) as TOML, headed by
// comment lines.
func Render(e Env, comment []string) []byte {
	var b strings.Builder
	for _, c := range comment {
		b.WriteString("# " + c + "\n")
	}
	for i, t := range tables {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s.%s.parameters]\n", e.Name, t.cmd)
		b.WriteString(t.defaults)
		for _, kv := range e.set(t.cmd) {
			b.WriteString(kv[0] + " = " + kv[1] + "\n")
		}
	}
	return []byte(b.String())
}

// Update returns doc with environment e written into it. An environment
// the file does not have is appended whole (Render). One it has keeps
// every line of its tables, comments and keys such as s3_bucket included,
// except the values Update sets: stack_name and region in the global
// table, s3_prefix and parameter_overrides in the deploy table (and region
// there too, when the table has one, as a command's own table wins over
// the global one). A missing table of the three is added after the
// environment's last one.
func Update(doc []byte, e Env, comment []string) []byte {
	if strings.TrimSpace(string(doc)) == "" {
		return append([]byte("version = 0.1\n\n"), Render(e, comment)...)
	}
	lines := strings.SplitAfter(string(doc), "\n")
	switch last := lines[len(lines)-1]; {
	case last == "":
		lines = lines[:len(lines)-1]
	case !strings.HasSuffix(last, "\n"):
		lines[len(lines)-1] += "\n"
	}
	// Where each table starts and ends (exclusive), and the environment's
	// last table's end.
	type span struct{ start, end int }
	spans := map[string]span{}
	current, last := "", -1
	for i, l := range lines {
		if m := header.FindStringSubmatch(l); m != nil {
			if current != "" {
				sp := spans[current]
				sp.end = i
				spans[current] = sp
			}
			current = strings.Trim(m[1], `"`)
			spans[current] = span{start: i, end: len(lines)}
		}
	}
	found := false
	for name, sp := range spans {
		if name == e.Name || strings.HasPrefix(name, e.Name+".") {
			found = true
			if sp.end > last {
				last = sp.end
			}
		}
	}
	if !found {
		res := strings.TrimRight(strings.Join(lines, ""), "\n") + "\n\n" + string(Render(e, comment))
		return []byte(res)
	}
	// Edits from the bottom up, so the spans stay valid.
	type edit struct {
		at, n int
		lines []string
	}
	var inserts []edit
	for _, t := range tables {
		name := e.Name + "." + t.cmd + ".parameters"
		sp, ok := spans[name]
		if !ok {
			block := "\n[" + name + "]\n" + t.defaults
			for _, kv := range e.set(t.cmd) {
				block += kv[0] + " = " + kv[1] + "\n"
			}
			inserts = append(inserts, edit{at: trimEnd(lines, last), n: 1000 + len(inserts), lines: []string{block}})
			continue
		}
		keys := e.set(t.cmd)
		if t.cmd == "deploy" {
			keys = append(keys, [2]string{"region", quote(e.Region)})
		}
		for _, kv := range keys {
			if i := keyLine(lines, sp.start+1, sp.end, kv[0]); i >= 0 {
				// A value that is a list over several lines goes whole.
				if _, v, _ := strings.Cut(lines[i], "="); strings.HasPrefix(strings.TrimSpace(v), "[") && !strings.Contains(v, "]") {
					for j := i + 1; j < sp.end; j++ {
						done := strings.Contains(lines[j], "]")
						lines[j] = ""
						if done {
							break
						}
					}
				}
				lines[i] = kv[0] + " = " + kv[1] + "\n"
			} else if kv[0] != "region" || t.cmd != "deploy" {
				inserts = append(inserts, edit{at: trimEnd(lines, sp.end), n: len(inserts), lines: []string{kv[0] + " = " + kv[1] + "\n"}})
			}
		}
	}
	// Bottom up; at one place, the last first, so they end up in order.
	sort.Slice(inserts, func(i, j int) bool {
		if inserts[i].at != inserts[j].at {
			return inserts[i].at > inserts[j].at
		}
		return inserts[i].n > inserts[j].n
	})
	for _, ins := range inserts {
		lines = slices.Insert(lines, ins.at, ins.lines...)
	}
	return []byte(strings.Join(lines, ""))
}

// keyLine is the index of the line in lines[from:to] that sets key, or -1.
func keyLine(lines []string, from, to int, key string) int {
	for i := from; i < to; i++ {
		k, _, ok := strings.Cut(lines[i], "=")
		if ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
			return i
		}
	}
	return -1
}

// trimEnd moves end back over the blank and comment lines that end a table
// (they head the table after it).
func trimEnd(lines []string, end int) int {
	for end > 0 {
		t := strings.TrimSpace(lines[end-1])
		if t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		end--
	}
	return end
}

var header = regexp.MustCompile(`^\s*\[\s*([^\]\s]+)\s*\]`)
