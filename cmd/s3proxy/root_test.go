package main

import (
	"bytes"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mediaisolation/s3proxy/pkg/release"
)

// commands are the CLI's commands with help of their own.
var commands = []string{"init", "preflight", "serve", "invoke", "check", "rules", "version"}

// Help in every spelling exits 0, on stdout, and says what each command
// is, its flags, the variables it reads and an example.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"--help", []string{"--help"}, []string{"Usage:\n  s3proxy [command]", "init ", "preflight ", "serve ", "invoke ", "check ", "rules ", "version ", "completion ", "Examples:"}},
		{"help init", []string{"help", "init"}, []string{"ShotGrid's existing", "--proxy-stack string", "--vpc-stack string", "--set stringArray", "--non-interactive", "AWS_ENDPOINT_URL", "Examples:\n  s3proxy init"}},
		{"help preflight", []string{"help", "preflight"}, []string{"before 'sam deploy'", "--config-env string", "--endpoint-url string", "go/no-go", "Examples:\n  s3proxy preflight"}},
		{"-h", []string{"-h"}, []string{"Usage:\n  s3proxy [command]"}},
		{"help", []string{"help"}, []string{"Usage:\n  s3proxy [command]"}},
		{"help serve", []string{"help", "serve"}, []string{"emulated Application Load Balancer", "--lambda string", "--embedded-s3 ", "--wrapper string", "Environment:\n  S3PROXY_BUCKET", "S3PROXY_PUBLIC_URL", "Examples:\n  s3proxy serve"}},
		{"serve --help", []string{"serve", "--help"}, []string{"Usage:\n  s3proxy serve [flags]"}},
		{"serve -help, Go style", []string{"serve", "-help"}, []string{"Usage:\n  s3proxy serve [flags]"}},
		{"help invoke", []string{"help", "invoke"}, []string{"sam local invoke", "-e, --event string", "-n, --env-vars string", "S3PROXY_ENDPOINT_URL", "Examples:\n  s3proxy invoke -e events/ping.json"}},
		{"help check", []string{"help", "check"}, []string{"ShotGrid's part", "--url string", "--stack string", "--connect-to string", "certificate must cover", "AWS_PROFILE", "No S3PROXY_* variable", "Examples:\n  s3proxy check"}},
		{"rules --help", []string{"rules", "--help"}, []string{"HTTPS listener", "--bucket string", "--key-prefixes string", "--signed-host string", "Environment:\n  None", "Examples:\n  s3proxy rules"}},
		{"help version", []string{"help", "version"}, []string{"release version", "revision", "Examples:\n  s3proxy version"}},
		{"help completion", []string{"help", "completion"}, []string{"bash", "zsh", "fish"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args, nil, "")
			if r.code != exitOK || r.stderr != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage:\n  s3proxy [command]"},
		{"unknown command", []string{"--nope"}, "unknown flag: --nope"},
		{"misspelt command", []string{"serv"}, `unknown command "serv"`},
		{"unknown help topic", []string{"help", "deploy"}, `unknown help topic "deploy"`},
		{"unknown flag", []string{"rules", "--bukket", "b"}, "unknown flag: --bukket"},
		{"stray argument", []string{"rules", "extra"}, `unknown command "extra"`},
		{"bad duration", []string{"serve", "--timeout", "soon"}, "invalid argument \"soon\""},
		{"unknown shell", []string{"completion", "tcsh"}, "tcsh"},
		{"init with nothing to read", []string{"init", "--vpc-stack", ""}, "nothing to read"},
		{"init, a bad environment name", []string{"init", "--config-env", "prod.eu"}, "environment name"},
		{"preflight, a bad gateway value", []string{"preflight", "--config-file", "/nonexistent/samconfig.toml", "--create-s3-gateway-endpoint", "yes"}, "true or false"},
		{"half the stack", []string{"check", "--url", "https://p.example", "--bucket", "b", "--load-balancer-arn", "arn:lb"},
			"--load-balancer-arn and --endpoint-target-group-arn go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args, nil, "")
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", r.stdout)
			}
		})
	}
}

