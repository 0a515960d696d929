// Package sgurl mints presigned URLs the way a ShotGrid site does in proxy
// mode: signed for the bucket's S3 host, then handed out with only the scheme
// and host swapped for the "S3 Proxy Host Address". The local twin prints
// such URLs, and the tests and checks use them to play ShotGrid's part.
package sgurl

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Signer presigns object URLs for one bucket and signed host.
type Signer struct {
	bucket string
	client *s3.PresignClient
}

// NewSigner returns a signer for bucket whose URLs are signed for
// signedHost: virtual-hosted when it starts with "<bucket>.", path-style
// otherwise.
func NewSigner(creds aws.CredentialsProvider, region, bucket, signedHost string) *Signer {
	base, pathStyle := "https://"+signedHost, true
	if rest, ok := strings.CutPrefix(signedHost, bucket+"."); ok {
		base, pathStyle = "https://"+rest, false
	}
	client := s3.New(s3.Options{
		Region:                     region,
		Credentials:                creds,
		BaseEndpoint:               aws.String(base),
		UsePathStyle:               pathStyle,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &Signer{bucket: bucket, client: s3.NewPresignClient(client)}
}

// Get presigns a GetObject; edit may set versionId or response-* overrides.
func (s *Signer) Get(ctx context.Context, key string, ttl time.Duration, edit ...func(*s3.GetObjectInput)) (string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	for _, f := range edit {
		f(in)
	}
	r, err := s.client.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return r.URL, nil
}

// Head presigns a HeadObject.
func (s *Signer) Head(ctx context.Context, key string, ttl time.Duration) (string, error) {
	r, err := s.client.PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return r.URL, nil
}

// Put presigns a single PutObject, signing host only as ShotGrid does, so
// the uploader's Content-Type is not part of the signature.
func (s *Signer) Put(ctx context.Context, key string, ttl time.Duration) (string, error) {
	r, err := s.client.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return r.URL, nil
}

// UploadPart presigns one part of a multipart upload.
func (s *Signer) UploadPart(ctx context.Context, key, uploadID string, part int32, ttl time.Duration) (string, error) {
	r, err := s.client.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID), PartNumber: aws.Int32(part),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return r.URL, nil
}

// Delete presigns a DeleteObject.
func (s *Signer) Delete(ctx context.Context, key string, ttl time.Duration) (string, error) {
	r, err := s.client.PresignDeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return r.URL, nil
}

// Through swaps a presigned URL's scheme and host for the proxy's, leaving
// the path and query exactly as signed.
func Through(proxyBase, signed string) (string, error) {
	p, err := url.Parse(proxyBase)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return "", err
	}
	rest := strings.TrimPrefix(signed, u.Scheme+"://"+u.Host)
	return p.Scheme + "://" + p.Host + rest, nil
}
