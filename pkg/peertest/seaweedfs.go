package peertest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PeerEnv names the S3 peer the signature suites run against:
// "versitygw" (the default: fast, one port) or "seaweedfs" (the reference,
// which matched AWS on every signature check tried).
const PeerEnv = "S3PROXY_S3_PEER"

// StartPeer starts the S3 peer named by S3PROXY_S3_PEER.
func StartPeer(t testing.TB, opts VersityGWOptions) *S3 {
	t.Helper()
	if os.Getenv(PeerEnv) == "seaweedfs" {
		return StartSeaweedFS(t, opts)
	}
	return StartVersityGW(t, opts)
}

// StartSeaweedFS runs `weed mini` (master, volume, filer and S3 in one
// process) in a fresh t.TempDir(). Every one of its listeners gets a free
// loopback port, telemetry is off, and the extra servers it would start
// (WebDAV, admin UI, Iceberg, Lance) are disabled, so it reaches nothing but
// 127.0.0.1. opts.VirtualDomain becomes its s3.domainName. It takes a few
// seconds to answer; the process is stopped by PID in t.Cleanup.
func StartSeaweedFS(t testing.TB, opts VersityGWOptions) *S3 {
	t.Helper()
	bin := Binary(t, "weed")
	opts.defaults(60 * time.Second)
	dir := t.TempDir()
	access, secret := generateKeys(t)
	identities := map[string]any{"identities": []any{map[string]any{
		"name":        "proxy",
		"credentials": []any{map[string]string{"accessKey": access, "secretKey": secret}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	cfgPath := filepath.Join(dir, "s3.json")
	b, _ := json.Marshal(identities)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatalf("peertest: %v", err)
	}
	ports := map[string]int{}
	for _, name := range []string{"s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
		"filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc", "metricsPort"} {
		ports[name] = freePort(t)
	}
	args := []string{"mini", "-dir=" + filepath.Join(dir, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.telemetry=false", "-webdav=false", "-admin.ui=false", "-admin.port.legacy=0",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + cfgPath, "-s3.domainName=" + opts.VirtualDomain}
	for name, p := range ports {
		args = append(args, "-"+name+"="+strconv.Itoa(p))
	}
	env := append(os.Environ(), "WEED_CLUSTER_DEFAULT=", "S3_EXTERNAL_URL=")
	p, err := startProcess(t, bin, args, env)
	if err != nil {
		t.Fatalf("peertest: starting weed: %v", err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(ports["s3.port"])
	if err := waitHTTP(p, url+"/healthz", opts.StartTimeout); err != nil {
		t.Fatalf("peertest: SeaweedFS did not start: %v\n%s", err, p.output())
	}
	s := newS3(url, opts.Region, access, secret, p.cmd.Process.Pid)
	// The filer can answer /healthz a moment before buckets can be made.
	deadline := time.Now().Add(opts.StartTimeout)
	for {
		if err := tryCreateBuckets(s, opts.Buckets); err == nil {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("peertest: creating buckets on SeaweedFS: %v\n%s", err, p.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatalf("peertest: %v", err)
	}
	_, port, _ := splitHostPort(addr)
	return port
}
