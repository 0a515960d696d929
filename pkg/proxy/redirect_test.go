package proxy

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The Go SDK has twice shipped presigners that signed extra headers, which
// breaks every plain-URL client. This pins the behaviour of the version in
// go.mod: X-Amz-SignedHeaders is exactly "host", the URL is path-style on
// the endpoint host, and the expiry is the one asked for.
func TestNewPresignerSignsHostOnly(t *testing.T) {
	for _, token := range []string{"", "session-token"} {
		cfg := testConfig(t, nil)
		awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAFUNCTION", "secret", token)}
		p := NewPresigner(awsCfg, cfg)
		in := getObjectInput("media", &signedRequest{key: "shotgun/a b+c.mov", query: url.Values{
			"versionId": {"v1"}, "response-content-disposition": {`attachment; filename="a.mov"`},
		}})
		minted, err := p.PresignGetObject(context.Background(), in, s3.WithPresignExpires(90*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(minted.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		checks := []struct{ name, got, want string }{
			{"host", u.Host, "bucket.vpce-1.s3.us-east-1.vpce.amazonaws.com"},
			{"path", u.EscapedPath(), "/media/shotgun/a%20b%2Bc.mov"},
			{"signed headers", q.Get("X-Amz-SignedHeaders"), "host"},
			{"expires", q.Get("X-Amz-Expires"), "90"},
			{"version", q.Get("versionId"), "v1"},
			{"disposition", q.Get("response-content-disposition"), `attachment; filename="a.mov"`},
			{"token", q.Get("X-Amz-Security-Token"), token},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("token %q, %s: got %q, want %q", token, c.name, c.got, c.want)
			}
		}
		if !signsHostOnly(minted.URL) {
			t.Errorf("signsHostOnly rejected %s", minted.URL)
		}
		if len(minted.SignedHeader) != 1 || minted.SignedHeader.Get("Host") == "" {
			t.Errorf("signed header set %v, want Host only", minted.SignedHeader)
		}
	}
}

func TestContentRange(t *testing.T) {
	tests := []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-99/100", 0, 99, 100, true},
		{"bytes 100-199/5000", 100, 199, 5000, true},
		{"bytes 0-99/*", 0, 99, -1, true},
		{"bytes */0", 0, 0, 0, false},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes -1-5/10", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 0-1", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tc := range tests {
		first, last, total, ok := contentRange(tc.in)
		if ok != tc.ok || (ok && (first != tc.first || last != tc.last || total != tc.total)) {
			t.Errorf("%q: got %d-%d/%d %v", tc.in, first, last, total, ok)
		}
	}
}

func TestObjectKey(t *testing.T) {
	tests := []struct {
		name, raw, bucket string
		virtual           bool
		want              string
		err               bool
	}{
		{"plain", "/shotgun/a.mov", "b", true, "shotgun/a.mov", false},
		{"encoded space and plus", "/a%20b%2Bc", "b", true, "a b+c", false},
		{"literal plus", "/a+b", "b", true, "a+b", false},
		{"encoded slash", "/a%2Fb", "b", true, "a/b", false},
		{"double slash kept", "/a//b", "b", true, "a//b", false},
		{"dot-dot kept literally", "/a/../b", "b", true, "a/../b", false},
		{"unicode", "/%E6%97%A5%E6%9C%AC", "b", true, "日本", false},
		{"path-style", "/b/k/x", "b", false, "k/x", false},
		{"path-style other bucket", "/c/k", "b", false, "", true},
		{"path-style bucket only", "/b", "b", false, "", true},
		{"empty key", "/", "b", true, "", true},
		{"bad escape", "/a%2", "b", true, "", true},
		{"non-UTF-8", "/%C3%28", "b", true, "", true},
		{"NUL", "/a%00b", "b", true, "", true},
		{"raw space", "/a b", "b", true, "", true},
		{"raw unicode", "/日本", "b", true, "", true},
		{"relative", "a", "b", true, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := objectKey(tc.raw, tc.bucket, tc.virtual)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}
