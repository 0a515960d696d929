package proxy

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// Doer sends one HTTP request; *http.Client satisfies it.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// NewUpstreamClient returns the client for S3. It never follows S3's
// redirects (the client must see them), never asks for compression (Go would
// silently decompress and change the bytes and lengths clients see), and
// ignores proxy environment variables, which have no place on this path.
func NewUpstreamClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DisableCompression:    true,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       60 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 25 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// hopByHop headers belong to one connection and are never forwarded
// (RFC 9110 §7.6.1), nor are those the ALB adds for the target.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Content-Length": true, "Expect": true, "Accept-Encoding": true,
	"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Port": true, "X-Amzn-Trace-Id": true,
}

// upstreamRequest rebuilds the client's request for S3: same method, raw
// path and raw query, Host set to the host the client's URL was signed for.
func (h *Handler) upstreamRequest(ctx context.Context, r *http.Request, body io.Reader, length int64) (*http.Request, error) {
	rawPath, rawQuery := rawTarget(r)
	u := *h.cfg.UpstreamURL
	u.RawQuery = rawQuery
	u.Path, u.RawPath = rawPath, rawPath
	if p, err := url.PathUnescape(rawPath); err == nil {
		u.Path = p
	}
	if u.EscapedPath() != rawPath {
		// net/url would re-encode this form; send it verbatim instead.
		u.Opaque = rawPath
		if strings.HasPrefix(rawPath, "//") {
			u.Opaque = "//" + u.Host + rawPath
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return nil, s3error.ErrBadURI
	}
	req.URL = &u
	req.Host = h.cfg.SignedHost
	for k, vs := range r.Header {
		if hopByHop[k] || (h.corsConfigured() && strings.HasPrefix(k, "Origin")) {
			continue
		}
		req.Header[k] = append([]string(nil), vs...)
	}
	if body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	return req, nil
}

// upstreamContext bounds the S3 call by the invocation's own deadline less a
// margin, so the function answers 503 itself instead of being killed and
// turned into an ALB 502 the client cannot interpret.
func (h *Handler) upstreamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-h.deadlineMargin))
	}
	return context.WithTimeout(ctx, h.defaultTimeout)
}

// copyResponseHeaders copies S3's end-to-end headers. Lengths are set by the
// handler from what it actually returns.
func copyResponseHeaders(dst, src http.Header, dropCORS bool) {
	for k, vs := range src {
		if hopByHop[k] || k == "Date" || k == "Server" {
			continue
		}
		if dropCORS && (strings.HasPrefix(k, "Access-Control-") || k == "Vary") {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}
