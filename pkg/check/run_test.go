package check

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/locals3"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/stepreport"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	testBucket = "media"
	testRegion = "us-east-1"
)

// localStack is the twin, in process, in front of the embedded S3: enough
// of a deployment to see each step fail for its own reason.
type localStack struct {
	proxyURL, s3URL string
	creds           aws.CredentialsProvider
	s3              *s3.Client
}

// startLocal starts the embedded S3 and the twin with env laid over the
// defaults; an "S3PROXY_ENDPOINT_URL" of "-" is a closed port.
func startLocal(t *testing.T, env map[string]string) *localStack {
	t.Helper()
	key, secret, err := locals3.GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := locals3.New(locals3.Options{AccessKeyID: key, SecretAccessKey: secret, Region: testRegion, Buckets: []string{testBucket}})
	if err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(srv)
	t.Cleanup(s3srv.Close)
	vars := map[string]string{
		"S3PROXY_BUCKET": testBucket, "S3PROXY_REGION": testRegion,
		"S3PROXY_UPSTREAM_URL": s3srv.URL, "S3PROXY_ENDPOINT_URL": s3srv.URL,
	}
	for k, v := range env {
		vars[k] = v
	}
	// The proxy's public URL is its own address, known once it listens.
	proxySrv := httptest.NewUnstartedServer(nil)
	vars["S3PROXY_PUBLIC_URL"] = "http://" + proxySrv.Listener.Addr().String()
	if vars["S3PROXY_ENDPOINT_URL"] == "-" {
		vars["S3PROXY_ENDPOINT_URL"] = "http://" + closedAddr(t)
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider(key, secret, "")
	logger := lambdalog.New(io.Discard, slog.LevelError)
	h := proxy.Wire(cfg, aws.Config{Region: testRegion, Credentials: creds}, logger, lambdalog.RequestID)
	alb := twin.New(twin.Options{Config: cfg, Passthrough: true, Invoker: twin.InProcess{Function: albhttp.NewFunction(h)}, Logger: logger})
	proxySrv.Config.Handler = alb
	proxySrv.Start()
	t.Cleanup(proxySrv.Close)
	return &localStack{
		proxyURL: proxySrv.URL, s3URL: s3srv.URL, creds: creds,
		s3: s3.New(s3.Options{
			Region: testRegion, Credentials: creds, BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		}),
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (st *localStack) options() Options {
	return Options{
		URL: st.proxyURL, Bucket: testBucket, Region: testRegion, Credentials: st.creds, S3: st.s3,
		HTTPClient: &http.Client{Transport: &http.Transport{Proxy: nil}}, StepTimeout: 20 * time.Second,
	}
}

func run(t *testing.T, o Options) Report {
	t.Helper()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = WriteText(&text, rep)
	t.Logf("\n%s", text.String())
	return rep
}

func wantStep(t *testing.T, rep Report, name string, status Status, hint ...string) {
	t.Helper()
	s, ok := rep.Step(name)
	if !ok {
		t.Fatalf("no step %s", name)
	}
	if s.Status != status {
		t.Errorf("%s: %s (%s; %s), want %s", name, s.Status, s.Detail, s.Hint, status)
	}
	for _, h := range hint {
		if !strings.Contains(s.Hint, h) {
			t.Errorf("%s: hint %q lacks %q", name, s.Hint, h)
		}
	}
}

// Redirects through the proxy host (/_direct) pass, with the key prefix the
// proxy is limited to; every step passes and clean-up leaves nothing.
func TestRunRedirectViaProxy(t *testing.T) {
	st := startLocal(t, map[string]string{"S3PROXY_REDIRECT_VIA": "proxy", "S3PROXY_KEY_PREFIXES": "shotgun/"})
	o := st.options()
	o.Prefix = "shotgun/"
	var progress strings.Builder
	o.Progress = &progress
	var seen []string
	o.OnStep = func(s Step) { seen = append(seen, s.Name) }
	rep := run(t, o)
	if !rep.OK {
		t.Fatalf("report not OK: %+v", rep.Failed())
	}
	s, _ := rep.Step(StepGetLarge)
	if host := strings.TrimPrefix(st.proxyURL, "http://"); !strings.Contains(s.Detail, "307 to "+host) {
		t.Errorf("get-large: %q, want the 307 to the proxy host %s", s.Detail, host)
	}
	if len(seen) != 19 || seen[0] != StepPing || seen[12] != StepCORSRedirect || seen[15] != StepUnlisted || seen[16] != StepCleanup || seen[17] != StepEndpointZones || seen[18] != StepBucketPolicy {
		t.Errorf("OnStep saw %v", seen)
	}
	if strings.Count(progress.String(), "answered 200") != DefaultParts {
		t.Errorf("progress:\n%s", progress.String())
	}
	if !strings.HasPrefix(rep.Folder, "shotgun/s3proxy-check/") {
		t.Errorf("folder %q", rep.Folder)
	}
	list, err := st.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Contents) != 0 {
		t.Errorf("after clean-up the bucket holds %d objects (%v)", len(list.Contents), err)
	}
}

// The endpoint the function redirects to cannot be reached from here.
func TestRunEndpointUnreachable(t *testing.T) {
	st := startLocal(t, map[string]string{"S3PROXY_ENDPOINT_URL": "-"})
	rep := run(t, st.options())
	wantStep(t, rep, StepGetLarge, Fail, "does not resolve or connect from here: are you on the studio network, or should RedirectVia be proxy?")
	// Small ranges are answered inline and do not need the endpoint.
	wantStep(t, rep, StepRange, Pass)
	if rep.OK || len(rep.Failed()) != 1 {
		t.Errorf("want exactly one failure, got %+v", rep.Failed())
	}
}

// An inline limit below the small object's size.
func TestRunSmallRedirected(t *testing.T) {
	st := startLocal(t, map[string]string{"S3PROXY_INLINE_MAX_BYTES": "1024"})
	rep := run(t, st.options())
	wantStep(t, rep, StepGetSmall, Fail, "InlineMaxBytes")
}

// The proxy serves only shotgun/ and the operator forgot --prefix: the
// load balancer's passthrough matches only keys under the prefixes, so the
// upload is refused there, and the hint names the prefixes.
func TestRunKeyOutsidePrefixes(t *testing.T) {
	st := startLocal(t, map[string]string{"S3PROXY_KEY_PREFIXES": "shotgun/"})
	rep := run(t, st.options())
	wantStep(t, rep, StepPutSmall, Fail, "S3PROXY_KEY_PREFIXES", "--prefix")
	wantStep(t, rep, StepGetSmall, Skip)
}

// A proxy that redirects whatever it is sent, as one that minted URLs
// without letting S3 judge the client's signature would.
func TestRunRedirectingAnything(t *testing.T) {
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://bucket.vpce-0abc.s3.us-east-1.vpce.amazonaws.com/media/k?X-Amz-SignedHeaders=host&X-Amz-Signature=00", http.StatusTemporaryRedirect)
	}))
	defer hostile.Close()
	o := Options{URL: hostile.URL, Bucket: testBucket, Region: testRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), S3: (*s3.Client)(nil)}
	o.defaults()
	r := newRunner(o)
	for name, step := range map[string]func(context.Context) stepreport.Result{StepTampered: r.tampered, StepExpired: r.expiredURL} {
		res := step(context.Background())
		if res.Status != Fail || !strings.Contains(res.Hint, "do not switch over") || !strings.Contains(res.Detail, "Location to bucket.vpce-0abc") {
			t.Errorf("%s: %+v", name, res)
		}
		if strings.Contains(res.Detail, "X-Amz-Signature") {
			t.Errorf("%s: the detail carries the Location's query: %q", name, res.Detail)
		}
	}
}

