package check

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// runner holds one run's state; each step is a method.
type runner struct {
	o      Options
	folder string
	// stop is o.HTTPClient with redirects returned, not followed.
	stop *http.Client

	signer *sgurl.Signer
	// expired presigns URLs dated two hours back, with a one-minute life.
	expired *s3.PresignClient

	smallKey, largeKey, corsKey string
	small                       []byte
	large                       []byte

	// What the steps achieved, for the ones after them.
	smallStored  bool
	putSmallHint string // the hint of a failed put-small
	uploadID     string
	partETags    []string
	largeStored  bool
	largeETag    string
	// largeS3ETag is the ETag S3 sent with the large object's bytes.
	largeS3ETag string
	// largeFollowed is set once the large object's 307 was followed to its
	// bytes: the signed-range step needs a working redirect to judge one.
	largeFollowed bool

	// steps runs the steps and keeps their results.
	steps stepreport.Runner
}

func newRunner(o Options) *runner {
	r := &runner{o: o, folder: Folder(o.Prefix, o.Now())}
	r.steps = stepreport.Runner{Timeout: o.StepTimeout, FailHint: "see the detail", OnStep: func(s stepreport.Step) {
		if o.OnStep != nil {
			o.OnStep(Step(s))
		}
	}}
	stop := *o.HTTPClient
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.stop = &stop
	r.signer = sgurl.NewSigner(o.Credentials, o.Region, o.Bucket, o.SignedHost)
	r.expired = s3.NewPresignClient(signedHostClient(o), func(po *s3.PresignOptions) {
		po.Presigner = backdated{next: v4.NewSigner(), by: 2 * time.Hour}
		po.Expires = time.Minute
	})
	r.smallKey = r.folder + "small.bin"
	r.largeKey = r.folder + "large.bin"
	r.corsKey = r.folder + "cors.bin"
	r.small = randomBytes(smallSize)
	return r
}

// signedHostClient is an S3 client addressing the signed host as
// sgurl.NewSigner does, used only to presign.
func signedHostClient(o Options) *s3.Client {
	base, pathStyle := "https://"+o.SignedHost, true
	if rest, ok := strings.CutPrefix(o.SignedHost, o.Bucket+"."); ok {
		base, pathStyle = "https://"+rest, false
	}
	return s3.New(s3.Options{
		Region: o.Region, Credentials: o.Credentials, BaseEndpoint: aws.String(base), UsePathStyle: pathStyle,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// backdated signs as if the clock were by earlier, which makes URLs that
// expired before the run started.
type backdated struct {
	next s3.HTTPPresignerV4
	by   time.Duration
}

func (b backdated) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, t time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return b.next.PresignHTTP(ctx, creds, r, payloadHash, service, region, t.Add(-b.by), optFns...)
}

func randomBytes(n int) []byte {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	b := make([]byte, n)
	_, _ = mrand.NewChaCha8(seed).Read(b)
	return b
}

func (r *runner) run(ctx context.Context) Report {
	if ping := r.step(ctx, StepPing, r.ping); ping.Status != Pass {
		for _, name := range []string{StepPutSmall, StepCreate, StepParts, StepComplete, StepGetSmall, StepGetLarge, StepRange,
			StepSignedRange, StepHead, StepCORSOrigin, StepCORSForeign, StepCORSRedirect, StepTampered, StepExpired, StepUnlisted, StepCleanup} {
			r.steps.Record(name, 0, stepreport.Skipped("", "the proxy did not answer /ping"))
		}
		r.step(ctx, StepEndpointZones, r.endpointZones)
		r.step(ctx, StepBucketPolicy, r.bucketPolicy)
		return r.report()
	}
	r.step(ctx, StepPutSmall, r.putSmall)
	r.step(ctx, StepCreate, r.create)
	r.step(ctx, StepParts, r.parts)
	r.step(ctx, StepComplete, r.complete)
	r.step(ctx, StepGetSmall, r.getSmall)
	r.step(ctx, StepGetLarge, r.getLarge)
	r.step(ctx, StepRange, r.getRange)
	r.step(ctx, StepSignedRange, r.signedRange)
	r.step(ctx, StepHead, r.head)
	r.step(ctx, StepCORSOrigin, r.corsOrigin)
	r.step(ctx, StepCORSForeign, r.corsForeign)
	r.step(ctx, StepCORSRedirect, r.corsRedirect)
	r.step(ctx, StepTampered, r.tampered)
	r.step(ctx, StepExpired, r.expiredURL)
	r.step(ctx, StepUnlisted, r.unlisted)
	r.step(ctx, StepCleanup, r.cleanup)
	r.step(ctx, StepEndpointZones, r.endpointZones)
	r.step(ctx, StepBucketPolicy, r.bucketPolicy)
	return r.report()
}

func (r *runner) report() Report {
	run := r.steps.Report()
	rep := Report{OK: run.OK, URL: r.o.URL, Bucket: r.o.Bucket, Folder: r.folder}
	for _, s := range run.Steps {
		rep.Steps = append(rep.Steps, Step(s))
	}
	return rep
}

// step runs f as the step called name.
func (r *runner) step(ctx context.Context, name string, f func(context.Context) stepreport.Result) stepreport.Step {
	if name == StepCleanup {
		// An interrupted run still removes what it wrote.
		ctx = context.WithoutCancel(ctx)
	}
	return r.steps.Run(ctx, name, f)
}

// response is a proxy answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// code is the S3 error <Code> of the body, or "".
func (x *response) code() string { return s3error.CodeOf(x.body) }

// describe is "<status>" or "<status> <Code>", for details.
func (x *response) describe() string {
	if c := x.code(); c != "" {
		return fmt.Sprintf("%d %s", x.status, c)
	}
	return fmt.Sprint(x.status)
}

// do sends one request with c and reads the answer. Errors name the method
// and the URL without its query, never the signature.
func (r *runner) do(ctx context.Context, c *http.Client, method, u string, hdr http.Header, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, Redact(u), unwrapURLError(err))
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, Redact(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the body: %w", method, Redact(u), unwrapURLError(err))
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// unwrapURLError drops *url.Error's wrapping, whose text holds the whole
// URL and so the signature.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Redact is u without its query (which holds the signature and token).
func Redact(u string) string {
	p, _, _ := strings.Cut(u, "?")
	return p
}

// through mints a URL with mint and swaps its host for the proxy's.
func (r *runner) through(mint func() (string, error)) (string, error) {
	signed, err := mint()
	if err != nil {
		return "", fmt.Errorf("presigning: %w", err)
	}
	return sgurl.Through(r.o.URL, signed)
}

func (r *runner) proxyHost() string {
	if u, err := url.Parse(r.o.URL); err == nil {
		return u.Host
	}
	return r.o.URL
}

// readKey is the key the read-side negative steps use: the large object
// when it exists (a proxy that mints redirects before S3 has judged the
// signature shows it there), else the small one.
func (r *runner) readKey() string {
	if r.largeStored {
		return r.largeKey
	}
	return r.smallKey
}

func mib(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
