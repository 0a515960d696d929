package locals3

import (
	"bufio"
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHostileInput feeds malformed requests straight to ServeHTTP: each must
// get a well-formed S3 XML error with the expected status, never a panic.
func TestHostileInput(t *testing.T) {
	f := newFixture(t, nil)
	f.seed(t, "a.txt", []byte("A"))
	now := time.Now().UTC()
	date := now.Format(amzDateLayout)
	cred := f.ak + "/" + date[:8] + "/us-east-1/s3/aws4_request"
	q := func(extra string) string {
		return "/demo/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + strings.ReplaceAll(cred, "/", "%2F") +
			"&X-Amz-Date=" + date + "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("0", 64) + extra
	}
	authz := func(c, sh, sig string) string {
		return "AWS4-HMAC-SHA256 Credential=" + c + ", SignedHeaders=" + sh + ", Signature=" + sig
	}
	hdrAuth := map[string]string{"X-Amz-Date": date, "X-Amz-Content-Sha256": unsignedPayload}

	cases := []struct {
		name       string
		target     string
		hdr        map[string]string
		authz      string
		wantStatus int
		wantCode   string
	}{
		{"bad escape in auth param", "/demo/a.txt?X-Amz-Credential=%zz&X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, "", 400, "AuthorizationQueryParametersError"},
		{"bad escape in other param", "/demo/a.txt?foo=%G1", nil, "", 400, "InvalidArgument"},
		{"truncated escape", "/demo/a.txt?X-Amz-Algorithm=%", nil, "", 400, "AuthorizationQueryParametersError"},
		{"non-UTF-8 key with zero signature", "/demo/%ff%fe?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + strings.ReplaceAll(cred, "/", "%2F") + "&X-Amz-Date=" + date + "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", nil, "", 403, "SignatureDoesNotMatch"},
		{"zero signature", q(""), nil, "", 403, "SignatureDoesNotMatch"},
		{"duplicated signature", q("&X-Amz-Signature=" + strings.Repeat("1", 64)), nil, "", 400, "AuthorizationQueryParametersError"},
		{"duplicated algorithm", q("&X-Amz-Algorithm=AWS4-HMAC-SHA256"), nil, "", 400, "AuthorizationQueryParametersError"},
		{"negative expires", strings.Replace(q(""), "X-Amz-Expires=60", "X-Amz-Expires=-1", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"non-numeric expires", strings.Replace(q(""), "X-Amz-Expires=60", "X-Amz-Expires=1e3", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"huge expires", strings.Replace(q(""), "X-Amz-Expires=60", "X-Amz-Expires=99999999999999999999", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"bad date", strings.Replace(q(""), "X-Amz-Date="+date, "X-Amz-Date=yesterday", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"scope date differs", strings.Replace(q(""), "X-Amz-Date="+date, "X-Amz-Date=20000101T000000Z", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"wrong algorithm", strings.Replace(q(""), "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"short credential", strings.Replace(q(""), "%2Fus-east-1%2Fs3", "", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"wrong service", strings.Replace(q(""), "%2Fs3%2F", "%2Fec2%2F", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"wrong terminal", strings.Replace(q(""), "aws4_request", "aws5_request", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"host not signed", strings.Replace(q(""), "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"empty signed header name", strings.Replace(q(""), "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host%3B%3B", 1), nil, "", 400, "AuthorizationQueryParametersError"},
		{"only the signature", "/demo/a.txt?X-Amz-Signature=abc", nil, "", 400, "AuthorizationQueryParametersError"},
		{"lower-case params are not auth", "/demo/a.txt?x-amz-algorithm=AWS4-HMAC-SHA256", nil, "", 403, "AccessDenied"},

		{"auth header garbage", "/demo/a.txt", hdrAuth, "AWS4-HMAC-SHA256 garbage", 400, "AuthorizationHeaderMalformed"},
		{"auth header non-UTF-8", "/demo/a.txt", hdrAuth, "AWS4-HMAC-SHA256 Credential=\xff\xfe, SignedHeaders=host, Signature=\xff", 400, "AuthorizationHeaderMalformed"},
		{"auth header duplicate component", "/demo/a.txt", hdrAuth, authz(cred, "host", "00") + ", Signature=00", 400, "AuthorizationHeaderMalformed"},
		{"auth header missing signature", "/demo/a.txt", hdrAuth, "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host", 400, "AuthorizationHeaderMalformed"},
		{"auth header huge signed headers", "/demo/a.txt", hdrAuth, authz(cred, "host;x-amz-content-sha256;x-amz-date"+strings.Repeat(";x-a", 20000), "00"), 403, "SignatureDoesNotMatch"},
		{"auth header without date", "/demo/a.txt", map[string]string{"X-Amz-Content-Sha256": unsignedPayload}, authz(cred, "host", "00"), 403, "AccessDenied"},
		{"auth header bad date", "/demo/a.txt", map[string]string{"X-Amz-Date": "now", "X-Amz-Content-Sha256": unsignedPayload}, authz(cred, "host", "00"), 403, "AccessDenied"},
		{"auth header stale date", "/demo/a.txt", map[string]string{"X-Amz-Date": "20000101T000000Z", "X-Amz-Content-Sha256": unsignedPayload},
			authz(f.ak+"/20000101/us-east-1/s3/aws4_request", "host;x-amz-content-sha256;x-amz-date", "00"), 403, "RequestTimeTooSkewed"},
		{"auth header unsigned amz header", "/demo/a.txt", hdrAuth, authz(cred, "host", "00"), 403, "AccessDenied"},
		{"auth header unknown key", "/demo/a.txt", hdrAuth, authz("AKIANOBODY/"+date[:8]+"/us-east-1/s3/aws4_request", "host;x-amz-content-sha256;x-amz-date", "00"), 403, "InvalidAccessKeyId"},
		{"signature v2 header", "/demo/a.txt", nil, "AWS " + f.ak + ":c2lnbmF0dXJl", 400, "InvalidRequest"},
		{"sigv4a header", "/demo/a.txt", nil, "AWS4-ECDSA-P256-SHA256 Credential=x", 400, "InvalidRequest"},
		{"bearer header", "/demo/a.txt", nil, "Bearer abc", 400, "InvalidArgument"},
		{"anonymous", "/demo/a.txt", nil, "", 403, "AccessDenied"},
		{"anonymous bucket listing", "/demo", nil, "", 403, "AccessDenied"},
		{"anonymous root", "/", nil, "", 403, "AccessDenied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// http.ReadRequest accepts what a real client could put on the
			// wire, including bytes url.Parse would refuse in a URL.
			raw := "GET " + tc.target + " HTTP/1.1\r\nHost: demo.s3.amazonaws.com\r\n"
			for k, v := range tc.hdr {
				raw += k + ": " + v + "\r\n"
			}
			if tc.authz != "" {
				raw += "Authorization: " + tc.authz + "\r\n"
			}
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\n")))
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body.Bytes())
			}
			var e struct {
				Code      string `xml:"Code"`
				RequestID string `xml:"RequestId"`
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body is not XML: %v: %q", err, rec.Body.Bytes())
			}
			if e.Code != tc.wantCode {
				t.Errorf("code = %q, want %q (body %s)", e.Code, tc.wantCode, rec.Body.Bytes())
			}
			if e.RequestID == "" || rec.Header().Get("X-Amz-Request-Id") != e.RequestID {
				t.Errorf("RequestId = %q, header %q; want the same non-empty id", e.RequestID, rec.Header().Get("X-Amz-Request-Id"))
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type = %q, want application/xml", ct)
			}
		})
	}
}

func TestHeadErrorHasNoBody(t *testing.T) {
	f := newFixture(t, nil)
	req := httptest.NewRequest(http.MethodHead, "http://demo.s3.amazonaws.com/a.txt", nil)
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || rec.Body.Len() != 0 {
		t.Fatalf("HEAD anonymous: got %d with %d body bytes, want 403 with none", rec.Code, rec.Body.Len())
	}
}

func TestNewValidation(t *testing.T) {
	cases := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"valid", Options{AccessKeyID: "AKIAX", SecretAccessKey: "s", Buckets: []string{"demo", "demo"}}, ""},
		{"no access key", Options{SecretAccessKey: "s"}, "required"},
		{"no secret", Options{AccessKeyID: "AKIAX"}, "required"},
		{"slash in key", Options{AccessKeyID: "AK/IA", SecretAccessKey: "s"}, "must not contain"},
		{"bad bucket", Options{AccessKeyID: "AKIAX", SecretAccessKey: "s", Buckets: []string{"Bad_Bucket"}}, "Bad_Bucket"},
		{"two wildcards", Options{AccessKeyID: "AKIAX", SecretAccessKey: "s", CORSOrigins: []string{"https://*.*.example.com"}}, "at most one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New: error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestPutObjectSeeding(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.srv.PutObject(ctx, "missing-bucket", "k", []byte("x"), ""); err == nil {
		t.Errorf("PutObject into a missing bucket: got nil error, want one")
	}
	if err := f.srv.PutObject(ctx, testBucket, "", []byte("x"), ""); err == nil {
		t.Errorf("PutObject with an empty key: got nil error, want one")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.srv.PutObject(cancelled, testBucket, "k", []byte("x"), ""); err == nil {
		t.Errorf("PutObject with a cancelled context: got nil error, want one")
	}
	if err := f.srv.PutObject(ctx, testBucket, "seeded.bin", []byte("seed"), ""); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	got := f.sendURL(t, http.MethodGet, presignGet(t, f.pathPresigner(), "seeded.bin", time.Minute), nil, nil)
	if got.status != 200 || string(got.body) != "seed" {
		t.Fatalf("GET seeded: %d %q, want 200 %q", got.status, got.body, "seed")
	}
	if ct := got.header.Get("Content-Type"); ct != "binary/octet-stream" {
		t.Errorf("Content-Type = %q, want binary/octet-stream (S3's default)", ct)
	}
	if lm := got.header.Get("Last-Modified"); lm == "" {
		t.Errorf("Last-Modified missing")
	}
}

func TestGenerateCredentials(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		ak, sk, err := GenerateCredentials()
		if err != nil {
			t.Fatalf("GenerateCredentials: %v", err)
		}
		if len(ak) != 20 || !strings.HasPrefix(ak, "AKIA") || strings.Trim(ak, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("access key %q: want AKIA + 16 base32 characters", ak)
		}
		if len(sk) != 40 || strings.ContainsAny(sk, "= \n") {
			t.Fatalf("secret has length %d or padding, want 40 base64 characters", len(sk))
		}
		if seen[ak] || seen[sk] {
			t.Fatalf("GenerateCredentials repeated a value after %d calls", i)
		}
		seen[ak], seen[sk] = true, true
	}
}

func TestURIEncode(t *testing.T) {
	cases := []struct {
		name, in  string
		keepSlash bool
		want      string
	}{
		{"unreserved kept", "AZaz09-._~", false, "AZaz09-._~"},
		{"slash kept in paths", "/a//b/../c", true, "/a//b/../c"},
		{"slash encoded in query", "a/b", false, "a%2Fb"},
		{"space and plus", "a b+c", true, "a%20b%2Bc"},
		{"reserved", "!*'();:@&=$,?#[]%", false, "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%3F%23%5B%5D%25"},
		{"utf-8 bytes upper-case hex", "é", true, "%C3%A9"},
		{"invalid utf-8 byte", "\xff", true, "%FF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := uriEncode(tc.in, tc.keepSlash); got != tc.want {
				t.Errorf("uriEncode(%q, %v) = %q, want %q", tc.in, tc.keepSlash, got, tc.want)
			}
		})
	}
}
