package locals3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const (
	testBucket = "demo"
	testRegion = "us-east-1"
	vhostBase  = "http://s3.amazonaws.com" // presign against this, send to the test server
)

// fixture is one server under test, on 127.0.0.1, with a clock that tests
// can move relative to real time (the SDK signs with real time).
type fixture struct {
	srv    *Server
	ts     *httptest.Server
	ak, sk string
	offset atomic.Int64 // server clock = time.Now() + offset
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	ak, sk, err := GenerateCredentials()
	if err != nil {
		t.Fatalf("GenerateCredentials: %v", err)
	}
	f := &fixture{ak: ak, sk: sk}
	o := Options{
		AccessKeyID:     ak,
		SecretAccessKey: sk,
		Buckets:         []string{testBucket},
		Now:             func() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) },
	}
	if mutate != nil {
		mutate(&o)
	}
	f.srv, err = New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.ts = httptest.NewServer(f.srv)
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fixture) setClockOffset(d time.Duration) { f.offset.Store(int64(d)) }

func (f *fixture) seed(t *testing.T, key string, body []byte) {
	t.Helper()
	if err := f.srv.PutObject(context.Background(), testBucket, key, body, "text/plain"); err != nil {
		t.Fatalf("seed %q: %v", key, err)
	}
}

// sdkClient is a header-auth client. Retries are off so that a rejected
// request is reported as it was answered.
func sdkClient(endpoint, ak, sk, region string, pathStyle bool, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint:     aws.String(endpoint),
		UsePathStyle:     pathStyle,
		RetryMaxAttempts: 1,
	}, opts...)
}

func (f *fixture) client(opts ...func(*s3.Options)) *s3.Client {
	return sdkClient(f.ts.URL, f.ak, f.sk, testRegion, true, opts...)
}

// presigner signs URLs either path-style against the test server, or
// virtual-hosted against s3.amazonaws.com (send them with sendURL, which
// keeps the signed Host).
func presigner(endpoint, ak, sk, region string, pathStyle bool) *s3.PresignClient {
	return s3.NewPresignClient(sdkClient(endpoint, ak, sk, region, pathStyle))
}

func (f *fixture) pathPresigner() *s3.PresignClient {
	return presigner(f.ts.URL, f.ak, f.sk, testRegion, true)
}

func (f *fixture) vhostPresigner() *s3.PresignClient {
	return presigner(vhostBase, f.ak, f.sk, testRegion, false)
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// code extracts <Code> from an S3 XML error body.
func (r result) code() string {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(r.body, &e)
	return e.Code
}

func (r result) message() string {
	var e struct {
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(r.body, &e)
	return e.Message
}

// sendURL sends a request for a (possibly signed) URL to the test server,
// keeping the URL's host as the Host header, the way a client resolving
// demo.s3.amazonaws.com to this server would.
func (f *fixture) sendURL(t *testing.T, method, rawURL string, hdr http.Header, body []byte) result {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %q: %v", rawURL, err)
	}
	host := u.Host
	u.Scheme = "http"
	u.Host = f.ts.Listener.Addr().String()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Host = host
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return do(t, f.ts.Client(), req)
}

func do(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

// signHeader signs req with header auth using the SDK's v4 signer and the
// given payload hash, so tests can build requests the SDK client would not.
func signHeader(t *testing.T, req *http.Request, ak, sk, payloadHash string, at time.Time) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, payloadHash, "s3", testRegion, at)
	if err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
