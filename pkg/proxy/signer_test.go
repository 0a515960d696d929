package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// mintKeys are the key shapes the client suites and the twin use, and the
// ones S3's escaping rules single out: each byte outside the unreserved set
// is escaped once, '/' is kept, and nothing is resolved or collapsed.
var mintKeys = []struct{ name, key, path string }{
	{"plain", "shotgun/versions/1234/movie.mov", "/media/shotgun/versions/1234/movie.mov"},
	{"space", "with space.mov", "/media/with%20space.mov"},
	{"plus", "plus+sign.mov", "/media/plus%2Bsign.mov"},
	{"percent literal", "percent%20literal.mov", "/media/percent%2520literal.mov"},
	{"lone percent", "percent%.mov", "/media/percent%25.mov"},
	{"tilde", "a~b.mov", "/media/a~b.mov"},
	{"unreserved", "A-Z_a.z~0-9", "/media/A-Z_a.z~0-9"},
	{"equals", "eq=uals.mov", "/media/eq%3Duals.mov"},
	{"ampersand", "a&b.mov", "/media/a%26b.mov"},
	{"question mark", "what?.mov", "/media/what%3F.mov"},
	{"hash", "take#2.mov", "/media/take%232.mov"},
	{"at", "at@sign.mov", "/media/at%40sign.mov"},
	{"quote and parens", "quote'paren(1).mov", "/media/quote%27paren%281%29.mov"},
	{"sub-delims", "a!$*,;:b", "/media/a%21%24%2A%2C%3B%3Ab"},
	{"unicode", "日本/ファイル.mov", "/media/%E6%97%A5%E6%9C%AC/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB.mov"},
	{"cyrillic", "Кириллица.txt", "/media/%D0%9A%D0%B8%D1%80%D0%B8%D0%BB%D0%BB%D0%B8%D1%86%D0%B0.txt"},
	{"double slash", "a//b", "/media/a//b"},
	{"leading slash", "/a", "/media//a"},
	{"dot segments", "a/../b/./c", "/media/a/../b/./c"},
	{"trailing slash", "folder/", "/media/folder/"},
	{"tab", "tab\there", "/media/tab%09here"},
	{"shotgrid attachment", "shotgrid/demo/attachments/0a/1b/shot 010_v001+final.mov",
		"/media/shotgrid/demo/attachments/0a/1b/shot%20010_v001%2Bfinal.mov"},
	{"long", strings.Repeat("k", 1000) + "/é", "/media/" + strings.Repeat("k", 1000) + "/%C3%A9"},
}

