// Package peertest starts real protocol peers for tests, as net/http/httptest
// starts real HTTP servers: the signature behaviour this project depends on
// can only be trusted when it is checked against an S3 server that verifies
// SigV4 itself, not against a fake that accepts whatever it is sent.
//
// Peers are external binaries built from pinned versions by `make tools`
// into <module root>/bin. A test that needs one calls Binary (or a Start
// function, which calls it). On a developer machine without the tools the
// test is skipped; with S3PROXY_REQUIRE_PEERS=1, as `make test` and CI set
// it, a missing peer fails the test instead, so a broken tool install can
// never turn into a green run that tested nothing.
package peertest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Environment variables read by this package.
const (
	// EnvBin names a directory searched first for peer binaries.
	EnvBin = "S3PROXY_BIN"
	// EnvRequirePeers, when "1", makes a missing peer a test failure.
	EnvRequirePeers = "S3PROXY_REQUIRE_PEERS"
)

// Binary returns the path of the executable name, looked up in $S3PROXY_BIN,
// then in <module root>/bin, then on PATH. When it is nowhere it skips the
// test, or fails it when S3PROXY_REQUIRE_PEERS=1.
func Binary(t testing.TB, name string) string {
	t.Helper()
	var tried []string
	if dir := os.Getenv(EnvBin); dir != "" {
		p := filepath.Join(dir, name)
		if executable(p) {
			return p
		}
		tried = append(tried, p)
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, "bin", name)
		if executable(p) {
			return p
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	tried = append(tried, "$PATH")
	if os.Getenv(EnvRequirePeers) == "1" {
		t.Fatalf("peertest: %s not found (tried %v) and %s=1; run `make tools deps`", name, tried, EnvRequirePeers)
	}
	t.Skipf("peertest: %s not found (tried %v); run `make tools deps`, or set %s=1 to make this a failure", name, tried, EnvRequirePeers)
	return ""
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// moduleRoot finds the directory holding go.mod, starting from the working
// directory (a package directory under `go test`) and, failing that, from
// this source file's own location.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("no go.mod above the working directory")
}

// WrongSecret returns a secret that differs from secret in its first
// character, whatever that character is, so a signature made with it is
// always wrong.
func WrongSecret(secret string) string {
	if secret == "" {
		return "x"
	}
	c := byte('x')
	if secret[0] == 'x' {
		c = 'y'
	}
	return string(c) + secret[1:]
}
