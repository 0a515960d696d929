package proxy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/config"
)

// fakeUpstream is S3 as far as the handler can tell: objects served with
// http.ServeContent (so Range and conditional requests behave as on S3), or
// whatever do says.
type fakeUpstream struct {
	mu      sync.Mutex
	objects map[string][]byte // by raw path
	do      func(*http.Request) (*http.Response, error)
	reqs    []*http.Request
	bodies  [][]byte
}

func (f *fakeUpstream) Do(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(r.Body)
		body = b.Bytes()
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	if f.do != nil {
		return f.do(r)
	}
	rec := httptest.NewRecorder()
	obj, ok := f.objects[r.URL.EscapedPath()]
	switch {
	case r.Method == http.MethodPut:
		rec.Header().Set("ETag", `"put-etag"`)
		rec.WriteHeader(http.StatusOK)
	case !ok:
		rec.Header().Set("Content-Type", "application/xml")
		rec.WriteHeader(http.StatusNotFound)
		rec.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>`)
	default:
		rec.Header().Set("ETag", `"etag-1"`)
		rec.Header().Set("Content-Type", "video/quicktime")
		rec.Header().Set("x-amz-version-id", "v1")
		rec.Header().Set("Connection", "keep-alive")
		http.ServeContent(rec, r, "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(obj))
	}
	resp := rec.Result()
	if r.Method == http.MethodHead {
		resp.ContentLength = int64(len(obj))
		resp.Header.Set("Content-Length", itoa(len(obj)))
	}
	return resp, nil
}

func (f *fakeUpstream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeUpstream) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil
	}
	return f.reqs[len(f.reqs)-1]
}

// fakeSigner is the production signer, recording what it was asked to
// mint. extraSigned, if set, is added to the URL's X-Amz-SignedHeaders
// afterwards, as an SDK regression would.
type fakeSigner struct {
	mu          sync.Mutex
	req         SignRequest
	ttl         time.Duration
	extraSigned string
	real        Signer
}

func newFakeSigner(cfg *config.Config) *fakeSigner {
	awsCfg := aws.Config{Region: cfg.Region, Credentials: credentials.NewStaticCredentialsProvider("ASIAFUNCTION", "fnsecret", "fntoken")}
	return &fakeSigner{real: NewSigner(awsCfg, cfg)}
}

func (p *fakeSigner) Sign(ctx context.Context, req SignRequest, ttl time.Duration, at time.Time) (string, http.Header, error) {
	p.mu.Lock()
	p.req, p.ttl = req, ttl
	extra := p.extraSigned
	p.mu.Unlock()
	minted, signed, err := p.real.Sign(ctx, req, ttl, at)
	if err != nil || extra == "" {
		return minted, signed, err
	}
	u, _ := url.Parse(minted)
	q := u.Query()
	q.Set("X-Amz-SignedHeaders", q.Get("X-Amz-SignedHeaders")+";"+extra)
	u.RawQuery = q.Encode()
	return u.String(), signed, nil
}

func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func itoa(n int) string { return strconv.Itoa(n) }
