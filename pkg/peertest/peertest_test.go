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
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
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

func TestStartMoto(t *testing.T) {
	var pid int
	t.Run("serves", func(t *testing.T) {
		m := peertest.StartMoto(t, peertest.MotoOptions{})
		pid = m.PID
		if !strings.HasPrefix(m.URL, "http://127.0.0.1:") {
			t.Fatalf("URL = %q, want a loopback address", m.URL)
		}
		out, err := ec2.NewFromConfig(m.AWSConfig("eu-west-1")).DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{})
		if err != nil {
			t.Fatalf("DescribeVpcs: %v", err)
		}
		if len(out.Vpcs) == 0 || !aws.ToBool(out.Vpcs[0].IsDefault) {
			t.Errorf("DescribeVpcs found %+v, want moto's default VPC", out.Vpcs)
		}
	})
	if pid == 0 {
		return
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("moto_server pid %d still exists after cleanup (kill -0: %v)", pid, err)
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

// TestVersityGWIAM proves what tests of per-user access rely on: a user
// created through the harness signs presigned URLs the gateway accepts, a
// bucket policy limits that user to exactly the actions it names, and root
// is unaffected. It also pins down how versitygw treats a presigned URL that
// signs the Range header.
func TestVersityGWIAM(t *testing.T) {
	const bucket, key = "iam-bucket", "k"
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{bucket}, IAM: true})
	ctx := context.Background()
	body := []byte("0123456789abcdef")
	if _, err := gw.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		Tagging: aws.String("class=secret"),
	}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}

	access, secret := gw.CreateUser(t, peertest.RoleUser)
	user := gw.As(access, secret)
	if user.AccessKeyID != access || user.URL != gw.URL || gw.AccessKeyID == access {
		t.Fatalf("As: %+v", user)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	get := func(u string, h http.Header) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	presignGet := func(s *peertest.S3, in *s3.GetObjectInput) string {
		t.Helper()
		in.Bucket, in.Key = aws.String(bucket), aws.String(key)
		r, err := s3.NewPresignClient(s.Client).PresignGetObject(ctx, in, s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.URL, gw.URL+"/"+bucket+"/") {
			t.Fatalf("presigned URL %s is not path-style against %s", r.URL, gw.URL)
		}
		return r.URL
	}
	// The SDK has no presigner for GetObjectTagging: sign ?tagging directly.
	presignTagging := func(s *peertest.S3) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, gw.URL+"/"+bucket+"/"+key+"?tagging=&X-Amz-Expires=60", nil)
		if err != nil {
			t.Fatal(err)
		}
		creds, err := s.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s.Region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	// Before any policy the user, owning nothing, may do nothing: the
	// harness can see a denial, so the 200s below mean something.
	if code, b := get(presignTagging(user), nil); code != http.StatusForbidden || !bytes.Contains(b, []byte("<Code>AccessDenied</Code>")) {
		t.Errorf("user's GetObjectTagging with no policy: %d %s, want 403 AccessDenied", code, b)
	}

	// A policy may name only users the gateway knows.
	if _, err := gw.Client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket),
		Policy: aws.String(peertest.AllowPolicy("AKIANOSUCHUSER000000", []string{"s3:GetObject"}, peertest.ARN(bucket, key)))}); err == nil {
		t.Error("PutBucketPolicy naming an unknown access key succeeded, want an error")
	}
	gw.PutBucketPolicy(t, bucket, peertest.AllowPolicy(access, []string{"s3:GetObjectTagging"}, peertest.ARN(bucket, key)))

	if code, b := get(presignGet(user, &s3.GetObjectInput{}), nil); code != http.StatusForbidden || !bytes.Contains(b, []byte("<Code>AccessDenied</Code>")) {
		t.Errorf("user's presigned GetObject, not allowed by the policy: %d %s, want 403 AccessDenied", code, b)
	}
	if code, b := get(presignTagging(user), nil); code != http.StatusOK || !bytes.Contains(b, []byte("<Value>secret</Value>")) {
		t.Errorf("user's presigned GetObjectTagging, allowed by the policy: %d %s, want 200 with the tag", code, b)
	}
	if code, b := get(presignGet(gw, &s3.GetObjectInput{}), nil); code != http.StatusOK || !bytes.Equal(b, body) {
		t.Errorf("root's presigned GetObject: %d %q, want 200 %q", code, b, body)
	}
	// A user's URL with a tampered signature is refused as any other.
	u := presignTagging(user)
	if code, b := get(strings.Replace(u, "X-Amz-Signature=", "X-Amz-Signature=0", 1), nil); code != http.StatusForbidden || !bytes.Contains(b, []byte("<Code>SignatureDoesNotMatch</Code>")) {
		t.Errorf("user's GetObjectTagging with a bad signature: %d %s, want 403 SignatureDoesNotMatch", code, b)
	}

	// A URL presigned with Range set lists range in X-Amz-SignedHeaders,
	// and versitygw holds the request to that exact header: a different
	// Range, or none, is SignatureDoesNotMatch.
	ranged := presignGet(gw, &s3.GetObjectInput{Range: aws.String("bytes=2-5")})
	if !strings.Contains(ranged, "range") {
		t.Fatalf("URL presigned with Range does not sign it: %s", ranged)
	}
	if code, b := get(ranged, http.Header{"Range": {"bytes=2-5"}}); code != http.StatusPartialContent || string(b) != "2345" {
		t.Errorf("signed Range sent as signed: %d %q, want 206 %q", code, b, "2345")
	}
	for _, h := range []http.Header{{"Range": {"bytes=0-9"}}, nil} {
		if code, b := get(ranged, h); code != http.StatusForbidden || !bytes.Contains(b, []byte("<Code>SignatureDoesNotMatch</Code>")) {
			t.Errorf("URL signed with Range bytes=2-5, sent with %v: %d %.200s, want 403 SignatureDoesNotMatch", h, code, b)
		}
	}
}

// Seed sends objects up to SeedPartSize in one PUT (ETag = MD5) and larger
// ones in parts (a multipart ETag), through the transfer manager.
func TestSeed(t *testing.T) {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{"seed"}})
	small := peertest.Bytes(1000, 1)
	if got := gw.Seed(t, "seed", "small", small, "text/plain"); got != peertest.MD5ETag(small) {
		t.Errorf("small object ETag %s, want the MD5 %s", got, peertest.MD5ETag(small))
	}
	big := peertest.Bytes(peertest.SeedPartSize+1, 2)
	if got := gw.Seed(t, "seed", "big", big, ""); !strings.HasSuffix(got, `-2"`) {
		t.Errorf("object over the part size: ETag %s, want a two-part multipart ETag", got)
	}
}
