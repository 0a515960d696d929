// Package scripts_test runs the shell scripts `make test` starts with: the
// prerequisite check, the installer and the progress wrapper, each against
// fake tools on a PATH of its own, so a missing piece, a noisy installer or
// a silent long step shows up here rather than on a fresh machine.
package scripts_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakePath makes a directory holding links to the real tools the scripts
// need and the fakes given (name → script body), and returns it for PATH:
// nothing else is found, so "missing" is under the test's control.
func fakePath(t *testing.T, fakes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "env", "mktemp", "rm", "cat", "awk", "grep", "sleep", "id", "dirname", "sed", "sort", "head"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range fakes {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type scriptRun struct {
	code           int
	stdout, stderr string
}

func runScript(t *testing.T, script string, env ...string) scriptRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/bash", script)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return scriptRun{code, stdout.String(), stderr.String()}
}

// A go that reports the version in go.mod, and a python3 that imports
// nothing, or everything.
const (
	fakeGo        = `[ "$1 $2" = "env GOVERSION" ] && echo go1.99.0`
	oldGo         = `[ "$1 $2" = "env GOVERSION" ] && echo go1.20.1`
	pythonNothing = `[ "$1" = "--version" ] && { echo "Python 3.11.2"; exit 0; }; exit 1`
	pythonAll     = `[ "$1" = "--version" ] && echo "Python 3.11.2"; exit 0`
)

func TestPrereqs(t *testing.T) {
	pip := "python3 -m pip install -r requirements-test.txt"
	for _, tc := range []struct {
		name    string
		fakes   map[string]string
		env     []string
		code    int
		want    []string
		notWant []string
	}{
		{"all there", map[string]string{"go": fakeGo, "git": "", "curl": "", "python3": pythonAll, "cfn-lint": "", "moto_server": "",
			"qemu-aarch64-static": "", "chromium": "", "strace": ""}, nil, 0, []string{"prerequisites: ok"}, nil},
		{"python modules missing", map[string]string{"go": fakeGo, "git": "", "curl": "", "python3": pythonNothing, "cfn-lint": "", "moto_server": "",
			"qemu-aarch64-static": "", "chromium": "", "strace": ""}, nil, 1,
			[]string{"boto3 (Python module boto3 for python3): " + pip, "aws-sam-translator (Python module samtranslator", "cfn-lint (Python module cfnlint", "moto (Python module moto"}, []string{"qemu"}},
		{"tools missing", map[string]string{"go": fakeGo, "python3": pythonAll}, nil, 1,
			[]string{"git (command): apt-get install git", "curl (command): apt-get install curl", "cfn-lint (command): " + pip,
				"qemu-aarch64-static (command): apt-get install qemu-user-static", "chromium (command): apt-get install chromium"}, nil},
		{"old go", map[string]string{"go": oldGo, "git": "", "curl": "", "python3": pythonAll, "cfn-lint": "", "moto_server": "",
			"qemu-aarch64-static": "", "chromium": "", "strace": ""}, nil, 1, []string{"(found 1.20.1): install it from https://go.dev/dl/"}, nil},
		{"before installing, what the installer brings is not asked for", map[string]string{"go": fakeGo, "git": "", "curl": "", "python3": pythonNothing}, []string{"INSTALL=1"}, 0,
			[]string{"prerequisites: ok"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runScript(t, "prereqs.sh", append([]string{"PATH=" + fakePath(t, tc.fakes)}, tc.env...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, r.stdout, r.stderr)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output has %q:\n%s%s", w, r.stdout, r.stderr)
				}
			}
		})
	}
}