// Scripts written for the flag-package CLI keep working.
func TestGoStyleFlags(t *testing.T) {
	r := runCLI(t, []string{"rules", "-bucket", "media-bucket", "-key-prefixes=shotgun/"}, nil, "")
	if r.code != 0 || !strings.Contains(r.stdout, "media-bucket") || !strings.Contains(r.stdout, "shotgun/") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	root := newRoot(cliIO{})
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"long flag", []string{"-addr", "x"}, []string{"--addr", "x"}},
		{"with value", []string{"-lambda=process"}, []string{"--lambda=process"}},
		{"shorthand left alone", []string{"-e", "f.json", "-n", "env.json"}, []string{"-e", "f.json", "-n", "env.json"}},
		{"shorthand with value", []string{"-eping.json"}, []string{"-eping.json"}},
		{"after --", []string{"--", "-addr"}, []string{"--", "-addr"}},
		{"unknown name", []string{"-bukket"}, []string{"-bukket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := normalizeArgs(root, tc.in); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	info := func(settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/mediaisolation/s3proxy", Version: "v1.2.3"}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want []string
	}{
		{"stamped", info("vcs.revision", "20c6275abc", "vcs.time", "2026-12-01T14:00:00Z", "vcs.modified", "false", "GOOS", "linux", "GOARCH", "arm64"),
			[]string{"s3proxy " + release.Version + "\n", "module    github.com/mediaisolation/s3proxy v1.2.3\n", "revision  20c6275abc\n", "committed 2026-12-01T14:00:00Z", "go        go1.26.8 linux/arm64"}},
		{"modified", info("vcs.revision", "20c6275abc", "vcs.modified", "true"), []string{"revision  20c6275abc (with uncommitted changes)"}},
		{"not stamped", info(), []string{"revision  unknown (built without VCS stamping"}},
		{"no module version", &debug.BuildInfo{Main: debug.Module{Path: "m"}}, []string{"s3proxy " + release.Version + "\n", "module    m (devel)\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeVersion(&b, tc.info)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
	// The command itself reads this test binary's build information.
	r := runCLI(t, []string{"version"}, nil, "")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "s3proxy "+release.Version+"\n") || !strings.Contains(r.stdout, "  go        go1.") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		shell string
		want  string
	}{
		{"bash", "complete -o default -F __start_s3proxy s3proxy"},
		{"zsh", "#compdef s3proxy"},
		{"fish", "complete -c s3proxy"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			r := runCLI(t, []string{"completion", tc.shell}, nil, "")
			if r.code != 0 || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("exit %d, script lacks %q:\n%.400s\n%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
	// What the scripts ask the binary: commands, and --lambda's values.
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"commands", []string{"__complete", ""}, []string{"init", "preflight", "serve", "invoke", "check", "rules", "version"}},
		{"lambda modes", []string{"__complete", "serve", "--lambda", ""}, []string{"inprocess", "process"}},
		{"help topics", []string{"__complete", "help", ""}, []string{"serve", "invoke"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args, nil, "")
			for _, w := range tc.want {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(w) + `(\t|$)`).MatchString(r.stdout) {
					t.Errorf("completions lack %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// The README's CLI section carries each command's help exactly, so the
// two cannot drift apart.
func TestREADMEShowsTheHelp(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append([]string{""}, commands...) {
		t.Run("help "+name, func(t *testing.T) {
			args := []string{"help"}
			if name != "" {
				args = append(args, name)
			}
			r := runCLI(t, args, nil, "")
			block := "```text\n$ s3proxy " + strings.Join(args, " ") + "\n" + r.stdout + "```\n"
			if !bytes.Contains(readme, []byte(block)) {
				t.Errorf("README.md lacks the block:\n%s", block)
			}
		})
	}
}
