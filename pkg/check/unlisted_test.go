package check

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// unlistedPolicy gives user an IAM-like read of the bucket's objects and,
// when deny is set, the explicit deny that stands for the recommended
// policy's DenyVpcReadsExceptListedPrincipals. versitygw evaluates Allow
// and Deny by principal, action and resource, but has neither
// aws:SourceVpc nor aws:PrincipalArn in its condition context, so the deny
// names the unlisted principal itself; tests/template evaluates the real
// statement over the rendered template.
func unlistedPolicy(user string, deny bool) string {
	objects := peertest.ARN(testBucket, "*")
	statements := []string{fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":[%q]},"Action":["s3:GetObject"],"Resource":[%q]}`, user, objects)}
	if deny {
		statements = append(statements, fmt.Sprintf(`{"Effect":"Deny","Principal":{"AWS":[%q]},"Action":["s3:GetObject*"],"Resource":[%q]}`, user, objects))
	}
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// The unlisted-principal step against the twin in front of versitygw, a
// real SigV4 and bucket-policy checking S3: it passes when S3 refuses the
// second principal's reads, fails when the policy lets them through (the
// proxy then redirects whoever signed), fails when both credentials are the
// same, and is skipped without them.
func TestUnlistedPrincipalVersityGW(t *testing.T) {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{testBucket}, Region: testRegion, IAM: true})
	access, secret := gw.CreateUser(t, peertest.RoleUser)
	unlisted := credentials.NewStaticCredentialsProvider(access, secret, "")

	logger := lambdalog.New(io.Discard, slog.LevelError)
	env := map[string]string{
		"S3PROXY_BUCKET": testBucket, "S3PROXY_REGION": testRegion,
		"S3PROXY_UPSTREAM_URL": gw.URL, "S3PROXY_ENDPOINT_URL": gw.URL,
	}
	cfg, fn := peertest.Function(t, env, gw, logger)
	srv := httptest.NewServer(twin.New(twin.Options{Config: cfg, Passthrough: true, Invoker: fn, FunctionTimeout: 30 * time.Second, Logger: logger}))
	t.Cleanup(srv.Close)

	options := func(u Options) Options {
		o := Options{
			URL: srv.URL, Bucket: testBucket, Region: testRegion, Credentials: gw.Credentials, S3: gw.Client,
			HTTPClient: &http.Client{Transport: &http.Transport{Proxy: nil}}, StepTimeout: 30 * time.Second,
			Parts: 1, Unlisted: u.Unlisted,
		}
		return o
	}

	t.Run("refused", func(t *testing.T) {
		gw.PutBucketPolicy(t, testBucket, unlistedPolicy(access, true))
		rep := run(t, options(Options{Unlisted: unlisted}))
		if !rep.OK {
			t.Fatalf("report not OK: %+v", rep.Failed())
		}
		wantStep(t, rep, StepUnlisted, Pass)
		if s, _ := rep.Step(StepUnlisted); !strings.Contains(s.Detail, "403 AccessDenied") {
			t.Errorf("unlisted-principal: %q, want S3's 403 AccessDenied", s.Detail)
		}
	})

	t.Run("let through", func(t *testing.T) {
		gw.PutBucketPolicy(t, testBucket, unlistedPolicy(access, false))
		rep := run(t, options(Options{Unlisted: unlisted}))
		wantStep(t, rep, StepUnlisted, Fail, "redirected a read signed by a principal that is not ShotGrid's", "DenyVpcReadsExceptListedPrincipals")
		if len(rep.Failed()) != 1 {
			t.Errorf("want only the unlisted step to fail, got %+v", rep.Failed())
		}
	})

	t.Run("same credentials", func(t *testing.T) {
		rep := run(t, options(Options{Unlisted: gw.Credentials}))
		wantStep(t, rep, StepUnlisted, Fail, "another principal than the check itself")
	})

	t.Run("not given", func(t *testing.T) {
		rep := run(t, options(Options{}))
		wantStep(t, rep, StepUnlisted, Skip)
		if !rep.OK {
			t.Errorf("a skipped step failed the run: %+v", rep.Failed())
		}
	})
}
