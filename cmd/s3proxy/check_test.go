package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	s3check "github.com/mediaisolation/s3proxy/pkg/check"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// checkRun is one run of the command.
type checkRun struct {
	code           int
	stdout, stderr string
}

func runCheck(t *testing.T, args []string, env map[string]string) checkRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := check(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
	r := checkRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("s3proxy check %s → exit %d\n%s", strings.Join(args, " "), code, r.stdout)
	for _, secret := range []string{"X-Amz-Signature", "X-Amz-Credential", env["AWS_SECRET_ACCESS_KEY"]} {
		if secret != "" && (strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret)) {
			t.Errorf("the output carries %.16s…:\n%s\n%s", secret, r.stdout, r.stderr)
		}
	}
	return r
}

// stepLine returns the text line of step name.
func (r checkRun) stepLine(name string) string {
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == name {
			return l
		}
	}
	return ""
}

// wantAllPass checks that every step line but those in skipped says PASS.
func (r checkRun) wantAllPass(t *testing.T, skipped ...string) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{s3check.StepPing, s3check.StepPutSmall, s3check.StepCreate, s3check.StepParts, s3check.StepComplete,
		s3check.StepGetSmall, s3check.StepGetLarge, s3check.StepRange, s3check.StepSignedRange, s3check.StepHead, s3check.StepCORSOrigin, s3check.StepCORSForeign,
		s3check.StepCORSRedirect, s3check.StepTampered, s3check.StepExpired, s3check.StepCleanup} {
		want := "PASS"
		for _, s := range skipped {
			if s == name {
				want = "SKIP"
			}
		}
		if l := r.stepLine(name); !strings.HasPrefix(l, want+"  ") {
			t.Errorf("step %s: line %q, want %s", name, l, want)
		}
	}
}

// wantFail checks the run failed at step with a hint holding every one of
// hints.
func (r checkRun) wantFail(t *testing.T, step string, hints ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	l := r.stepLine(step)
	if !strings.HasPrefix(l, "FAIL  "+step+"  ") {
		t.Fatalf("step %s: line %q, want FAIL\nstdout:\n%s", step, l, r.stdout)
	}
	for _, h := range hints {
		if !strings.Contains(l, h) {
			t.Errorf("step %s: line %q lacks %q", step, l, h)
		}
	}
}

// The embedded default of `s3proxy serve` (make run) passes every step;
// there is no origin to check there (its S3 allows every origin).
func TestCheckEmbeddedDefault(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	var serveErr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"--addr", "127.0.0.1:0", "--embedded-s3-addr", "127.0.0.1:0"}, func(string) string { return "" }, w, &serveErr)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})

	listening := regexp.MustCompile(`listening on (http://\S+)`)
	embedded := regexp.MustCompile(`embedded S3 on (http://\S+) \(bucket "([^"]+)", region (\S+), signed host`)
	var proxyURL, s3URL, bucket, region string
	env := map[string]string{}
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(10*time.Second, func() { w.CloseWithError(io.ErrUnexpectedEOF) })
	for lines.Scan() {
		line := lines.Text()
		if m := listening.FindStringSubmatch(line); m != nil {
			proxyURL = m[1]
		}
		if m := embedded.FindStringSubmatch(line); m != nil {
			s3URL, bucket, region = m[1], m[2], m[3]
		}
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k+"="); ok {
				env[k] = v
			}
		}
		if strings.HasPrefix(line, "Stop with") {
			break
		}
	}
	deadline.Stop()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if proxyURL == "" || s3URL == "" || env["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Fatalf("serve did not print its URLs and credentials; stderr:\n%s", serveErr.String())
	}

	r := runCheck(t, []string{"--url", proxyURL, "--bucket", bucket, "--region", region, "--s3-endpoint", s3URL}, env)
	r.wantAllPass(t, s3check.StepCORSOrigin, s3check.StepCORSForeign, s3check.StepCORSRedirect)
	if !strings.Contains(r.stderr, "part 3/3") {
		t.Errorf("no progress on stderr:\n%s", r.stderr)
	}

	// With an origin, preflights go to the embedded S3's CORS rule, which
	// allows every origin: the site's preflight passes, and the check says
	// that a foreign one passes too (docs/deploy.md §7.1 tells users of make run
	// to leave --origin out).
	r = runCheck(t, []string{"--url", proxyURL, "--bucket", bucket, "--region", region, "--s3-endpoint", s3URL, "--origin", "https://studio.shotgrid.autodesk.com"}, env)
	r.wantFail(t, s3check.StepCORSForeign, "allowed")
	if l := r.stepLine(s3check.StepCORSOrigin); !strings.HasPrefix(l, "PASS") {
		t.Errorf("cors-origin: %q, want PASS from the bucket's CORS rule", l)
	}
}

