package locals3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func presignGet(t *testing.T, p *s3.PresignClient, key string, expires time.Duration) string {
	t.Helper()
	r, err := p.PresignGetObject(context.Background(),
		&s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}, s3.WithPresignExpires(expires))
	if err != nil {
		t.Fatalf("PresignGetObject(%q): %v", key, err)
	}
	return r.URL
}

func TestPresignedGetDataPath(t *testing.T) {
	f := newFixture(t, nil)
	content := []byte("0123456789abcdefghij") // 20 bytes
	f.seed(t, "media/clip.txt", content)

	styles := []struct {
		name string
		p    *s3.PresignClient
		host string // expected signed host
	}{
		{"virtual-hosted", f.vhostPresigner(), "demo.s3.amazonaws.com"},
		{"path-style", f.pathPresigner(), f.ts.Listener.Addr().String()},
	}
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			getURL := presignGet(t, st.p, "media/clip.txt", time.Minute)
			if u, _ := url.Parse(getURL); u.Host != st.host {
				t.Fatalf("presigned host = %q, want %q", u.Host, st.host)
			}
			hr, err := st.p.PresignHeadObject(context.Background(),
				&s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("media/clip.txt")})
			if err != nil {
				t.Fatalf("PresignHeadObject: %v", err)
			}

			full := f.sendURL(t, http.MethodGet, getURL, nil, nil)
			if full.status != http.StatusOK || !bytes.Equal(full.body, content) {
				t.Fatalf("GET: got %d %q, want 200 %q", full.status, full.body, content)
			}
			etag := full.header.Get("ETag")
			sum := md5.Sum(content)
			if want := `"` + hex.EncodeToString(sum[:]) + `"`; etag != want {
				t.Fatalf("ETag = %s, want %s", etag, want)
			}

			cases := []struct {
				name       string
				method     string
				url        string
				hdr        http.Header
				wantStatus int
				wantBody   string
				wantHeader map[string]string
			}{
				{"HEAD", http.MethodHead, hr.URL, nil, http.StatusOK, "",
					map[string]string{"Content-Length": "20", "ETag": etag}},
				{"range", http.MethodGet, getURL, http.Header{"Range": {"bytes=2-5"}}, http.StatusPartialContent, "2345",
					map[string]string{"Content-Range": "bytes 2-5/20"}},
				{"open range", http.MethodGet, getURL, http.Header{"Range": {"bytes=18-"}}, http.StatusPartialContent, "ij",
					map[string]string{"Content-Range": "bytes 18-19/20"}},
				{"suffix range", http.MethodGet, getURL, http.Header{"Range": {"bytes=-4"}}, http.StatusPartialContent, "ghij",
					map[string]string{"Content-Range": "bytes 16-19/20"}},
				{"unsatisfiable range", http.MethodGet, getURL, http.Header{"Range": {"bytes=20-"}}, http.StatusRequestedRangeNotSatisfiable, "", nil},
				{"if-none-match current", http.MethodGet, getURL, http.Header{"If-None-Match": {etag}}, http.StatusNotModified, "", nil},
				{"if-none-match stale", http.MethodGet, getURL, http.Header{"If-None-Match": {`"0000"`}}, http.StatusOK, string(content), nil},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got := f.sendURL(t, tc.method, tc.url, tc.hdr, nil)
					if got.status != tc.wantStatus {
						t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
					}
					if tc.wantBody != "" && string(got.body) != tc.wantBody {
						t.Errorf("body = %q, want %q", got.body, tc.wantBody)
					}
					for k, v := range tc.wantHeader {
						if g := got.header.Get(k); g != v {
							t.Errorf("%s = %q, want %q", k, g, v)
						}
					}
				})
			}
		})
	}
}

// replaceParam rewrites one query parameter of a signed URL, keeping the
// rest byte for byte.
func replaceParam(t *testing.T, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(u.RawQuery, "&")
	found := false
	for i, p := range parts {
		if k, _, _ := strings.Cut(p, "="); k == key {
			parts[i] = key + "=" + url.QueryEscape(value)
			found = true
		}
	}
	if !found {
		t.Fatalf("%s not in %s", key, raw)
	}
	u.RawQuery = strings.Join(parts, "&")
	return u.String()
}