// ping failing skips everything else, including the S3 calls.
func TestRunPingFails(t *testing.T) {
	notProxy := httptest.NewServer(http.NotFoundHandler())
	defer notProxy.Close()
	o := Options{URL: notProxy.URL, Bucket: testBucket, Region: testRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), S3: (*s3.Client)(nil)}
	rep := run(t, o)
	wantStep(t, rep, StepPing, Fail, "S3 Proxy Host Address")
	if len(rep.Steps) != 19 || rep.OK {
		t.Fatalf("%+v", rep)
	}
	for _, s := range rep.Steps[1:] {
		if s.Status != Skip {
			t.Errorf("%s: %s after a failed ping", s.Name, s.Status)
		}
	}
}

// A build from before the mint invariant: its 307s sign host only, so the
// minted URL serves the whole object whatever Range the client's URL
// signed. signed-range must catch it; every other step still passes.
func TestRunHostOnlyMint(t *testing.T) {
	st := startLocal(t, nil)
	target, _ := url.Parse(st.proxyURL)
	presign := s3.NewPresignClient(st.s3)
	front := httputil.NewSingleHostReverseProxy(target)
	front.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode != http.StatusTemporaryRedirect {
			return nil
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		key := strings.TrimPrefix(loc.Path, "/"+testBucket+"/")
		wide, err := presign.PresignGetObject(resp.Request.Context(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
		if err != nil {
			return err
		}
		resp.Header.Set("Location", wide.URL)
		return nil
	}
	srv := httptest.NewServer(front)
	defer srv.Close()
	o := st.options()
	o.URL = srv.URL
	rep := run(t, o)
	wantStep(t, rep, StepGetLarge, Pass)
	wantStep(t, rep, StepSignedRange, Fail, "mint invariant")
	if len(rep.Failed()) != 1 {
		t.Errorf("want exactly one failure, got %+v", rep.Failed())
	}
}

// A read-only stack (Media Replication's replica) checked as one: the
// uploads through the proxy are refused, the test objects go straight to
// S3, every read passes through the proxy, and clean-up leaves nothing.
// Checked as a writable stack it fails at the upload, naming --read-only;
// and a writable stack checked with --read-only fails for taking uploads.
func TestRunReadOnly(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool // the stack
		flag     bool // --read-only
		ok       bool
		step     string
		status   Status
		hint     string
	}{
		{"a read-only stack with --read-only", true, true, true, StepParts, Pass, ""},
		{"a read-only stack without it", true, false, false, StepPutSmall, Fail, "--read-only"},
		{"a writable stack with --read-only", false, true, false, StepPutSmall, Fail, "this one took it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"S3PROXY_KEY_PREFIXES": "shotgun/"}
			if tc.readOnly {
				env["S3PROXY_READ_ONLY"] = "true"
			}
			st := startLocal(t, env)
			o := st.options()
			o.Prefix, o.ReadOnly = "shotgun/", tc.flag
			rep := run(t, o)
			if rep.OK != tc.ok {
				t.Fatalf("report OK %v, want %v: %+v", rep.OK, tc.ok, rep.Failed())
			}
			wantStep(t, rep, tc.step, tc.status, tc.hint)
			if tc.ok {
				for _, name := range []string{StepPutSmall, StepGetSmall, StepGetLarge, StepRange, StepHead, StepTampered, StepExpired, StepCleanup} {
					wantStep(t, rep, name, Pass)
				}
			}
			list, err := st.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
			if err != nil || len(list.Contents) != 0 {
				t.Errorf("after clean-up the bucket holds %d objects (%v)", len(list.Contents), err)
			}
			uploads, err := st.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
			if err == nil && len(uploads.Uploads) != 0 {
				t.Errorf("after clean-up %d multipart uploads are left", len(uploads.Uploads))
			}
		})
	}
}