const (
	chkBucket = "shotgrid-media"
	chkRegion = "us-east-1"
	chkOrigin = "https://studio.shotgrid.autodesk.com"
)

// startCheckTwin runs `s3proxy serve`'s emulated ALB in-process, with the
// function wired as in Lambda, in front of gw, and returns its URL.
func startCheckTwin(t *testing.T, gw *peertest.S3, passthrough bool, env map[string]string) string {
	t.Helper()
	base := map[string]string{
		"S3PROXY_BUCKET":       chkBucket,
		"S3PROXY_REGION":       chkRegion,
		"S3PROXY_UPSTREAM_URL": gw.URL,
		"S3PROXY_ENDPOINT_URL": gw.URL,
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := lambdalog.New(io.Discard, slog.LevelError)
	h := proxy.Wire(cfg, gw.AWSConfig(), logger, lambdalog.RequestID)
	alb := twin.New(twin.Options{
		Config: cfg, Passthrough: passthrough, Invoker: twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithLogger(logger))},
		FunctionTimeout: 30 * time.Second, Logger: logger,
	})
	srv := httptest.NewServer(alb)
	t.Cleanup(srv.Close)
	return srv.URL
}

// The twin in front of versitygw, a real SigV4-checking S3: every step
// passes in the deployed shape (passthrough on, origins answered by the
// proxy), and each broken configuration fails the step it should, with the
// hint an operator needs.
func TestCheckTwinVersityGW(t *testing.T) {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{chkBucket}, Region: chkRegion})
	creds := map[string]string{"AWS_ACCESS_KEY_ID": gw.AccessKeyID, "AWS_SECRET_ACCESS_KEY": gw.SecretAccessKey}
	// The bucket's CORS: ShotGrid's site-only rule, then with docs/cors.md's
	// GET/HEAD rule for * (what a browser's Origin: null after the 307 to
	// the endpoint needs).
	siteRule := s3types.CORSRule{AllowedOrigins: []string{chkOrigin}, AllowedMethods: []string{"GET", "PUT", "HEAD"}, AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}}
	anyRule := s3types.CORSRule{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "HEAD"}, AllowedHeaders: []string{"*"}}
	setCORS := func(t *testing.T, rules ...s3types.CORSRule) {
		t.Helper()
		if _, err := gw.Client.PutBucketCors(context.Background(), &s3.PutBucketCorsInput{Bucket: aws.String(chkBucket),
			CORSConfiguration: &s3types.CORSConfiguration{CORSRules: rules}}); err != nil {
			t.Fatal(err)
		}
	}
	setCORS(t, siteRule, anyRule)
	args := func(proxyURL string, more ...string) []string {
		return append([]string{"--url", proxyURL, "--bucket", chkBucket, "--region", chkRegion, "--s3-endpoint", gw.URL}, more...)
	}

	t.Run("all pass", func(t *testing.T) {
		u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_ALLOWED_ORIGINS": chkOrigin})
		r := runCheck(t, args(u, "--origin", chkOrigin, "--prefix", "shotgun/"), creds)
		r.wantAllPass(t)
		if !strings.Contains(r.stdout, "objects under shotgun/s3proxy-check/") {
			t.Errorf("summary does not name the folder:\n%s", r.stdout)
		}
	})

	t.Run("json report", func(t *testing.T) {
		u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_ALLOWED_ORIGINS": chkOrigin})
		r := runCheck(t, args(u, "--origin", chkOrigin, "--json", "--keep"), creds)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var rep struct {
			OK     bool   `json:"ok"`
			Folder string `json:"folder"`
			Steps  []struct {
				Name       string `json:"name"`
				Status     string `json:"status"`
				OK         bool   `json:"ok"`
				DurationMS *int64 `json:"durationMs"`
			} `json:"steps"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
		}
		if !rep.OK || len(rep.Steps) != 19 {
			t.Fatalf("ok %v with %d steps, want true with 19:\n%s", rep.OK, len(rep.Steps), r.stdout)
		}
		for _, s := range rep.Steps[:15] {
			if !s.OK || s.Status != "PASS" || s.DurationMS == nil {
				t.Errorf("step %+v, want ok with a duration", s)
			}
		}
		if s := rep.Steps[15]; s.Name != s3check.StepUnlisted || s.Status != "SKIP" {
			t.Errorf("without --unlisted-profile step 16 is %+v, want unlisted-principal SKIP", s)
		}
		if last := rep.Steps[16]; last.Name != s3check.StepCleanup || last.Status != "SKIP" {
			t.Errorf("with --keep the last step is %+v, want cleanup SKIP", last)
		}
		// --keep left the objects for inspection.
		if _, err := gw.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(chkBucket), Key: aws.String(rep.Folder + "large.bin")}); err != nil {
			t.Errorf("--keep: the large object is gone: %v", err)
		}
	})

	t.Run("passthrough off", func(t *testing.T) {
		u := startCheckTwin(t, gw, false, nil)
		r := runCheck(t, args(u), creds)
		r.wantFail(t, s3check.StepParts, "413", "UploadPassthrough is off")
		// A small PUT fits the function and still works; the reads of the
		// never-completed object are skipped, and the upload is aborted.
		if l := r.stepLine(s3check.StepPutSmall); !strings.HasPrefix(l, "PASS") {
			t.Errorf("put-small: %q, want PASS (relayed by the function)", l)
		}
		if l := r.stepLine(s3check.StepGetLarge); !strings.HasPrefix(l, "SKIP") {
			t.Errorf("get-large: %q, want SKIP", l)
		}
		if l := r.stepLine(s3check.StepCleanup); !strings.HasPrefix(l, "PASS") || !strings.Contains(l, "unfinished upload") {
			t.Errorf("cleanup: %q, want the unfinished upload aborted", l)
		}
	})

	t.Run("wrong signed host", func(t *testing.T) {
		// The stack was deployed with the regional host, while ShotGrid
		// signs for the global one (check's default).
		u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_SIGNED_HOST": chkBucket + ".s3." + chkRegion + ".amazonaws.com"})
		r := runCheck(t, args(u), creds)
		r.wantFail(t, s3check.StepPutSmall, "403 SignatureDoesNotMatch on PUT through passthrough", "check the signed host", "SignedHost")
		// versitygw refuses a 5 MiB part before reading it and resets the
		// connection, so the twin answers 502; the hint still points at
		// the signed host.
		r.wantFail(t, s3check.StepParts, "check the signed host")
	})

	t.Run("site-only bucket CORS breaks redirected web reads", func(t *testing.T) {
		setCORS(t, siteRule)
		defer setCORS(t, siteRule, anyRule)
		u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_ALLOWED_ORIGINS": chkOrigin})
		r := runCheck(t, args(u, "--origin", chkOrigin), creds)
		r.wantFail(t, s3check.StepCORSRedirect, "Origin: null", "docs/cors.md", "RedirectVia=proxy")
		if got := strings.Count(r.stdout, "FAIL  "); got != 1 {
			t.Errorf("%d failed steps, want only cors-redirect:\n%s", got, r.stdout)
		}
	})

	t.Run("origin not allowed", func(t *testing.T) {
		u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_ALLOWED_ORIGINS": chkOrigin})
		other := "https://other.shotgrid.autodesk.com"
		r := runCheck(t, args(u, "--origin", other), creds)
		r.wantFail(t, s3check.StepCORSOrigin, other, "AllowedOrigins")
		if l := r.stepLine(s3check.StepCORSForeign); !strings.HasPrefix(l, "PASS") {
			t.Errorf("cors-foreign: %q, want PASS", l)
		}
		if got := strings.Count(r.stdout, "FAIL  "); got != 1 {
			t.Errorf("%d failed steps, want only the preflight:\n%s", got, r.stdout)
		}
	})
}

// --unlisted-profile signs the unlisted-principal step with a profile of
// the shared credentials file, against versitygw refusing that user's
// reads by bucket policy; an unknown profile stops the run before any step.
func TestCheckUnlistedProfile(t *testing.T) {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{chkBucket}, Region: chkRegion, IAM: true})
	access, secret := gw.CreateUser(t, peertest.RoleUser)
	objects := peertest.ARN(chkBucket, "*")
	gw.PutBucketPolicy(t, chkBucket, `{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Principal":{"AWS":["`+access+`"]},"Action":["s3:GetObject"],"Resource":["`+objects+`"]},`+
		`{"Effect":"Deny","Principal":{"AWS":["`+access+`"]},"Action":["s3:GetObject*"],"Resource":["`+objects+`"]}]}`)
	dir := t.TempDir()
	shared := filepath.Join(dir, "credentials")
	if err := os.WriteFile(shared, []byte("[artist]\naws_access_key_id = "+access+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", shared)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	creds := map[string]string{"AWS_ACCESS_KEY_ID": gw.AccessKeyID, "AWS_SECRET_ACCESS_KEY": gw.SecretAccessKey}
	u := startCheckTwin(t, gw, true, nil)
	args := []string{"--url", u, "--bucket", chkBucket, "--region", chkRegion, "--s3-endpoint", gw.URL}

	r := runCheck(t, append(args, "--unlisted-profile", "artist"), creds)
	r.wantAllPass(t, s3check.StepCORSOrigin, s3check.StepCORSForeign, s3check.StepCORSRedirect)
	if l := r.stepLine(s3check.StepUnlisted); !strings.HasPrefix(l, "PASS") || !strings.Contains(l, "403 AccessDenied") {
		t.Errorf("unlisted-principal: %q, want PASS with S3's 403", l)
	}

	r = runCheck(t, append(args, "--unlisted-profile", "nobody"), creds)
	if r.code != 1 || !strings.Contains(r.stderr, "--unlisted-profile nobody") || strings.Contains(r.stdout, "ping") {
		t.Errorf("unknown profile: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestCheckUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "missing --url and --bucket"},
		{"no bucket", []string{"--url", "https://s3-proxy.studio.com"}, "missing --bucket"},
		{"stray argument", []string{"--url", "https://p", "--bucket", "b", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--bukket", "b"}, "bukket"},
		{"url with a path", []string{"--url", "https://s3-proxy.studio.com/media", "--bucket", "b", "--region", "us-east-1"}, "no path"},
		{"bad origin", []string{"--url", "https://p", "--bucket", "b", "--region", "us-east-1", "--origin", "studio"}, "origin"},
		{"empty --connect-to", []string{"--url", "https://p", "--bucket", "b", "--region", "us-east-1", "--connect-to", ""}, "--connect-to is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
			r := runCheck(t, tc.args, env)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// An unreachable proxy fails at ping, with a hint about the network, and
// every later step is skipped.
func TestCheckUnreachableProxy(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close() // nothing listens there now
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
	r := runCheck(t, []string{"--url", u, "--bucket", "media", "--region", "us-east-1", "--s3-endpoint", u}, env)
	r.wantFail(t, s3check.StepPing, "refused the connection")
	if got := strings.Count(r.stdout, "SKIP  "); got != 18 {
		t.Errorf("%d skipped steps, want 18 (16 after ping, endpoint-zones without --load-balancer-arn, bucket-policy without --stack):\n%s", got, r.stdout)
	}
}
