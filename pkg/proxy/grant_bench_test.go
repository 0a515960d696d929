package proxy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// benchMintCases are a ShotGrid URL (host only, a version and an override)
// and one that signs a Range and the three SSE-C headers.
var benchMintCases = []struct {
	name   string
	query  string
	signed []string
	hdr    map[string]string
}{
	{"shotgrid", "versionId=v1&response-content-disposition=attachment%3B%20filename%3D%22movie.mov%22", nil, nil},
	{"signed-range-and-sse-c", "versionId=v1",
		[]string{"range", "x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key", "x-amz-server-side-encryption-customer-key-md5"},
		map[string]string{"Range": "bytes=0-999999", "X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
			"X-Amz-Server-Side-Encryption-Customer-Key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "X-Amz-Server-Side-Encryption-Customer-Key-Md5": "zZ5FnqcIqUjVwvWmyog4zw=="}},
}

// BenchmarkMintInvariant prices the invariant against the signature it
// guards: op by op in one loop, the bare signer alone (the baseline), then
// the whole mint path (grantFor, the signature, admits), for a ShotGrid URL
// and for one that signs a Range and the SSE-C headers. It reports both p50s
// and their ratio.
func BenchmarkMintInvariant(b *testing.B) {
	for _, tc := range benchMintCases {
		b.Run(tc.name, func(b *testing.B) {
			p := realSigner(b, "token")
			endpoint := testConfig(b, nil).EndpointURL
			sr, r := clientRequest(b, "shotgun/versions/1234/movie.mov", tc.query, tc.signed, tc.hdr)
			g0, err := grantFor(sr, r.Header, r)
			if err != nil {
				b.Fatal(err)
			}
			in := g0.request("media")
			ctx := context.Background()
			var bare, whole []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, _, err := p.Sign(ctx, in, 15*time.Minute, t0); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				g, err := grantFor(sr, r.Header, r)
				if err != nil {
					b.Fatal(err)
				}
				u, signed, err := p.Sign(ctx, g.request("media"), 15*time.Minute, t1)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.admits(u, signed, endpoint, "media"); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				bare, whole = append(bare, t1.Sub(t0)), append(whole, t2.Sub(t1))
			}
			ReportP50s(b, "mint", whole, "presign", bare)
		})
	}
}

// ReportP50s reports the p50 of each side of an interleaved benchmark and
// their ratio, measured against baseline; the external benchmarks use it
// too.
func ReportP50s(b *testing.B, name string, measured []time.Duration, baseline string, base []time.Duration) {
	p50 := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	m, bl := p50(measured), p50(base)
	b.ReportMetric(float64(m.Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(bl.Microseconds()), baseline+"-p50-µs")
	b.ReportMetric(float64(m)/float64(bl), "p50-ratio")
}

// BenchmarkMint prices the whole mint path (grantFor, the signature,
// admits) with the bare v4 signer against the same path with the S3 presign
// client it replaced, measured in the same run. Each sub-benchmark is one
// side alone, so its ns/op, B/op and allocs/op are per mint, and it reports
// its p50 (less swayed by other load on the machine than the mean). Both
// sides run in one process, one after the other. The presign client's URL carries
// x-id=GetObject, which admits refuses, so its side is checked without it.
func BenchmarkMint(b *testing.B) {
	cfg := testConfig(b, nil)
	awsCfg := aws.Config{Region: "us-east-1", Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIAFUNCTION", "secret", "token"))}
	signers := []struct {
		name string
		s    Signer
	}{{"bare-v4", NewSigner(awsCfg, cfg)}, {"presign-client", newPresignBaseline(awsCfg, cfg)}}
	for _, tc := range benchMintCases {
		sr, r := clientRequest(b, "shotgun/versions/1234/movie.mov", tc.query, tc.signed, tc.hdr)
		for _, sg := range signers {
			b.Run(tc.name+"/"+sg.name, func(b *testing.B) {
				ctx := context.Background()
				var took []time.Duration
				b.ReportAllocs()
				for b.Loop() {
					t0 := time.Now()
					g, err := grantFor(sr, r.Header, r)
					if err != nil {
						b.Fatal(err)
					}
					u, signed, err := sg.s.Sign(ctx, g.request("media"), 15*time.Minute, t0)
					if err != nil {
						b.Fatal(err)
					}
					if sg.name == "presign-client" {
						u = strings.Replace(u, "&x-id=GetObject", "", 1)
					}
					if err := g.admits(u, signed, cfg.EndpointURL, "media"); err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(t0))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1000, "p50-µs")
			})
		}
	}
}
