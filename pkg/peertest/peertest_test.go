package peertest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
)

func TestStartVersityGW(t *testing.T) {
	var pid int
	t.Run("serves", func(t *testing.T) {
		gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{"peer-a", "peer-b"}})
		pid = gw.PID
		if !strings.HasPrefix(gw.URL, "http://127.0.0.1:") {
			t.Fatalf("URL = %q, want a loopback address", gw.URL)
		}
		ctx := context.Background()
		body := []byte("hello, peer")
		if _, err := gw.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("peer-b"), Key: aws.String("dir/x.txt"), Body: bytes.NewReader(body),
		}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}

		// A URL signed for the virtual-hosted name, sent to the gateway's
		// address with that Host, as the proxy does.
		get := func(creds aws.CredentialsProvider) (int, []byte) {
			t.Helper()
			signed, err := sgurl.NewSigner(creds, gw.Region, "peer-b", "peer-b.s3.amazonaws.com").Get(ctx, "dir/x.txt", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			u, err := sgurl.Through(gw.URL, signed)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Host = "peer-b.s3.amazonaws.com"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		if code, b := get(gw.Credentials); code != http.StatusOK || !bytes.Equal(b, body) {
			t.Errorf("virtual-hosted presigned GET: %d %q, want 200 %q", code, b, body)
		}
		wrong := credentials.NewStaticCredentialsProvider(gw.AccessKeyID, gw.SecretAccessKey+"x", "")
		if code, b := get(wrong); code != http.StatusForbidden {
			t.Errorf("GET signed with the wrong secret: %d %s, want 403", code, b)
		}
	})
	if pid == 0 {
		return
	}
	// The subtest's cleanup has run: the gateway must be gone.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("versitygw pid %d still exists after cleanup (kill -0: %v)", pid, err)
	}
}

func TestBinaryFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(peertest.EnvBin, dir)
	t.Setenv(peertest.EnvRequirePeers, "")
	skipped := true
	t.Run("missing", func(t *testing.T) {
		peertest.Binary(t, "no-such-peer-binary")
		skipped = false
	})
	if !skipped {
		t.Error("Binary returned for a missing tool instead of skipping")
	}
}
