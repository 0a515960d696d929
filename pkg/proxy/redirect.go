package proxy

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/routes"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// credentialMargin keeps a minted URL from outliving the credentials that
// signed it: S3 refuses it the moment the session token expires.
const credentialMargin = time.Minute

// redirect answers 307 to a URL minted for exactly what the client's URL
// granted (see grant.go). The upstream body is closed unread by finish: no
// media byte beyond the probe passes through the function.
func (x *exchange) redirect() {
	h := x.h
	x.o.decision = Redirect
	loc, err := x.mint()
	if err != nil {
		x.fail(err)
		return
	}
	if h.cfg.RedirectVia == config.ViaProxy {
		loc = h.viaProxy(loc)
	}
	hdr := x.w.Header()
	hdr.Set("Location", loc)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", "0")
	if !h.corsConfigured() {
		// Pass on the bucket's own CORS answer to the probe, so a browser's
		// CORS check of the redirect itself succeeds exactly when S3's would.
		for k, vs := range x.resp.Header {
			if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
				hdr[k] = vs
			}
		}
	}
	x.respond(http.StatusTemporaryRedirect, nil)
}

// redirectTTL is min(the client URL's remaining life, S3PROXY_REDIRECT_TTL,
// the signing credentials' remaining life less a margin), in whole seconds.
func (h *Handler) redirectTTL(ctx context.Context, sr *signedRequest, now time.Time) (time.Duration, error) {
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

// viaProxy rewrites a minted URL to travel through the proxy's /_direct
// route. The signature still names the endpoint host, which the ALB rule
// restores before the request reaches S3. The proxy's own name comes from
// configuration (S3PROXY_PUBLIC_URL), never from the request's Host header,
// which the client chooses.
func (h *Handler) viaProxy(minted string) string {
	rest := strings.TrimPrefix(minted, h.cfg.EndpointURL.Scheme+"://"+h.cfg.EndpointURL.Host)
	return strings.TrimSuffix(h.cfg.PublicURL.String(), "/") + routes.DirectPrefix + rest
}