func param(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(key)
}

func TestPresignedRejections(t *testing.T) {
	f := newFixture(t, nil)
	f.seed(t, "a.txt", []byte("secret A"))
	f.seed(t, "b.txt", []byte("secret B"))
	otherAK, otherSK, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}

	good := func(t *testing.T) string { return presignGet(t, f.vhostPresigner(), "a.txt", time.Minute) }
	cases := []struct {
		name        string
		url         func(t *testing.T) string
		hdr         http.Header
		host        string        // overrides the Host header when set
		clockOffset time.Duration // server clock relative to the signer's
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{name: "valid (control)", url: good, wantStatus: http.StatusOK},
		{name: "anonymous", url: func(t *testing.T) string { return "http://demo.s3.amazonaws.com/a.txt" },
			wantStatus: 403, wantCode: "AccessDenied"},
		{name: "tampered signature", url: func(t *testing.T) string {
			u := good(t)
			sig := param(t, u, "X-Amz-Signature")
			flipped := "0"
			if sig[len(sig)-1] == '0' {
				flipped = "1"
			}
			return replaceParam(t, u, "X-Amz-Signature", sig[:len(sig)-1]+flipped)
		}, wantStatus: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "tampered expiry", url: func(t *testing.T) string {
			return replaceParam(t, good(t), "X-Amz-Expires", "3600")
		}, wantStatus: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "wrong secret", url: func(t *testing.T) string {
			return presignGet(t, presigner(vhostBase, f.ak, otherSK, testRegion, false), "a.txt", time.Minute)
		}, wantStatus: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "another key's signature", url: func(t *testing.T) string {
			return strings.Replace(good(t), "/a.txt?", "/b.txt?", 1)
		}, wantStatus: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "other host", url: good, host: "other.s3.amazonaws.com",
			wantStatus: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "unknown access key", url: func(t *testing.T) string {
			return presignGet(t, presigner(vhostBase, otherAK, otherSK, testRegion, false), "a.txt", time.Minute)
		}, wantStatus: 403, wantCode: "InvalidAccessKeyId"},
		{name: "expired", url: good, clockOffset: 61 * time.Second,
			wantStatus: 403, wantCode: "AccessDenied", wantMessage: "Request has expired"},
		{name: "not expired yet (control)", url: good, clockOffset: 55 * time.Second, wantStatus: http.StatusOK},
		{name: "far-future date", url: good, clockOffset: -20 * time.Minute,
			wantStatus: 403, wantCode: "AccessDenied", wantMessage: "Request is not valid yet"},
		{name: "future within skew (control)", url: good, clockOffset: -14 * time.Minute, wantStatus: http.StatusOK},
		{name: "duplicated parameter", url: func(t *testing.T) string { return good(t) + "&X-Amz-Expires=60" },
			wantStatus: 400, wantCode: "AuthorizationQueryParametersError"},
		{name: "duplicated signature differing in case", url: func(t *testing.T) string {
			u := good(t)
			return u + "&x-amz-signature=" + param(t, u, "X-Amz-Signature")
		}, wantStatus: 400, wantCode: "AuthorizationQueryParametersError"},
		{name: "expires over a week", url: func(t *testing.T) string {
			return replaceParam(t, good(t), "X-Amz-Expires", "604801")
		}, wantStatus: 400, wantCode: "AuthorizationQueryParametersError"},
		{name: "missing signed headers", url: func(t *testing.T) string {
			return strings.Replace(good(t), "X-Amz-SignedHeaders=host&", "", 1)
		}, wantStatus: 400, wantCode: "AuthorizationQueryParametersError"},
		{name: "wrong region", url: func(t *testing.T) string {
			return presignGet(t, presigner(vhostBase, f.ak, f.sk, "eu-west-1", false), "a.txt", time.Minute)
		}, wantStatus: 400, wantCode: "AuthorizationQueryParametersError"},
		{name: "unsigned x-amz header", url: good, hdr: http.Header{"X-Amz-Meta-Extra": {"1"}},
			wantStatus: 403, wantCode: "AccessDenied"},
		{name: "header auth as well", url: good, hdr: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=x"}},
			wantStatus: 400, wantCode: "InvalidArgument"},
		{name: "signature version 2", url: func(t *testing.T) string {
			return "http://demo.s3.amazonaws.com/a.txt?AWSAccessKeyId=" + f.ak + "&Expires=9999999999&Signature=abc"
		}, wantStatus: 400, wantCode: "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setClockOffset(tc.clockOffset)
			defer f.setClockOffset(0)
			u := tc.url(t)
			if tc.host != "" {
				parsed, _ := url.Parse(u)
				parsed.Host = tc.host
				u = parsed.String()
			}
			got := f.sendURL(t, http.MethodGet, u, tc.hdr, nil)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if tc.wantStatus == http.StatusOK {
				if string(got.body) != "secret A" {
					t.Fatalf("body = %q, want %q", got.body, "secret A")
				}
				return
			}
			if c := got.code(); c != tc.wantCode {
				t.Errorf("code = %q, want %q (body %s)", c, tc.wantCode, got.body)
			}
			if tc.wantMessage != "" && got.message() != tc.wantMessage {
				t.Errorf("message = %q, want %q", got.message(), tc.wantMessage)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type = %q, want application/xml", ct)
			}
			if bytes.Contains(got.body, []byte("secret A")) {
				t.Errorf("error response leaks the object: %s", got.body)
			}
			if bytes.Contains(got.body, []byte(f.sk)) {
				t.Errorf("error response leaks the secret key")
			}
		})
	}
}

