package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
)

// Demo objects seeded into the embedded S3: one answered inline, one large
// enough to be redirected, and one uploaded in parts, as ShotGrid uploads
// big media, which is redirected too.
const (
	demoBucket        = "demo"
	demoSmallKey      = "small.txt"
	demoLargeKey      = "media/large.bin"
	demoLargeSize     = 5 << 20
	demoMultipartKey  = "media/multipart.bin"
	demoPartSize      = 5 << 20 // S3's smallest part but the last
	demoMultipartSize = 2*demoPartSize + 1<<20
	demoURLTTL        = time.Hour
)

// demoObject is one seeded object and the URL that reads it through the
// proxy.
type demoObject struct {
	key, contentType string
	body             []byte
	url              string
	parts            int32 // UploadPart calls the transfer manager made
}

// seedDemo uploads the demo objects through the embedded S3's own API with
// the SDK's transfer manager, as a client would, and prints how to read
// them through the proxy.
func seedDemo(ctx context.Context, cfg *config.Config, e *env, proxyBase string, stdout io.Writer) error {
	prefix := ""
	if len(cfg.KeyPrefixes) > 0 {
		prefix = cfg.KeyPrefixes[0]
	}
	small := &demoObject{key: prefix + demoSmallKey, contentType: "text/plain",
		body: []byte("Hello from s3proxy. This object is small enough to be answered inline by the function.\n")}
	large := &demoObject{key: prefix + demoLargeKey, contentType: "application/octet-stream", body: make([]byte, demoLargeSize)}
	multi := &demoObject{key: prefix + demoMultipartKey, contentType: "application/octet-stream", body: make([]byte, demoMultipartSize)}
	for _, o := range []*demoObject{large, multi} {
		if _, err := rand.Read(o.body); err != nil {
			return err
		}
	}

	creds := credentials.NewStaticCredentialsProvider(e.get("AWS_ACCESS_KEY_ID"), e.get("AWS_SECRET_ACCESS_KEY"), "")
	// The embedded S3's multipart ETag is no count of parts, so the parts
	// the demo reports are counted as they are sent.
	var parts atomic.Int32
	client := s3.New(s3.Options{
		Region: cfg.Region, Credentials: creds, BaseEndpoint: aws.String(cfg.UpstreamURL.String()), UsePathStyle: true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		APIOptions:                 []func(*middleware.Stack) error{countUploadParts(&parts)},
	})
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = demoPartSize
		// The 5 MiB object goes in one PUT, the larger one in parts.
		o.MultipartUploadThreshold = demoLargeSize + 1
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	signer := sgurl.NewSigner(creds, cfg.Region, cfg.Bucket, cfg.SignedHost)
	for _, o := range []*demoObject{small, large, multi} {
		parts.Store(0)
		if _, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(cfg.Bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.body), ContentType: aws.String(o.contentType),
		}); err != nil {
			return fmt.Errorf("seeding the embedded S3 with %s: %w", o.key, err)
		}
		o.parts = parts.Load()
		signed, err := signer.Get(ctx, o.key, demoURLTTL)
		if err != nil {
			return err
		}
		if o.url, err = sgurl.Through(proxyBase, signed); err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, `s3proxy: embedded S3 on %s (bucket %q, region %s, signed host %s)
  AWS_ACCESS_KEY_ID=%s
  AWS_SECRET_ACCESS_KEY=%s

Small object (%d bytes), answered inline by the function:
  curl -i '%s'

Large object (%d bytes), redirected (307) to a URL minted for the endpoint; -L follows it:
  curl -i '%s'
  curl -sSL -o /dev/null -w '%%{http_code} %%{size_download} bytes\n' '%s'

Multipart object (%d bytes in %d parts, uploaded with the SDK's transfer manager), redirected likewise:
  curl -sSL -D - -o /dev/null '%s'

Upload passthrough, presigned PUTs go straight to S3. Ping: curl -i %s/ping
Stop with Ctrl-C.
`, cfg.UpstreamURL, cfg.Bucket, cfg.Region, cfg.SignedHost, e.get("AWS_ACCESS_KEY_ID"), e.get("AWS_SECRET_ACCESS_KEY"),
		len(small.body), small.url, len(large.body), large.url, large.url,
		len(multi.body), multi.parts, multi.url, proxyBase)
	return nil
}

// countUploadParts counts the client's UploadPart calls in n.
func countUploadParts(n *atomic.Int32) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("s3proxyCountParts",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) == "UploadPart" {
					n.Add(1)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}
