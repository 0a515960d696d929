package twin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
)

// sampleDoer is the handler's upstream: do answers, calls records.
type sampleDoer struct {
	do func(*http.Request) (*http.Response, error)

	mu    sync.Mutex
	calls []*http.Request
}

func (d *sampleDoer) Do(req *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.calls = append(d.calls, req)
	d.mu.Unlock()
	return d.do(req)
}

// doerVia answers a Doer request with an http.Handler, presenting it to
// the handler as a server would receive it: RequestURI is exactly what
// net/http's transport would put on the request line.
func doerVia(h http.Handler) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		var body []byte
		if req.Body != nil {
			var err error
			if body, err = io.ReadAll(req.Body); err != nil {
				return nil, err
			}
			_ = req.Body.Close()
		}
		in := req.Clone(req.Context())
		in.RequestURI = req.URL.RequestURI()
		in.Host = req.Host
		in.Body = io.NopCloser(bytes.NewReader(body))
		in.ContentLength = req.ContentLength
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, in)
		resp := rec.Result()
		resp.Request = req
		return resp, nil
	}
}

// sampleSigner mints path-style URLs for the endpoint the way the SDK lays
// them out, carrying the TTL and overrides it was asked for.
type sampleSigner struct{}

func (sampleSigner) Sign(_ context.Context, req proxy.SignRequest, ttl time.Duration, _ time.Time) (string, http.Header, error) {
	segs := strings.Split(req.Key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	q := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDFUNCTIONROLE%2F20261127%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20261127T000000Z" + fmt.Sprintf("&X-Amz-Expires=%d", int(ttl/time.Second)) +
		"&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("f", 64)
	if v := req.Query.Get("response-content-type"); v != "" {
		q += "&response-content-type=" + url.QueryEscape(v)
	}
	return sampleEndpoint + "/" + req.Bucket + "/" + strings.Join(segs, "/") + "?" + q, http.Header{"Host": {"endpoint"}}, nil
}

// sampleAdapters are the two ways into the proxy: albhttp.Handler (the
// encoding/json path) and albhttp.Function, which the deployed bootstrap
// runs and which writes its JSON by hand.
var sampleAdapters = []struct {
	name   string
	invoke func(h http.Handler, ctx context.Context, event []byte) ([]byte, error)
}{
	{"Handler", func(h http.Handler, ctx context.Context, event []byte) ([]byte, error) {
		resp, err := albhttp.Handler(h)(ctx, json.RawMessage(event))
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}},
	{"Function", func(h http.Handler, ctx context.Context, event []byte) ([]byte, error) {
		return albhttp.NewFunction(h).Invoke(ctx, event)
	}},
}

// TestEventSamples drives every events/*.json through the ALB adapter and
// the proxy core, with a fake S3 behind a fake Doer.
func TestEventSamples(t *testing.T) {
	files := sampleFiles(t)
	checkNoStaleSamples(t, files)
	cfg, err := config.FromEnv(func(k string) string { return sampleEnv("http://s3-upstream.test")[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		for _, adapter := range sampleAdapters {
			t.Run(strings.TrimSuffix(name, ".json")+"/"+adapter.name, func(t *testing.T) {
				exp := sampleExpectationFor(t, file)
				event, ev := loadSample(t, file, exp.fresh, time.Now().Add(-time.Minute))

				s3fake := newSampleS3()
				doer := &sampleDoer{do: doerVia(s3fake)}
				var logs bytes.Buffer
				h := proxy.New(cfg, proxy.Deps{
					Upstream:  doer,
					Signer:    sampleSigner{},
					Logger:    lambdalog.New(&logs, cfg.LogLevel),
					RequestID: lambdalog.RequestID,
				})
				ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "0f1e2d3c-sample-" + name})
				payload, err := adapter.invoke(h, ctx, event)
				if err != nil {
					t.Fatalf("the adapter returned an error (the ALB would answer 502): %v", err)
				}

				checkSample(t, exp, ev, payload, s3fake.recorded())
				for _, req := range doer.calls {
					if req.Host != sampleSignedHost {
						t.Errorf("Doer request Host = %q, want %q", req.Host, sampleSignedHost)
					}
					if req.URL.Host != "s3-upstream.test" {
						t.Errorf("Doer request went to %q, want S3PROXY_UPSTREAM_URL's host", req.URL.Host)
					}
				}

				lines := checkSampleLogs(t, logs.Bytes(), sampleSecrets(ev))
				if len(lines) != 1 {
					t.Fatalf("%d request log lines, want 1:\n%s", len(lines), logs.Bytes())
				}
				if lines[0].Decision != exp.decision {
					t.Errorf("logged decision = %q, want %q", lines[0].Decision, exp.decision)
				}
				if lines[0].Method != ev.HTTPMethod {
					t.Errorf("logged method = %q, want %q", lines[0].Method, ev.HTTPMethod)
				}
			})
		}
	}
}

// TestEventSamplesAreALBShaped keeps the samples faithful to what an ALB in
// multi-value mode sends, so `sam local invoke -e` exercises the real shape.
func TestEventSamplesAreALBShaped(t *testing.T) {
	for _, file := range sampleFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			data, ev := loadSample(t, file, false, time.Time{})
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"headers", "queryStringParameters"} {
				if _, ok := raw[k]; ok {
					t.Errorf("has %q: in multi-value mode the ALB sends only the multiValue* maps", k)
				}
			}
			for _, k := range []string{"multiValueHeaders", "multiValueQueryStringParameters", "requestContext", "httpMethod", "path", "body", "isBase64Encoded"} {
				if v, ok := raw[k]; !ok || string(v) == "null" {
					t.Errorf("field %q is missing or null", k)
				}
			}
			if !strings.HasPrefix(ev.RequestContext.ELB.TargetGroupArn, "arn:aws:elasticloadbalancing:us-east-1:") {
				t.Errorf("targetGroupArn = %q", ev.RequestContext.ELB.TargetGroupArn)
			}
			for k := range ev.MultiValueHeaders {
				if k != strings.ToLower(k) {
					t.Errorf("header name %q is not lower-case as the ALB sends it", k)
				}
			}
			for _, k := range []string{"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"} {
				if len(ev.MultiValueHeaders[k]) != 1 {
					t.Errorf("header %q: %q, want one value", k, ev.MultiValueHeaders[k])
				}
			}
			if !strings.HasPrefix(ev.Path, "/") {
				t.Errorf("path %q", ev.Path)
			}
			for k, vs := range ev.MultiValueQueryStringParameters {
				for _, v := range vs {
					if strings.ContainsAny(k+v, " /;\"") {
						t.Errorf("query %s=%s is not percent-encoded as the ALB delivers it", k, v)
					}
				}
			}
		})
	}
}