func TestPresignedPut(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	pr, err := f.pathPresigner().PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String("up/video.mp4"), ContentType: aws.String("video/mp4"),
	})
	if err != nil {
		t.Fatalf("PresignPutObject: %v", err)
	}
	body := []byte("not really a video")
	cases := []struct {
		name       string
		hdr        http.Header
		wantStatus int
		wantCode   string
	}{
		{"signed content type mismatch", http.Header{"Content-Type": {"image/png"}}, 403, "SignatureDoesNotMatch"},
		{"unsigned metadata", http.Header{"Content-Type": {"video/mp4"}, "X-Amz-Meta-Owner": {"mallory"}}, 403, "AccessDenied"},
		{"unsigned copy source", http.Header{"Content-Type": {"video/mp4"}, "X-Amz-Copy-Source": {"demo/other"}}, 403, "AccessDenied"},
		{"valid", http.Header{"Content-Type": {"video/mp4"}}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := f.sendURL(t, http.MethodPut, pr.URL, tc.hdr, body)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if c := got.code(); tc.wantCode != "" && c != tc.wantCode {
				t.Errorf("code = %q, want %q", c, tc.wantCode)
			}
		})
	}
	out, err := f.client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("up/video.mp4")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer out.Body.Close()
	got, _ := io.ReadAll(out.Body)
	if !bytes.Equal(got, body) {
		t.Errorf("stored body = %q, want %q", got, body)
	}
	if ct := aws.ToString(out.ContentType); ct != "video/mp4" {
		t.Errorf("ContentType = %q, want video/mp4", ct)
	}
	if len(out.Metadata) != 0 {
		t.Errorf("Metadata = %v, want none (rejected requests must not have stored anything)", out.Metadata)
	}
}

