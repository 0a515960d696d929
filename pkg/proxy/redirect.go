package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/routes"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// Presigner mints GET URLs; *s3.PresignClient satisfies it as it is.
type Presigner interface {
	PresignGetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

var _ Presigner = (*s3.PresignClient)(nil)

// credentialMargin keeps a minted URL from outliving the credentials that
// signed it: S3 refuses it the moment the session token expires.
const credentialMargin = time.Minute

// NewPresigner returns the presign client for redirects: path-style against
// the VPC endpoint (one host, covered by the endpoint's certificate), and with
// checksum behaviour pinned to "when required" so no checksum header ever
// becomes part of the signature a plain URL must satisfy.
func NewPresigner(awsCfg aws.Config, cfg *config.Config) *s3.PresignClient {
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(cfg.EndpointURL.String())
		o.UsePathStyle = true
		o.Region = cfg.Region
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return s3.NewPresignClient(client)
}

// redirect answers 307 to a URL minted for the same object. The upstream
// body is closed unread by the caller's deferred Close: no media byte beyond
// the probe passes through the function.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, o *outcome, resp *http.Response, sr *signedRequest) {
	o.decision = Redirect
	if h.presigner == nil || h.cfg.EndpointURL == nil {
		h.fail(w, r, o, s3error.ErrNoRedirect)
		return
	}
	ttl, err := h.redirectTTL(r.Context(), sr)
	if err != nil {
		h.fail(w, r, o, err)
		return
	}
	minted, err := h.presigner.PresignGetObject(r.Context(), getObjectInput(h.cfg.Bucket, sr), s3.WithPresignExpires(ttl))
	if err != nil {
		h.log.ErrorContext(r.Context(), "presign failed", "key", sr.key, "error", err.Error())
		h.fail(w, r, o, s3error.ErrInternal)
		return
	}
	if !signsHostOnly(minted.URL) {
		// An SDK regression that signs extra headers would hand clients URLs
		// they cannot use; refuse loudly instead.
		h.log.ErrorContext(r.Context(), "minted URL signs more than host; refusing to redirect", "key", sr.key)
		h.fail(w, r, o, s3error.ErrInternal)
		return
	}
	loc := minted.URL
	if h.cfg.RedirectVia == config.ViaProxy {
		loc = h.viaProxy(r, minted.URL)
	}
	hdr := w.Header()
	hdr.Set("Location", loc)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", "0")
	if !h.corsConfigured() {
		// Pass on the bucket's own CORS answer to the probe, so a browser's
		// CORS check of the redirect itself succeeds exactly when S3's would.
		for k, vs := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
				hdr[k] = vs
			}
		}
	}
	h.setCORS(w, r)
	w.WriteHeader(http.StatusTemporaryRedirect)
	o.status = http.StatusTemporaryRedirect
}

// redirectTTL is min(the client URL's remaining life, S3PROXY_REDIRECT_TTL,
// the signing credentials' remaining life less a margin), in whole seconds.
func (h *Handler) redirectTTL(ctx context.Context, sr *signedRequest) (time.Duration, error) {
	now := h.now()
	ttl := min(sr.auth.Remaining(now), h.cfg.RedirectTTL)
	if h.creds != nil {
		c, err := h.creds.Retrieve(ctx)
		if err != nil {
			return 0, s3error.ErrCredentials
		}
		if c.CanExpire {
			left := c.Expires.Sub(now) - credentialMargin
			if left < time.Second {
				return 0, s3error.ErrCredentials
			}
			ttl = min(ttl, left)
		}
	}
	ttl = ttl.Truncate(time.Second)
	if ttl < time.Second {
		return 0, s3error.ErrExpired
	}
	return ttl, nil
}

// getObjectInput carries over what selects the bytes and shapes the
// response: the key, the version, the part, and every response-* override.
func getObjectInput(bucket string, sr *signedRequest) *s3.GetObjectInput {
	q := sr.query
	opt := func(k string) *string {
		if v, ok := q[k]; ok && len(v) > 0 {
			return aws.String(v[0])
		}
		return nil
	}
	in := &s3.GetObjectInput{
		Bucket:                     aws.String(bucket),
		Key:                        aws.String(sr.key),
		VersionId:                  opt("versionId"),
		ResponseCacheControl:       opt("response-cache-control"),
		ResponseContentDisposition: opt("response-content-disposition"),
		ResponseContentEncoding:    opt("response-content-encoding"),
		ResponseContentLanguage:    opt("response-content-language"),
		ResponseContentType:        opt("response-content-type"),
	}
	if v := opt("response-expires"); v != nil {
		if t, err := http.ParseTime(*v); err == nil {
			in.ResponseExpires = aws.Time(t)
		}
	}
	if v := opt("partNumber"); v != nil {
		if n, err := strconv.ParseInt(*v, 10, 32); err == nil && n > 0 {
			in.PartNumber = aws.Int32(int32(n))
		}
	}
	return in
}

// signsHostOnly checks a minted URL's X-Amz-SignedHeaders.
func signsHostOnly(minted string) bool {
	u, err := url.Parse(minted)
	if err != nil {
		return false
	}
	return u.Query().Get("X-Amz-SignedHeaders") == "host"
}

// viaProxy rewrites a minted URL to travel through the proxy host's /_direct
// route. The signature still names the endpoint host, which the ALB rule
// restores before the request reaches S3.
func (h *Handler) viaProxy(r *http.Request, minted string) string {
	rest := strings.TrimPrefix(minted, h.cfg.EndpointURL.Scheme+"://"+h.cfg.EndpointURL.Host)
	scheme := "http"
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	} else if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + routes.DirectPrefix + rest
}
