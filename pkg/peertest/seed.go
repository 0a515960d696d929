package peertest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
)

// SeedPartSize is the part size Seed uploads in. Objects up to it go in one
// PUT, so their ETag is the MD5 of their bytes, which the suites compare.
const SeedPartSize = 16 << 20

// Seed stores body under key straight into the peer, as a studio's own
// tools would, with the SDK's transfer manager (the maintained successor of
// feature/s3/manager): objects over SeedPartSize go up in parts. It returns
// the object's ETag.
func (s *S3) Seed(t testing.TB, bucket, key string, body []byte, contentType string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tm := transfermanager.New(s.Client, func(o *transfermanager.Options) {
		o.PartSizeBytes = SeedPartSize
		o.MultipartUploadThreshold = SeedPartSize
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	in := &transfermanager.UploadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	out, err := tm.UploadObject(ctx, in)
	if err != nil {
		t.Fatalf("peertest: seeding %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.ETag)
}
