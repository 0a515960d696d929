package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/locals3"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
)

func BenchmarkPresign(b *testing.B) {
	cfg := benchConfig(b, "http://127.0.0.1:1")
	awsCfg := aws.Config{Region: "us-east-1", Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIAFUNCTION", "secret", "token"))}
	p := proxy.NewSigner(awsCfg, cfg)
	in := proxy.SignRequest{Bucket: "demo", Key: "shotgun/versions/1234/movie.mov",
		Query: url.Values{"response-content-disposition": {`attachment; filename="movie.mov"`}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Sign(ctx, in, 15*time.Minute, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchConfig(b *testing.B, upstream string) *config.Config {
	b.Helper()
	m := map[string]string{
		"S3PROXY_BUCKET": "demo", "S3PROXY_REGION": "us-east-1",
		"S3PROXY_UPSTREAM_URL": upstream, "S3PROXY_ENDPOINT_URL": upstream,
	}
	cfg, err := config.FromEnv(func(k string) string { return m[k] })
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkGET measures a whole GET decision through the ALB adapter and
// the handler against an in-process S3 that checks signatures, and, in the
// same run and interleaved op by op, the same request sent straight to that
// S3 as the baseline, with Range bytes=0-(inline max − 1): all of an object
// that fits inline, in one request. It reports each side's p50 and their
// ratio.
func BenchmarkGET(b *testing.B) {
	ctx := context.Background()
	key, secret, _ := locals3.GenerateCredentials()
	s3srv, err := locals3.New(locals3.Options{AccessKeyID: key, SecretAccessKey: secret, Buckets: []string{"demo"}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s3srv)
	defer ts.Close()
	objects := map[string]int{"inline-8KiB": 8 << 10, "inline-100KiB": 100 << 10, "redirect-20MB": 20_000_000}
	for name, size := range objects {
		if err := s3srv.PutObject(ctx, "demo", "shotgun/"+name, make([]byte, size), "video/quicktime"); err != nil {
			b.Fatal(err)
		}
	}
	cfg := benchConfig(b, ts.URL)
	creds := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, ""))
	h := proxy.Wire(cfg, aws.Config{Region: "us-east-1", Credentials: creds}, slog.New(slog.DiscardHandler), nil)
	fn := albhttp.NewFunction(h)
	signer := sgurl.NewSigner(creds, "us-east-1", "demo", cfg.SignedHost)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, name := range []string{"inline-8KiB", "inline-100KiB", "redirect-20MB"} {
		b.Run(name, func(b *testing.B) {
			signed, err := signer.Get(ctx, "shotgun/"+name, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			u, _ := url.Parse(signed)
			event, _ := json.Marshal(events.ALBTargetGroupRequest{
				HTTPMethod: "GET", Path: u.EscapedPath(),
				MultiValueQueryStringParameters: rawParams(u.RawQuery),
				MultiValueHeaders:               map[string][]string{"host": {"s3-proxy.studio.test"}, "x-forwarded-proto": {"https"}},
			})
			direct, _ := http.NewRequest("GET", ts.URL+u.RequestURI(), nil)
			direct.Host = cfg.SignedHost
			direct.Header.Set("Range", fmt.Sprintf("bytes=0-%d", cfg.InlineMax-1))
			wantStatus := map[string]int{"inline-8KiB": 200, "inline-100KiB": 200, "redirect-20MB": 307}[name]

			var viaProxy, straight []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				out, err := fn.Invoke(ctx, event)
				if err != nil || !strings.HasPrefix(string(out), fmt.Sprintf(`{"statusCode":%d,`, wantStatus)) {
					b.Fatalf("handler: %v, %.80s", err, out)
				}
				t1 := time.Now()
				dr, err := client.Do(direct)
				if err != nil || dr.StatusCode/100 != 2 {
					b.Fatalf("direct: %v", err)
				}
				_, _ = io.Copy(io.Discard, dr.Body)
				dr.Body.Close()
				t2 := time.Now()
				viaProxy, straight = append(viaProxy, t1.Sub(t0)), append(straight, t2.Sub(t1))
			}
			proxy.ReportP50s(b, "proxy", viaProxy, "direct", straight)
		})
	}
}

func rawParams(raw string) map[string][]string {
	out := map[string][]string{}
	for _, part := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		out[k] = append(out[k], v)
	}
	return out
}
