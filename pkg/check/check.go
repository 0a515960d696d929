// Package check validates a deployed proxy end to end by playing ShotGrid's
// part against it: it presigns URLs for the signed host with the operator's
// credentials, swaps the host for the proxy's, and drives every request a
// ShotGrid client makes — ping, single and multipart uploads, inline and
// redirected reads, a Range read, a HEAD, CORS preflights — plus the two
// refusals that must hold (a tampered and an expired URL get 403 and no
// Location), and, given a second principal's credentials, that a
// signature from a principal the bucket policy does not list is refused.
// Set-up that ShotGrid's own server does (create and complete a multipart
// upload) and clean-up go straight to S3. A read-only stack (Media
// Replication's replica) takes no upload: there the uploads must be refused,
// and the test objects are written straight to S3 for the reads to find.
//
// Every step reports PASS, FAIL or SKIP, its duration and, on failure, a hint
// naming the likely cause in deployment terms. Nothing it reports carries a
// signature, security token or secret: URLs are shown without their query
// and S3 error bodies only by their <Code>.
package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// S3API is the part of the S3 API the check calls directly, as ShotGrid's
// server does; *s3.Client satisfies it.
type S3API interface {
	CreateMultipartUpload(ctx context.Context, params *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	CompleteMultipartUpload(ctx context.Context, params *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, params *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	DeleteObject(ctx context.Context, params *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	// PutObject places the test objects on a read-only stack, whose proxy
	// takes no upload (Options.ReadOnly).
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Defaults for Options.
const (
	// MinPartSize is S3's smallest part other than the last.
	MinPartSize     = 5 << 20
	DefaultParts    = 3
	DefaultStepTime = 2 * time.Minute
	// ForeignOrigin is the origin no deployment should allow.
	ForeignOrigin = "https://s3proxy-check.invalid"
	// URLTTL is the life of the URLs the check mints, as ShotGrid's are
	// short-lived.
	URLTTL = 15 * time.Minute
	// smallSize is well under any inline limit (the smallest useful one is
	// a few KiB) and under the ALB's 1 MB request limit.
	smallSize = 2 << 10
)

// Options configure a run.
type Options struct {
	// URL is the proxy's base URL, the "S3 Proxy Host Address"
	// (https://s3-proxy.studio.com).
	URL string
	// Bucket and Region are the media bucket's.
	Bucket, Region string
	// SignedHost is the host ShotGrid's URLs are signed for; default
	// <bucket>.s3.amazonaws.com.
	SignedHost string
	// Prefix is put before the check's own folder, e.g. "shotgun/" when the
	// proxy only serves keys under it.
	Prefix string
	// Origin is the ShotGrid site's origin; empty skips the CORS steps.
	Origin string
	// Keep leaves the test objects in the bucket.
	Keep bool
	// ReadOnly checks a read-only stack (ReadOnly="true", Media
	// Replication's replica): an upload through the proxy must be refused
	// with 403, and the test objects are written directly to S3 instead, so
	// that every read is still checked through the proxy. On a stack that
	// takes uploads, the write steps fail.
	ReadOnly bool

	// Credentials presign the URLs, as the ShotGrid site's do.
	Credentials aws.CredentialsProvider
	// Unlisted, when set, adds the unlisted-principal step: credentials of
	// a principal that IAM lets read the bucket but that the stack's
	// ShotGridPrincipalArns, OtherReaderArns and CheckPrincipalArns do not
	// name. Its signature must get 403 from the proxy, with no redirect.
	// Nil skips the step.
	Unlisted aws.CredentialsProvider
	// S3 is the direct S3 client (create, complete, abort, delete).
	S3 S3API
	// HTTPClient talks to the proxy and follows nothing by itself: the
	// check copies it and decides about redirects. Nil: a client that
	// honours HTTP(S)_PROXY, like curl.
	HTTPClient *http.Client

	// Stack, when set, adds the endpoint-zones step: what only AWS can tell
	// about the endpoint's addresses behind the load balancer.
	Stack *Stack
	// BucketPolicy, when set, adds the bucket-policy step.
	BucketPolicy *BucketPolicy

	// Progress receives a line per uploaded part; nil discards them.
	Progress io.Writer
	// OnStep is called as each step finishes, in order.
	OnStep func(Step)

	// PartSize (default MinPartSize) and Parts (default 3) shape the
	// multipart upload.
	PartSize int
	Parts    int
	// StepTimeout bounds each step; default 2 minutes.
	StepTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Status is a step's outcome.
type Status = stepreport.Status

// Step outcomes.
const (
	Pass = stepreport.Pass
	Fail = stepreport.Fail
	Skip = stepreport.Skip
)

// Step is one step's result: a stepreport.Step whose JSON carries "ok",
// which scripts reading check's report rely on. Its fields are
// stepreport.Step's, in its order, so each converts to the other.
type Step struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	OK       bool          `json:"ok"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in whole milliseconds, for the JSON report.
	DurationMS int64 `json:"durationMs"`
	// Detail says what was observed.
	Detail string `json:"detail,omitempty"`
	// Hint names the likely cause of a failure in deployment terms.
	Hint string `json:"hint,omitempty"`
}

// Report is a whole run.
type Report struct {
	OK bool `json:"ok"`
	// URL is the proxy base URL; Bucket the bucket; Folder the unique
	// key prefix the run wrote under.
	URL    string `json:"url"`
	Bucket string `json:"bucket"`
	Folder string `json:"folder"`
	Steps  []Step `json:"steps"`
}

// Failed returns the failed steps.
func (r Report) Failed() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Status == Fail {
			out = append(out, s)
		}
	}
	return out
}

// Step returns the step called name, and whether it ran.
func (r Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// Step names, in the order they run.
const (
	StepPing        = "ping"
	StepPutSmall    = "put-small"
	StepCreate      = "multipart-create"
	StepParts       = "multipart-parts"
	StepComplete    = "multipart-complete"
	StepGetSmall    = "get-small"
	StepGetLarge    = "get-large"
	StepRange       = "get-range"
	StepSignedRange = "signed-range"
	StepHead        = "head"
	StepCORSOrigin  = "cors-origin"
	StepCORSForeign = "cors-foreign"
	StepTampered    = "tampered-signature"
	StepExpired     = "expired-url"
	// StepUnlisted runs only with Options.Unlisted.
	StepUnlisted = "unlisted-principal"
	StepCleanup  = "cleanup"
	// StepEndpointZones reads AWS's own view of the endpoint target group;
	// it runs only with Options.Stack.
	StepEndpointZones = "endpoint-zones"
)

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.URL == "" {
		errs = append(errs, errors.New("the proxy URL is required"))
	} else if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("the proxy URL %q must be http(s)://host[:port]", o.URL))
	} else if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("the proxy URL %q must have no path or query: ShotGrid swaps only the scheme and host", o.URL))
	}
	if o.Bucket == "" {
		errs = append(errs, errors.New("the bucket is required"))
	}
	if o.Region == "" {
		errs = append(errs, errors.New("the region is required"))
	}
	if o.Origin != "" {
		if u, err := url.Parse(o.Origin); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("the origin %q must be scheme://host[:port]", o.Origin))
		}
	}
	if o.Credentials == nil {
		errs = append(errs, errors.New("credentials are required to presign URLs"))
	}
	if o.S3 == nil {
		errs = append(errs, errors.New("an S3 client is required"))
	}
	if o.BucketPolicy != nil && o.BucketPolicy.S3 == nil {
		errs = append(errs, errors.New("the bucket-policy step needs an S3 client"))
	}
	if o.PartSize < 0 || o.Parts < 0 {
		errs = append(errs, errors.New("the part size and count must not be negative"))
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() {
	o.URL = strings.TrimSuffix(o.URL, "/")
	if o.SignedHost == "" {
		o.SignedHost = o.Bucket + ".s3.amazonaws.com"
	}
	if o.HTTPClient == nil {
		// Like curl: HTTP(S)_PROXY honoured, bodies compared as sent.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true
		t.ResponseHeaderTimeout = time.Minute
		o.HTTPClient = &http.Client{Transport: t}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.PartSize == 0 {
		o.PartSize = MinPartSize
	}
	if o.Parts == 0 {
		o.Parts = DefaultParts
	}
	if o.StepTimeout == 0 {
		o.StepTimeout = DefaultStepTime
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Run validates o and runs every step in order. It returns an error only
// when o is invalid; failures of the deployment are in the report.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	o.defaults()
	return newRunner(o).run(ctx), nil
}

// Folder returns a unique folder for one run: <prefix>s3proxy-check/<UTC
// timestamp>-<8 random hex digits>/.
func Folder(prefix string, now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "s3proxy-check/" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]) + "/"
}