func TestPresignedMultipart(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	client := f.client()
	key := "big/upload.bin"

	created, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	const partSize = 5 << 20
	var whole []byte
	var parts []types.CompletedPart
	var md5s []byte
	for n := int32(1); n <= 3; n++ {
		part := make([]byte, partSize)
		if _, err := rand.Read(part); err != nil {
			t.Fatal(err)
		}
		whole = append(whole, part...)
		pr, err := f.vhostPresigner().PresignUploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: created.UploadId, PartNumber: aws.Int32(n),
		})
		if err != nil {
			t.Fatalf("PresignUploadPart(%d): %v", n, err)
		}
		got := f.sendURL(t, http.MethodPut, pr.URL, nil, part)
		if got.status != http.StatusOK {
			t.Fatalf("part %d: status %d, want 200 (body %s)", n, got.status, got.body)
		}
		sum := md5.Sum(part)
		md5s = append(md5s, sum[:]...)
		if want := `"` + hex.EncodeToString(sum[:]) + `"`; got.header.Get("ETag") != want {
			t.Fatalf("part %d: ETag %q, want %q", n, got.header.Get("ETag"), want)
		}
		parts = append(parts, types.CompletedPart{ETag: aws.String(got.header.Get("ETag")), PartNumber: aws.Int32(n)})
	}

	// A forged part (wrong signature) must not land in the upload.
	pr, err := presigner(vhostBase, f.ak, "wrong"+f.sk, testRegion, false).PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: created.UploadId, PartNumber: aws.Int32(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.sendURL(t, http.MethodPut, pr.URL, nil, []byte("forged")); got.status != http.StatusForbidden {
		t.Fatalf("forged part: status %d, want 403", got.status)
	}

	done, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	sum := md5.Sum(md5s)
	if want := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(sum[:])); aws.ToString(done.ETag) != want {
		t.Errorf("multipart ETag = %s, want %s", aws.ToString(done.ETag), want)
	}
	got := f.sendURL(t, http.MethodGet, presignGet(t, f.vhostPresigner(), key, time.Minute), nil, nil)
	if got.status != http.StatusOK || !bytes.Equal(got.body, whole) {
		t.Fatalf("GET assembled object: status %d, %d bytes equal=%v; want 200, %d bytes",
			got.status, len(got.body), bytes.Equal(got.body, whole), len(whole))
	}
}

func TestAwkwardKeys(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	keys := []struct{ name, key string }{
		{"space", "my file.txt"},
		{"plus", "a+b.txt"},
		{"percent", "100%.txt"},
		{"percent escape lookalike", "x%20y"},
		{"equals and ampersand", "k=v&w.txt"},
		{"at", "user@host"},
		{"quotes and parens", "it's (1).txt"},
		{"star and tilde", "*~!$,;:"},
		{"japanese", "日本/ファイル.mov"},
		{"cyrillic", "Кириллица"},
		{"double slash", "a//b"},
		{"dot-dot segment", "a/../b"},
		{"dot segment", "a/./b"},
		{"trailing slash", "dir/"},
		{"question and hash", "q?x#y"},
	}
	for _, tc := range keys {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte("content of " + tc.key)
			pr, err := f.pathPresigner().PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(tc.key)})
			if err != nil {
				t.Fatalf("PresignPutObject: %v", err)
			}
			if got := f.sendURL(t, http.MethodPut, pr.URL, nil, body); got.status != http.StatusOK {
				t.Fatalf("PUT %s: status %d, want 200 (body %s)", pr.URL, got.status, got.body)
			}
			for _, p := range []struct {
				name string
				p    *s3.PresignClient
			}{{"virtual-hosted", f.vhostPresigner()}, {"path-style", f.pathPresigner()}} {
				got := f.sendURL(t, http.MethodGet, presignGet(t, p.p, tc.key, time.Minute), nil, nil)
				if got.status != http.StatusOK || !bytes.Equal(got.body, body) {
					t.Errorf("%s GET: got %d %q, want 200 %q", p.name, got.status, got.body, body)
				}
			}
			// The key must be stored verbatim (not normalised), which a
			// header-auth listing shows.
			list, err := f.client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(tc.key)})
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			found := false
			for _, o := range list.Contents {
				found = found || aws.ToString(o.Key) == tc.key
			}
			if !found {
				t.Errorf("key %q not listed; got %d objects", tc.key, len(list.Contents))
			}
		})
	}
}

func TestDataPathErrors(t *testing.T) {
	f := newFixture(t, nil)
	missingBucket, err := f.vhostPresigner().PresignGetObject(context.Background(),
		&s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		url        string
		wantStatus int
		wantCode   string
	}{
		{"missing key", presignGet(t, f.vhostPresigner(), "nothing/here.txt", time.Minute), 404, "NoSuchKey"},
		{"missing bucket", missingBucket.URL, 404, "NoSuchBucket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := f.sendURL(t, http.MethodGet, tc.url, nil, nil)
			if got.status != tc.wantStatus || got.code() != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q (body %s)", got.status, got.code(), tc.wantStatus, tc.wantCode, got.body)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type = %q, want application/xml", ct)
			}
		})
	}
}