// mintShapes are the grants a mint carries: what ShotGrid's URLs ask for
// (host only, a version and an override), and every carried parameter and
// header at once. signs is X-Amz-SignedHeaders exactly; hoisted are the
// x-amz-* headers the signer moves into the signed query.
var mintShapes = []struct {
	name    string
	query   url.Values
	header  http.Header
	signs   string
	hoisted []string
}{
	{name: "host only", signs: "host"},
	{name: "shotgrid", query: url.Values{"versionId": {"3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}, "response-content-disposition": {`attachment; filename="a b.mov"`}},
		signs: "host"},
	{name: "every carried name",
		query: url.Values{"versionId": {"v1"}, "partNumber": {"2"}, "response-cache-control": {"no-cache"},
			"response-content-disposition": {"inline"}, "response-content-encoding": {"identity"}, "response-content-language": {"fr"},
			"response-content-type": {"video/mp4"}, "response-expires": {"Tue, 01 Dec 2026 16:00:00 GMT"}},
		header: http.Header{"Range": {"bytes=0-99"}, "If-Match": {`"e1"`}, "If-None-Match": {`"e2"`},
			"If-Modified-Since": {"Tue, 01 Dec 2026 16:00:00 GMT"}, "If-Unmodified-Since": {"Wed, 02 Dec 2026 16:00:00 GMT"},
			"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"},
			"X-Amz-Server-Side-Encryption-Customer-Key":       {"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
			"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   {"zZ5FnqcIqUjVwvWmyog4zw=="},
			"X-Amz-Checksum-Mode":                             {"ENABLED"}, "X-Amz-Request-Payer": {"requester"},
			"X-Amz-Expected-Bucket-Owner": {"111122223333"}},
		signs: "host;if-match;if-modified-since;if-none-match;if-unmodified-since;range;" +
			"x-amz-server-side-encryption-customer-algorithm;x-amz-server-side-encryption-customer-key;x-amz-server-side-encryption-customer-key-md5",
		hoisted: []string{"X-Amz-Checksum-Mode", "x-amz-request-payer", "x-amz-expected-bucket-owner"}},
}

// The bare signer applies S3's URL rules as the presign client did: for
// every key shape and grant, at the same instant with the same credentials,
// both write the same URL byte for byte (but for the presign client's
// x-id=GetObject) and sign the same headers, the grant admits it, and it
// signs exactly the headers listed.
func TestSignerMatchesThePresignClient(t *testing.T) {
	cfg := testConfig(t, nil)
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	for _, token := range []string{"", "session-token"} {
		awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAFUNCTION", "secret", token)}
		bare, baseline := NewSigner(awsCfg, cfg), newPresignBaseline(awsCfg, cfg)
		for _, k := range mintKeys {
			for _, sh := range mintShapes {
				t.Run(k.name+"/"+sh.name+"/token="+token, func(t *testing.T) {
					req := SignRequest{Bucket: "media", Key: k.key, Query: sh.query, Header: sh.header}
					got, gotHdr, err := bare.Sign(context.Background(), req, 90*time.Second, at)
					if err != nil {
						t.Fatal(err)
					}
					want, wantHdr, err := baseline.Sign(context.Background(), req, 90*time.Second, at)
					if err != nil {
						t.Fatal(err)
					}
					// The same URL but for x-id=GetObject, which the presign
					// client adds and the bare signer leaves out, and so the
					// signature over it; mintViolation and the twin check
					// the signature itself.
					if a, b := unsigned(got), unsigned(strings.Replace(want, "&x-id=GetObject", "", 1)); a != b {
						t.Errorf("bare signer:\n%s\npresign client, less x-id:\n%s", a, b)
					}
					if !strings.Contains(want, "&x-id=GetObject&X-Amz-Signature=") {
						t.Errorf("the presign client's URL no longer ends in x-id=GetObject: %s", want)
					}
					if !equalHeaders(gotHdr, wantHdr) {
						t.Errorf("signed headers %q, the presign client's %q", gotHdr, wantHdr)
					}
					g := &grant{key: k.key, query: url.Values{}, headers: map[string]string{}, notAfter: at.Add(time.Hour)}
					for p, vs := range sh.query {
						g.query[p] = vs
					}
					for h := range sh.header {
						g.headers[strings.ToLower(h)] = sh.header.Get(h)
					}
					if err := g.admits(got, gotHdr, cfg.EndpointURL, "media"); err != nil {
						t.Errorf("the grant refuses its own URL: %v", err)
					}
					u, err := url.Parse(got)
					if err != nil {
						t.Fatal(err)
					}
					q := u.Query()
					checks := []struct{ name, got, want string }{
						{"path", u.EscapedPath(), k.path},
						{"raw path", strings.SplitN(strings.TrimPrefix(got, "https://"+u.Host), "?", 2)[0], k.path},
						{"signed headers", q.Get("X-Amz-SignedHeaders"), sh.signs},
						{"expires", q.Get("X-Amz-Expires"), "90"},
						{"date", q.Get("X-Amz-Date"), "20261202T030405Z"},
						{"token", q.Get("X-Amz-Security-Token"), token},
						{"x-id", q.Get("x-id"), ""},
						{"payload hash in the URL", q.Get("X-Amz-Content-Sha256"), ""},
					}
					for _, h := range sh.hoisted {
						checks = append(checks, struct{ name, got, want string }{"hoisted " + h, q.Get(h), sh.header.Get(h)})
					}
					for _, c := range checks {
						if c.got != c.want {
							t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
						}
					}
					for _, h := range strings.Split(sh.signs, ";") {
						if h != "host" && gotHdr.Get(h) != sh.header.Get(h) {
							t.Errorf("signed %s = %q, want %q", h, gotHdr.Get(h), sh.header.Get(h))
						}
					}
				})
			}
		}
	}
}

// unsigned is a presigned URL without its signature.
func unsigned(u string) string {
	i := strings.Index(u, "&X-Amz-Signature=")
	if i < 0 {
		return u
	}
	return u[:i]
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		if strings.Join(vs, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// A signer without credentials or an endpoint mints nothing, and a
// provider's failure is the mint's.
func TestSignerWithoutCredentials(t *testing.T) {
	cfg := testConfig(t, nil)
	req := SignRequest{Bucket: "media", Key: "a.mov"}
	if u, _, err := NewSigner(aws.Config{}, cfg).Sign(context.Background(), req, time.Minute, time.Now()); err == nil {
		t.Errorf("signed %s without credentials", u)
	}
	failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, context.DeadlineExceeded
	})
	if u, _, err := NewSigner(aws.Config{Credentials: failing}, cfg).Sign(context.Background(), req, time.Minute, time.Now()); err == nil {
		t.Errorf("signed %s with credentials that failed", u)
	}
}
