package proxy

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/config"
)

// The S3 presign client, as the mint used it before the bare v4 signer. It
// stays here, in a test file, as the baseline: the new signer must produce
// the same URL byte for byte (TestSignerMatchesThePresignClient), and
// BenchmarkMint prices the new one against it in the same run.

// presignClient signs mints with the SDK's S3 presign client: path-style
// against the VPC endpoint, pinned to the instant the TTL was measured from.
type presignClient struct {
	client *s3.PresignClient
	signer *v4.Signer
}

// newPresignBaseline returns the presign client the mint used: path-style
// against the VPC endpoint, and with checksum behaviour pinned to "when
// required" so no checksum header ever became part of the signature.
func newPresignBaseline(awsCfg aws.Config, cfg *config.Config) Signer {
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(cfg.EndpointURL.String())
		o.UsePathStyle = true
		o.Region = cfg.Region
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &presignClient{
		client: s3.NewPresignClient(client),
		// S3 signs the path as sent, unescaped once more; this is the
		// signer the presign client would have built for itself.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
	}
}

// Sign presigns req's GetObject at the instant at, valid for ttl.
func (p *presignClient) Sign(ctx context.Context, req SignRequest, ttl time.Duration, at time.Time) (string, http.Header, error) {
	minted, err := p.client.PresignGetObject(ctx, getObjectInput(req), s3.WithPresignExpires(ttl),
		func(o *s3.PresignOptions) { o.Presigner = signingAt{inner: p.signer, at: at} })
	if err != nil {
		return "", nil, err
	}
	if minted.Method != http.MethodGet {
		return "", nil, errors.New("presign client returned a " + minted.Method)
	}
	return minted.URL, minted.SignedHeader, nil
}

// signingAt signs at a fixed instant, so that the minted expiry is exactly
// the one computed against the client's URL.
type signingAt struct {
	inner *v4.Signer
	at    time.Time
}

func (s signingAt) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return s.inner.PresignHTTP(ctx, creds, r, payloadHash, service, region, s.at, optFns...)
}

// getObjectInput maps a SignRequest onto the SDK's input. A value the SDK
// cannot hold as given (a part number that does not round-trip, a date it
// would reformat) is left out or changed by the SDK; the grant's check of
// the minted URL then refuses it, so the mapping may be lossy but never
// silently wider.
func getObjectInput(req SignRequest) *s3.GetObjectInput {
	in := &s3.GetObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)}
	for k, vs := range req.Query {
		if set := inputParams[k]; set != nil && len(vs) == 1 {
			set(in, vs[0])
		}
	}
	for k, vs := range req.Header {
		if set := inputHeaders[http.CanonicalHeaderKey(k)]; set != nil && len(vs) == 1 {
			set(in, vs[0])
		}
	}
	return in
}

// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
var inputParams = map[string]func(*s3.GetObjectInput, string){
	"versionId":                    func(in *s3.GetObjectInput, v string) { in.VersionId = aws.String(v) },
	"partNumber":                   setPartNumber,
	"response-cache-control":       func(in *s3.GetObjectInput, v string) { in.ResponseCacheControl = aws.String(v) },
	"response-content-disposition": func(in *s3.GetObjectInput, v string) { in.ResponseContentDisposition = aws.String(v) },
	"response-content-encoding":    func(in *s3.GetObjectInput, v string) { in.ResponseContentEncoding = aws.String(v) },
	"response-content-language":    func(in *s3.GetObjectInput, v string) { in.ResponseContentLanguage = aws.String(v) },
	"response-content-type":        func(in *s3.GetObjectInput, v string) { in.ResponseContentType = aws.String(v) },
	"response-expires":             setTime(func(in *s3.GetObjectInput, t time.Time) { in.ResponseExpires = aws.Time(t) }),
}

var inputHeaders = map[string]func(*s3.GetObjectInput, string){
	"Range":               func(in *s3.GetObjectInput, v string) { in.Range = aws.String(v) },
	"If-Match":            func(in *s3.GetObjectInput, v string) { in.IfMatch = aws.String(v) },
	"If-None-Match":       func(in *s3.GetObjectInput, v string) { in.IfNoneMatch = aws.String(v) },
	"If-Modified-Since":   setTime(func(in *s3.GetObjectInput, t time.Time) { in.IfModifiedSince = aws.Time(t) }),
	"If-Unmodified-Since": setTime(func(in *s3.GetObjectInput, t time.Time) { in.IfUnmodifiedSince = aws.Time(t) }),
	"X-Amz-Server-Side-Encryption-Customer-Algorithm": func(in *s3.GetObjectInput, v string) { in.SSECustomerAlgorithm = aws.String(v) },
	"X-Amz-Server-Side-Encryption-Customer-Key":       func(in *s3.GetObjectInput, v string) { in.SSECustomerKey = aws.String(v) },
	"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   func(in *s3.GetObjectInput, v string) { in.SSECustomerKeyMD5 = aws.String(v) },
	"X-Amz-Checksum-Mode":                             func(in *s3.GetObjectInput, v string) { in.ChecksumMode = types.ChecksumMode(v) },
	"X-Amz-Request-Payer":                             func(in *s3.GetObjectInput, v string) { in.RequestPayer = types.RequestPayer(v) },
	"X-Amz-Expected-Bucket-Owner":                     func(in *s3.GetObjectInput, v string) { in.ExpectedBucketOwner = aws.String(v) },
}

func setPartNumber(in *s3.GetObjectInput, v string) {
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 && strconv.FormatInt(n, 10) == v {
		in.PartNumber = aws.Int32(int32(n))
	}
}

func setTime(set func(*s3.GetObjectInput, time.Time)) func(*s3.GetObjectInput, string) {
	return func(in *s3.GetObjectInput, v string) {
		if t, err := http.ParseTime(v); err == nil {
			set(in, t)
		}
	}
}