func TestInstallDeps(t *testing.T) {
	noisy := `i=0; while [ $i -lt 115 ]; do echo "Selecting previously unselected package $i"; i=$((i+1)); done`
	for _, tc := range []struct {
		name    string
		aptGet  string
		env     []string
		code    int
		want    []string
		notWant []string
		aptRan  bool
	}{
		{"apt is quiet when it works", noisy, nil, 1, // the fake installs nothing, so the final check fails
			[]string{"install-deps: installing qemu-user-static chromium with apt-get", "qemu-aarch64-static (command): apt-get install qemu-user-static"},
			[]string{"Selecting previously unselected"}, true},
		{"apt's log shows when it fails", noisy + `; [ "$1" = install ] && { echo "E: Unable to locate package"; exit 100; }; exit 0`, nil, 1,
			[]string{"failed; its output:", "Selecting previously unselected package 114", "E: Unable to locate package"}, nil, true},
		{"opted out", noisy, []string{"S3PROXY_SKIP_INSTALL=1"}, 1,
			[]string{"qemu-aarch64-static (command): apt-get install qemu-user-static"}, []string{"installing"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "apt-ran")
			path := fakePath(t, map[string]string{
				"apt-get":   ": > " + marker + "\n" + tc.aptGet,
				"apt-cache": "exit 0", "go": fakeGo, "git": "", "curl": "", "python3": pythonAll, "cfn-lint": "", "moto_server": "", "strace": "",
			})
			r := runScript(t, "install-deps.sh", append([]string{"PATH=" + path}, tc.env...)...)
			out := r.stdout + r.stderr
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if _, err := os.Stat(marker); (err == nil) != tc.aptRan {
				t.Errorf("apt-get ran: %v, want %v", err == nil, tc.aptRan)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cmd    []string
		code   int
		want   []string
		ticks  int
		nTicks bool
	}{
		{"a long step says it is still going", []string{"sleep", "2.5"}, 0,
			[]string{"==> building it (about 3 s the first time)\n", "==> done: building it in 0m0"}, 2, true},
		{"its output passes through", []string{"echo", "hello"}, 0, []string{"hello\n"}, 0, true},
		{"a failure keeps its status", []string{"bash", "-c", "exit 3"}, 3, []string{"==> FAILED: building it after", "(exit 3)"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			args := append([]string{"progress.sh", "building it", "about 3 s the first time", "--"}, tc.cmd...)
			cmd := exec.CommandContext(ctx, "/bin/bash", args...)
			cmd.Env = append(os.Environ(), "PROGRESS_EVERY=1")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if got := strings.Count(out.String(), "... still building it, "); tc.nTicks && got < tc.ticks {
				t.Errorf("%d progress lines, want at least %d:\n%s", got, tc.ticks, out.String())
			}
			// The ticker is gone with the step: nothing holds the pipe.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// Ctrl-C on `make run` reaches make and the server alike (the terminal
// signals the whole foreground group); the server's clean exit is what
// keeps make from reporting "Error 1".
func TestMakeRunStopsCleanly(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, makeBin, "-C", "..", "run", "SERVE_FLAGS=--addr 127.0.0.1:0 --embedded-s3-addr 127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A make of its own, not a sub-make of the `make test` running this.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); w.Close() }()

	var text strings.Builder
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		text.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "Stop with Ctrl-C") {
			break
		}
	}
	if !strings.Contains(text.String(), "Stop with Ctrl-C") {
		t.Fatalf("make run did not start:\n%s", text.String())
	}
	// What the terminal does on Ctrl-C: SIGINT to the foreground group,
	// here make's own group and no other.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		text.WriteString(lines.Text() + "\n")
	}
	// make itself re-raises the SIGINT once its child has exited, as GNU
	// make always does; what it must not do is call the child failed.
	if err := <-done; err != nil {
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("make run: %v, want exit status 0 or make's own SIGINT\n%s", err, text.String())
		}
	}
	if !strings.Contains(text.String(), "s3proxy: interrupted (SIGINT), stopped\n") || strings.Contains(text.String(), "make: ***") {
		t.Errorf("want the one stop line and no make error:\n%s", text.String())
	}
}
