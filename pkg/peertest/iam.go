package peertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Roles of versitygw's IAM users, for CreateUser. A "user" reaches only
// buckets it owns and what bucket policies (or ACLs) grant it; "userplus"
// may also create buckets; "admin" may do anything, as root.
const (
	RoleAdmin    = "admin"
	RoleUser     = "user"
	RoleUserPlus = "userplus"
)

// CreateUser adds a user with the given role and freshly generated keys to
// a gateway started with VersityGWOptions.IAM, and returns the keys. It does
// what `versitygw admin create-user` does: PATCH /create-user on the
// gateway's own port (its admin API, served there when no --admin-port is
// given), with the account as XML, SigV4-signed by root. The user can sign
// requests at once. Use As for a client and credentials that sign as the
// user; a bucket policy names the user by its access key ID (AllowPolicy).
func (s *S3) CreateUser(t testing.TB, role string) (access, secret string) {
	t.Helper()
	if !s.iam {
		t.Fatalf("peertest: CreateUser needs a versitygw started with VersityGWOptions{IAM: true}")
	}
	access, secret = generateKeys(t)
	body, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"Account"`
		Access  string
		Secret  string
		Role    string
	}{Access: access, Secret: secret, Role: role})
	if err != nil {
		t.Fatalf("peertest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, s.URL+"/create-user", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("peertest: %v", err)
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds, err := s.rootCredentials().Retrieve(ctx)
	if err != nil {
		t.Fatalf("peertest: %v", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payload, "s3", s.Region, time.Now()); err != nil {
		t.Fatalf("peertest: signing create-user: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("peertest: create-user: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		t.Fatalf("peertest: create-user (role %q): %s %s", role, resp.Status, b)
	}
	return access, secret
}

// As returns a copy of s whose AccessKeyID, SecretAccessKey, Credentials,
// Client and AWSConfig are the given user's (as returned by CreateUser),
// for the same gateway. CreateUser on the copy still signs as root.
func (s *S3) As(access, secret string) *S3 {
	u := newS3(s.URL, s.Region, access, secret, s.PID)
	u.iam = s.iam
	u.root = s.rootCredentials()
	return u
}

func (s *S3) rootCredentials() aws.CredentialsProvider {
	if s.root != nil {
		return s.root
	}
	return s.Credentials
}

// PutBucketPolicy sets bucket's policy (JSON, e.g. from AllowPolicy) with
// s.Client, failing the test on error. On versitygw, s must be root (or the
// bucket's owner, or an admin). s.Client.PutBucketPolicy works as well.
func (s *S3) PutBucketPolicy(t testing.TB, bucket, policy string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
		Bucket: aws.String(bucket), Policy: aws.String(policy),
	}); err != nil {
		t.Fatalf("peertest: PutBucketPolicy %s: %v\npolicy: %s", bucket, err, policy)
	}
}

// AllowPolicy returns a bucket policy with one statement allowing actions
// (e.g. "s3:GetObjectTagging") on resources (see ARN) to principal, in the
// form versitygw accepts: its principals are access key IDs, written
// {"AWS": ["<access key ID>"]}, or "*" for everyone. versitygw rejects a
// policy naming a principal its IAM does not know, or a resource outside
// the bucket the policy is put on.
func AllowPolicy(principal string, actions []string, resources ...string) string {
	type statement struct {
		Effect    string
		Principal any
		Action    []string
		Resource  []string
	}
	var p any = map[string][]string{"AWS": {principal}}
	if principal == "*" {
		p = "*"
	}
	b, err := json.Marshal(struct {
		Version   string
		Statement []statement
	}{"2012-10-17", []statement{{"Allow", p, actions, resources}}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// ARN returns the S3 ARN of bucket, or of key in bucket when key is not
// empty: arn:aws:s3:::bucket or arn:aws:s3:::bucket/key. A key may end in
// "*" to name a prefix.
func ARN(bucket, key string) string {
	if key == "" {
		return "arn:aws:s3:::" + bucket
	}
	return "arn:aws:s3:::" + bucket + "/" + strings.TrimPrefix(key, "/")
}
