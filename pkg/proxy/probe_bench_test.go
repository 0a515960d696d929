package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/locals3"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
)

// countingUpstream counts the requests sent to S3 and the body bytes S3
// answered with (its Content-Length: what it puts on the wire, whether or
// not the function reads it).
type countingUpstream struct {
	inner     Doer
	requests  atomic.Int64
	bodyBytes atomic.Int64
}

func (c *countingUpstream) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.inner.Do(r)
	c.requests.Add(1)
	if err == nil && resp.ContentLength > 0 {
		c.bodyBytes.Add(resp.ContentLength)
	}
	return resp, err
}

// BenchmarkProbe measures, for each size class, what a GET costs S3 with
// the 64 KiB probe against the earlier probe of the whole inline limit
// (700 KiB), op by op in one loop against an in-process S3 that checks
// signatures. Per GET it reports, for each side: the upstream requests, the
// body bytes S3 sent, the bytes discarded (sent by S3 and not answered
// inline), and the p50 latency, with the p50 ratio new ÷ earlier.
func BenchmarkProbe(b *testing.B) {
	ctx := context.Background()
	key, secret, _ := locals3.GenerateCredentials()
	s3srv, err := locals3.New(locals3.Options{AccessKeyID: key, SecretAccessKey: secret, Buckets: []string{"demo"}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s3srv)
	defer ts.Close()
	sizes := []struct {
		name   string
		size   int
		status int
	}{
		{"under-64KiB/8KiB", 8 << 10, 200},
		{"64-700KiB/100KiB", 100 << 10, 200},
		{"64-700KiB/700KiB", 700 << 10, 200},
		{"over-limit/20MB", 20_000_000, 307},
	}
	for _, s := range sizes {
		if err := s3srv.PutObject(ctx, "demo", "shotgun/"+s.name, make([]byte, s.size), "image/jpeg"); err != nil {
			b.Fatal(err)
		}
	}
	m := map[string]string{"S3PROXY_BUCKET": "demo", "S3PROXY_REGION": "us-east-1", "S3PROXY_UPSTREAM_URL": ts.URL, "S3PROXY_ENDPOINT_URL": ts.URL}
	cfg, err := config.FromEnv(func(k string) string { return m[k] })
	if err != nil {
		b.Fatal(err)
	}
	creds := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, ""))
	build := func(probeMax int64) (*Handler, *countingUpstream) {
		up := &countingUpstream{inner: NewUpstreamClient()}
		h := New(cfg, Deps{Upstream: up, Signer: NewSigner(aws.Config{Region: "us-east-1", Credentials: creds}, cfg), Credentials: creds})
		h.probeMax = probeMax
		return h, up
	}
	signer := sgurl.NewSigner(creds, "us-east-1", "demo", cfg.SignedHost)

	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			signed, err := signer.Get(ctx, "shotgun/"+s.name, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			u, _ := url.Parse(signed)
			newH, newUp := build(probeBytes)
			oldH, oldUp := build(cfg.InlineMax)
			var newInline, oldInline int64
			get := func(h *Handler) (int, int64) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RequestURI = u.RequestURI()
				r.URL = &url.URL{Path: u.Path, RawPath: u.EscapedPath(), RawQuery: u.RawQuery}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				n, _ := io.Copy(io.Discard, w.Result().Body)
				return w.Code, n
			}
			var newD, oldD []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				code, n := get(newH)
				t1 := time.Now()
				if code != s.status {
					b.Fatalf("64 KiB probe: status %d, want %d", code, s.status)
				}
				newInline += n
				code, n = get(oldH)
				t2 := time.Now()
				if code != s.status {
					b.Fatalf("earlier probe: status %d, want %d", code, s.status)
				}
				oldInline += n
				newD, oldD = append(newD, t1.Sub(t0)), append(oldD, t2.Sub(t1))
			}
			ops := float64(len(newD))
			b.ReportMetric(float64(newUp.requests.Load())/ops, "s3-req/op")
			b.ReportMetric(float64(oldUp.requests.Load())/ops, "earlier-s3-req/op")
			b.ReportMetric(float64(newUp.bodyBytes.Load()-newInline)/ops, "discarded-B/op")
			b.ReportMetric(float64(oldUp.bodyBytes.Load()-oldInline)/ops, "earlier-discarded-B/op")
			ReportP50s(b, "probe", newD, "earlier", oldD)
		})
	}
}
