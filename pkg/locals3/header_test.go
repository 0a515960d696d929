package locals3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// whenSupported is what config.LoadDefaultConfig gives, and so what the
// product's clients use; s3.New with zero Options leaves it unset.
func whenSupported(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
}

func whenRequired(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

func TestSDKHeaderAuthRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	cases := []struct {
		name string
		opts []func(*s3.Options)
	}{
		{"checksums when supported (config default)", []func(*s3.Options){whenSupported}},
		{"checksums when required", []func(*s3.Options){whenRequired}},
		{"checksum options unset", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.client(tc.opts...)
			key := "sdk/" + strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(tc.name) + ".bin"
			body := bytes.Repeat([]byte("payload-"), 100000) // 800 kB
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(body),
				ContentType: aws.String("application/x-test"), Metadata: map[string]string{"origin": "sdk"},
			}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("GetObject body: %d bytes, want %d identical bytes", len(got), len(body))
			}
			if ct := aws.ToString(out.ContentType); ct != "application/x-test" {
				t.Errorf("ContentType = %q, want application/x-test", ct)
			}
			if m := out.Metadata["origin"]; m != "sdk" {
				t.Errorf("Metadata[origin] = %q, want sdk", m)
			}
			rng, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Range: aws.String("bytes=8-15")})
			if err != nil {
				t.Fatalf("ranged GetObject: %v", err)
			}
			part, _ := io.ReadAll(rng.Body)
			rng.Body.Close()
			if string(part) != "payload-" {
				t.Errorf("ranged body = %q, want %q", part, "payload-")
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if n := aws.ToInt64(head.ContentLength); n != int64(len(body)) {
				t.Errorf("HEAD ContentLength = %d, want %d", n, len(body))
			}
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
			if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); apiCode(err) != "NoSuchKey" {
				t.Errorf("GetObject after delete: error code %q (%v), want NoSuchKey", apiCode(err), err)
			}
		})
	}
}

func TestSDKHeaderAuthRejections(t *testing.T) {
	f := newFixture(t, nil)
	f.seed(t, "a.txt", []byte("A"))
	otherAK, otherSK, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		client      *s3.Client
		clockOffset time.Duration
		wantCode    string
	}{
		{"valid (control)", f.client(), 0, ""},
		{"wrong secret", sdkClient(f.ts.URL, f.ak, otherSK, testRegion, true), 0, "SignatureDoesNotMatch"},
		{"unknown access key", sdkClient(f.ts.URL, otherAK, otherSK, testRegion, true), 0, "InvalidAccessKeyId"},
		{"wrong region", sdkClient(f.ts.URL, f.ak, f.sk, "eu-west-1", true), 0, "AuthorizationHeaderMalformed"},
		{"client clock 20 minutes slow", f.client(), 20 * time.Minute, "RequestTimeTooSkewed"},
		{"client clock 20 minutes fast", f.client(), -20 * time.Minute, "RequestTimeTooSkewed"},
		{"client clock 10 minutes fast (control)", f.client(), -10 * time.Minute, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setClockOffset(tc.clockOffset)
			defer f.setClockOffset(0)
			out, err := tc.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a.txt")})
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("GetObject: %v, want success", err)
				}
				out.Body.Close()
				return
			}
			if got := apiCode(err); got != tc.wantCode {
				t.Fatalf("error code = %q (%v), want %q", got, err, tc.wantCode)
			}
		})
	}
}

