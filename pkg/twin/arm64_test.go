package twin_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// The deploy artifact itself — linux/arm64, as `make build` writes it — runs
// under qemu-user inside the emulator for a few requests, so a difference
// between the native test build and what Lambda runs would show here.
func TestArm64Artifact(t *testing.T) {
	qemu := peertest.Binary(t, "qemu-aarch64-static")
	bin := peertest.BootstrapFor(t, "arm64")
	gw := startVGW(t)
	env := map[string]string{
		"S3PROXY_BUCKET": vgwBucket, "S3PROXY_REGION": vgwRegion, "S3PROXY_SIGNED_HOST": vgwSignedHost,
		"S3PROXY_UPSTREAM_URL": gw.URL, "S3PROXY_ENDPOINT_URL": gw.URL, "S3PROXY_INLINE_MAX_BYTES": "65536",
		"AWS_ACCESS_KEY_ID": gw.AccessKeyID, "AWS_SECRET_ACCESS_KEY": gw.SecretAccessKey, "AWS_REGION": vgwRegion,
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	fn := peertest.StartFunctionWith(t, env, peertest.FunctionOptions{Bootstrap: bin, Wrapper: qemu})
	alb := httptest.NewServer(twin.New(twin.Options{Config: cfg, Invoker: fn, FunctionTimeout: 30 * time.Second}))
	defer alb.Close()

	small, large := []byte("small object, inline"), bytes.Repeat([]byte("L"), 200_000)
	vgwPut(t, gw, "arm64/small.txt", small, "text/plain")
	vgwPut(t, gw, "arm64/large.bin", large, "application/octet-stream")
	// A binary thumbnail crosses the ALB as base64, which on arm64 is the
	// NEON encoder: long enough for its vector loop (48 bytes a round), and
	// not a multiple of 3, for its tail.
	thumb := make([]byte, 40_001)
	for i := range thumb {
		thumb[i] = byte(i*31 ^ i>>7)
	}
	vgwPut(t, gw, "arm64/thumb.jpg", thumb, "image/jpeg")
	signer := sgurl.NewSigner(gw.Credentials, vgwRegion, vgwBucket, vgwSignedHost)
	through := func(key string) string {
		signed, err := signer.Get(context.Background(), key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := sgurl.Through(alb.URL, signed)
		return u
	}
	noFollow := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	if r := vgwDo(t, noFollow, "GET", alb.URL+"/ping", nil, nil); r.status != 200 {
		t.Errorf("ping: %d", r.status)
	}
	if r := vgwDo(t, noFollow, "GET", through("arm64/small.txt"), nil, nil); r.status != 200 || !bytes.Equal(r.body, small) {
		t.Errorf("small: %d %q", r.status, r.body)
	}
	if r := vgwDo(t, noFollow, "GET", through("arm64/thumb.jpg"), nil, nil); r.status != 200 || !bytes.Equal(r.body, thumb) {
		t.Errorf("thumbnail: %d, %d bytes, want the %d stored", r.status, len(r.body), len(thumb))
	}
	r := vgwDo(t, noFollow, "GET", through("arm64/large.bin"), nil, nil)
	loc := r.header.Get("Location")
	if u, _ := url.Parse(loc); r.status != 307 || u == nil || u.Query().Get("X-Amz-SignedHeaders") != "host" {
		t.Fatalf("large: %d, Location %q", r.status, loc)
	}
	if f := vgwDo(t, noFollow, "GET", loc, nil, nil); f.status != 200 || !bytes.Equal(f.body, large) {
		t.Errorf("following the arm64 function's redirect: %d, %d bytes", f.status, len(f.body))
	}
	tampered := vgwFlipSignature(t, through("arm64/large.bin"))
	if r := vgwDo(t, noFollow, "GET", tampered, nil, nil); r.status != 403 || r.header.Get("Location") != "" || !strings.Contains(string(r.body), "<Error>") {
		t.Errorf("tampered: %d, Location %q", r.status, r.header.Get("Location"))
	}
}
