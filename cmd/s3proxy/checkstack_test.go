package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	s3check "github.com/mediaisolation/s3proxy/pkg/check"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/release"
)

// check --stack reads its values from the stack's outputs (moto's
// CloudFormation), and runs against the twin in front of versitygw. The
// proxy's name in ProxyUrl does not resolve: --connect-to dials the twin
// while the URL keeps that name, as a check of a new load balancer under a
// test name before DNS moves does.
func TestCheckStack(t *testing.T) {
	m := startMoto(t)
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{chkBucket}, Region: chkRegion})
	u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_ALLOWED_ORIGINS": chkOrigin, "S3PROXY_KEY_PREFIXES": "shotgun/"})
	twin, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	named := "http://s3-proxy-test.studio.invalid:" + twin.Port()
	const policy = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",` +
		`"Resource":["arn:aws:s3:::shotgrid-media","arn:aws:s3:::shotgrid-media/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	m.createStack(t, chkRegion, "s3proxy", "s3proxy-outputs.yml", map[string]string{
		"ProxyUrl": named, "BucketName": chkBucket, "KeyPrefixes": "shotgun/,editorial/", "AllowedOrigins": chkOrigin,
		"Version": release.Version, "RecommendedBucketPolicy": policy,
	})
	// The bucket's CORS with docs/cors.md's rule for *: the redirected
	// read's Origin: null is allowed.
	if _, err := gw.Client.PutBucketCors(context.Background(), &s3.PutBucketCorsInput{Bucket: aws.String(chkBucket),
		CORSConfiguration: &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{
			{AllowedOrigins: []string{chkOrigin}, AllowedMethods: []string{"GET", "PUT", "HEAD"}, AllowedHeaders: []string{"*"}},
			{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "HEAD"}, AllowedHeaders: []string{"*"}}}}}); err != nil {
		t.Fatal(err)
	}
	env := m.env()
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = gw.AccessKeyID, gw.SecretAccessKey

	// Every proxy step passes with the outputs' values; the bucket has no
	// policy yet, which the bucket-policy step catches.
	r := runCheck(t, []string{"--stack", "s3proxy", "--region", chkRegion, "--s3-endpoint", gw.URL, "--connect-to", "127.0.0.1"}, env)
	r.wantFail(t, s3check.StepBucketPolicy, "RecommendedBucketPolicy")
	for _, step := range []string{s3check.StepPing, s3check.StepPutSmall, s3check.StepParts, s3check.StepGetLarge, s3check.StepCORSOrigin,
		s3check.StepCORSForeign, s3check.StepCORSRedirect, s3check.StepTampered, s3check.StepCleanup} {
		if l := r.stepLine(step); !strings.HasPrefix(l, "PASS  ") {
			t.Errorf("%s: %q, want PASS", step, l)
		}
	}
	if !strings.Contains(r.stdout, "objects under shotgun/s3proxy-check/") {
		t.Errorf("the first KeyPrefixes output is not the prefix:\n%s", r.stdout)
	}
	if strings.Contains(r.stderr, "note: stack") {
		t.Errorf("a version note for a matching version: %s", r.stderr)
	}

	// A policy without the recommended statement is caught; with it
	// merged, the run passes.
	other := `{"Version":"2012-10-17","Statement":[{"Sid":"Reads","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shotgrid-media/*"}]}`
	gw.PutBucketPolicy(t, chkBucket, other)
	r = runCheck(t, []string{"--stack", "s3proxy", "--region", chkRegion, "--s3-endpoint", gw.URL, "--connect-to", "127.0.0.1"}, env)
	r.wantFail(t, s3check.StepBucketPolicy, "RecommendedBucketPolicy")
	if l := r.stepLine(s3check.StepBucketPolicy); !strings.Contains(l, "lacks DenyInsecureTransport") {
		t.Errorf("bucket-policy: %q", l)
	}
	gw.PutBucketPolicy(t, chkBucket, strings.Replace(policy, `[{"Sid"`, `[`+other[strings.Index(other, `{"Sid"`):len(other)-2]+`,{"Sid"`, 1))
	r = runCheck(t, []string{"--stack", "s3proxy", "--region", chkRegion, "--s3-endpoint", gw.URL, "--connect-to", "127.0.0.1"}, env)
	r.wantAllPass(t)
	if l := r.stepLine(s3check.StepBucketPolicy); !strings.HasPrefix(l, "PASS") {
		t.Errorf("bucket-policy: %q, want PASS", l)
	}

	// Without --connect-to the name does not resolve; an explicit --url
	// wins over the output.
	r = runCheck(t, []string{"--stack", "s3proxy", "--region", chkRegion, "--s3-endpoint", gw.URL, "--step-timeout", "10s"}, env)
	r.wantFail(t, s3check.StepPing, "s3-proxy-test.studio.invalid")
	r = runCheck(t, []string{"--stack", "s3proxy", "--region", chkRegion, "--s3-endpoint", gw.URL, "--url", u, "--prefix", "editorial/"}, env)
	if l := r.stepLine(s3check.StepPing); !strings.HasPrefix(l, "PASS") {
		t.Errorf("--url over the output: ping %q", l)
	}
	// The load balancer refuses writes outside the prefixes, so the first
	// upload is where it fails.
	if l := r.stepLine(s3check.StepPutSmall); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "S3PROXY_KEY_PREFIXES") {
		t.Errorf("--prefix editorial/, outside the twin's shotgun/: put-small %q, want FAIL naming the prefixes", l)
	}

	// A stack that is not there, or lacks the outputs.
	r = runCheck(t, []string{"--stack", "s3proxy-nope", "--region", chkRegion}, env)
	if r.code != 1 || !strings.Contains(r.stderr, "stack not found: s3proxy-nope in us-east-1") {
		t.Errorf("missing stack: exit %d %s", r.code, r.stderr)
	}
}

// A read-only stack's ReadOnly output makes check --stack check it as one:
// the uploads through the proxy are refused and the test objects go
// straight to the bucket, so every step passes; --read-only=false overrides
// the output, and the refused upload then fails, naming the flag.
func TestCheckStackReadOnly(t *testing.T) {
	m := startMoto(t)
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{chkBucket}, Region: chkRegion})
	u := startCheckTwin(t, gw, true, map[string]string{"S3PROXY_KEY_PREFIXES": "shotgun/", "S3PROXY_READ_ONLY": "true"})
	m.createStack(t, chkRegion, "replica", "s3proxy-outputs.yml", map[string]string{
		"ProxyUrl": u, "BucketName": chkBucket, "KeyPrefixes": "shotgun/", "ReadOnly": "true", "Version": release.Version,
	})
	env := m.env()
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = gw.AccessKeyID, gw.SecretAccessKey
	r := runCheck(t, []string{"--stack", "replica", "--region", chkRegion, "--s3-endpoint", gw.URL}, env)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", r.code, r.stdout)
	}
	for _, step := range []string{s3check.StepPutSmall, s3check.StepCreate, s3check.StepParts, s3check.StepComplete, s3check.StepGetSmall,
		s3check.StepGetLarge, s3check.StepRange, s3check.StepHead, s3check.StepTampered, s3check.StepExpired, s3check.StepCleanup} {
		if l := r.stepLine(step); !strings.HasPrefix(l, "PASS  ") {
			t.Errorf("%s: %q, want PASS", step, l)
		}
	}
	for _, step := range []string{s3check.StepPutSmall, s3check.StepParts} {
		if l := r.stepLine(step); !strings.Contains(l, "refused") || !strings.Contains(l, "directly to S3") {
			t.Errorf("%s: %q, want the upload refused and the object written directly", step, l)
		}
	}
	list, err := gw.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(chkBucket)})
	if err != nil || len(list.Contents) != 0 {
		t.Errorf("after the run the bucket holds %d objects (%v)", len(list.Contents), err)
	}
	r = runCheck(t, []string{"--stack", "replica", "--region", chkRegion, "--s3-endpoint", gw.URL, "--read-only=false"}, env)
	r.wantFail(t, s3check.StepPutSmall, "--read-only")
}