// TestHeaderAuthPayload signs requests with the SDK's v4 signer directly to
// send what the SDK client never would: bodies that contradict their
// declared hash or checksum.
func TestHeaderAuthPayload(t *testing.T) {
	f := newFixture(t, nil)
	body := []byte("the real body")
	crc := func(b []byte) string {
		h := crc32.NewIEEE()
		h.Write(b)
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	cases := []struct {
		name        string
		payloadHash string
		hdr         map[string]string
		omitSHA     bool
		wantStatus  int
		wantCode    string
	}{
		{name: "declared sha256 (control)", payloadHash: sha256Hex(body), wantStatus: 200},
		{name: "unsigned payload (control)", payloadHash: unsignedPayload, wantStatus: 200},
		{name: "sha256 of another body", payloadHash: sha256Hex([]byte("another body")), wantStatus: 400, wantCode: "XAmzContentSHA256Mismatch"},
		{name: "matching crc32 (control)", payloadHash: unsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": crc(body)}, wantStatus: 200},
		{name: "wrong crc32", payloadHash: unsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": crc([]byte("x"))}, wantStatus: 400, wantCode: "BadDigest"},
		{name: "unknown checksum algorithm", payloadHash: unsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Foo": "AAAA"}, wantStatus: 400, wantCode: "InvalidRequest"},
		{name: "two checksums", payloadHash: unsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": crc(body), "X-Amz-Checksum-Sha1": "AAAA"}, wantStatus: 400, wantCode: "InvalidRequest"},
		{name: "signed streaming payload", payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", wantStatus: 501, wantCode: "NotImplemented"},
		{name: "garbage payload hash", payloadHash: "not-a-hash", wantStatus: 400, wantCode: "InvalidArgument"},
		{name: "missing x-amz-content-sha256", payloadHash: unsignedPayload, omitSHA: true, wantStatus: 400, wantCode: "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "payload/" + strings.ReplaceAll(tc.name, " ", "_")
			req, err := http.NewRequest(http.MethodPut, f.ts.URL+"/"+testBucket+"/"+key, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			signHeader(t, req, f.ak, f.sk, tc.payloadHash, time.Now())
			if tc.omitSHA {
				req.Header.Del("X-Amz-Content-Sha256")
			}
			got := do(t, f.ts.Client(), req)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if tc.wantCode != "" && got.code() != tc.wantCode {
				t.Errorf("code = %q, want %q", got.code(), tc.wantCode)
			}
			stored := f.sendURL(t, http.MethodGet, presignGet(t, f.pathPresigner(), key, time.Minute), nil, nil)
			if tc.wantStatus == 200 {
				if !bytes.Equal(stored.body, body) {
					t.Errorf("stored = %d %q, want %q", stored.status, stored.body, body)
				}
				for k := range stored.header {
					if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-checksum") || lk == "x-amz-content-sha256" || lk == "x-amz-date" {
						t.Errorf("GET replays request header %s", k)
					}
				}
			} else if stored.status != http.StatusNotFound {
				t.Errorf("rejected upload was stored: GET status %d", stored.status)
			}
		})
	}
}

func awsChunked(chunks [][]byte, trailer string) []byte {
	var b bytes.Buffer
	for _, c := range chunks {
		fmt.Fprintf(&b, "%x\r\n", len(c))
		b.Write(c)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\n")
	if trailer != "" {
		b.WriteString(trailer + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// TestAWSChunkedUpload covers STREAMING-UNSIGNED-PAYLOAD-TRAILER: first as
// the Go SDK sends it (it only does so over HTTPS), then hand-framed bodies
// signed by the SDK signer.
func TestAWSChunkedUpload(t *testing.T) {
	t.Run("sdk over https", func(t *testing.T) {
		f := newFixture(t, nil)
		var mu sync.Mutex
		var seen []string
		ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.Header.Get("X-Amz-Content-Sha256"))
			mu.Unlock()
			f.srv.ServeHTTP(w, r)
		}))
		defer ts.Close()
		c := sdkClient(ts.URL, f.ak, f.sk, testRegion, true, whenSupported, func(o *s3.Options) { o.HTTPClient = ts.Client() })
		ctx := context.Background()
		body := bytes.Repeat([]byte("chunky"), 300000) // 1.8 MB: several chunks
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("chunked.bin"), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("chunked.bin")})
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, body) {
			t.Fatalf("GetObject: %d bytes, want %d identical bytes", len(got), len(body))
		}
		if ce := aws.ToString(out.ContentEncoding); strings.Contains(ce, "aws-chunked") {
			t.Errorf("Content-Encoding = %q; aws-chunked must not be stored", ce)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 || seen[0] != "PUT "+streamingTrailer {
			t.Errorf("requests seen = %v, want the PUT to use %s", seen, streamingTrailer)
		}
	})

	f := newFixture(t, nil)
	data := []byte("hello aws-chunked world")
	h := crc32.NewIEEE()
	h.Write(data)
	goodCRC := base64.StdEncoding.EncodeToString(h.Sum(nil))
	full := awsChunked([][]byte{data[:10], data[10:]}, "x-amz-checksum-crc32:"+goodCRC)
	cases := []struct {
		name       string
		body       []byte
		trailerHdr string
		decodedLen int
		wantStatus int
		wantCode   string
	}{
		{"valid (control)", full, "x-amz-checksum-crc32", len(data), 200, ""},
		{"valid without trailer (control)", awsChunked([][]byte{data}, ""), "", len(data), 200, ""},
		{"bad trailer checksum", awsChunked([][]byte{data}, "x-amz-checksum-crc32:AAAAAA=="), "x-amz-checksum-crc32", len(data), 400, "BadDigest"},
		{"undeclared trailer", full, "", len(data), 400, "MalformedTrailerError"},
		{"declared trailer missing", awsChunked([][]byte{data}, ""), "x-amz-checksum-crc32", len(data), 400, "MalformedTrailerError"},
		{"wrong decoded length", full, "x-amz-checksum-crc32", len(data) + 1, 400, "IncompleteBody"},
		{"truncated", full[:15], "x-amz-checksum-crc32", len(data), 400, "IncompleteBody"},
		{"bad chunk size", []byte("zz\r\nabc\r\n0\r\n\r\n"), "", 3, 400, "InvalidRequest"},
		{"huge chunk size", []byte("7fffffffffffffff\r\nabc"), "", 3, 400, "EntityTooLarge"},
		{"missing CRLF after chunk", []byte("3\r\nabcXY0\r\n\r\n"), "", 3, 400, "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "chunked/" + strings.ReplaceAll(tc.name, " ", "_")
			req, err := http.NewRequest(http.MethodPut, f.ts.URL+"/"+testBucket+"/"+key, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Encoding", "aws-chunked")
			req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(tc.decodedLen))
			if tc.trailerHdr != "" {
				req.Header.Set("X-Amz-Trailer", tc.trailerHdr)
			}
			signHeader(t, req, f.ak, f.sk, streamingTrailer, time.Now())
			got := do(t, f.ts.Client(), req)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if tc.wantCode != "" && got.code() != tc.wantCode {
				t.Errorf("code = %q, want %q", got.code(), tc.wantCode)
			}
			if tc.wantStatus != 200 {
				return
			}
			stored := f.sendURL(t, http.MethodGet, presignGet(t, f.pathPresigner(), key, time.Minute), nil, nil)
			if !bytes.Equal(stored.body, data) {
				t.Errorf("stored body = %q, want %q", stored.body, data)
			}
			if ce := stored.header.Get("Content-Encoding"); ce != "" {
				t.Errorf("stored Content-Encoding = %q, want none", ce)
			}
		})
	}
}
