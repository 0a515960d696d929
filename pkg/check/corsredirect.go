package check

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// StepCORSRedirect follows a large read's 307 as a browser on the ShotGrid
// site does and asserts S3's CORS answer on the redirected GET.
const StepCORSRedirect = "cors-redirect"

// browserOrigin is the Origin a browser sends on the request that follows
// a redirect from proxy to target, for a page on origin. Fetch taints the
// origin when a request that is already cross-origin is redirected to yet
// another origin: the next request carries "Origin: null". A redirect back
// to the proxy's own origin (RedirectVia=proxy, /_direct/…) keeps it.
// https://fetch.spec.whatwg.org/#http-redirect-fetch (step "tainted origin")
func browserOrigin(origin string, proxy, target *url.URL) string {
	if sameOrigin(proxy, target) {
		return origin
	}
	return "null"
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// corsRedirect: the large object's 307, followed with the Origin a browser
// would send, must get an Access-Control-Allow-Origin that lets the page
// read the bytes.
func (r *runner) corsRedirect(ctx context.Context) stepreport.Result {
	if r.o.Origin == "" {
		return stepreport.Skipped("", "no origin given")
	}
	if !r.largeFollowed {
		return stepreport.Skipped("", "get-large's redirect did not pass")
	}
	u, err := r.through(func() (string, error) { return r.signer.Get(ctx, r.largeKey, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, http.Header{"Origin": {r.o.Origin}}, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if resp.status != http.StatusTemporaryRedirect {
		return stepreport.Failed(largeStatusHint(resp.status, resp.code()), "GET with Origin %s answered %s, not 307", r.o.Origin, resp.describe())
	}
	loc := resp.header.Get("Location")
	target, err := url.Parse(loc)
	if err != nil || !target.IsAbs() {
		return stepreport.Failed(locationHint, "307 with Location %q, not an absolute URL", Redact(loc))
	}
	proxy, err := url.Parse(r.o.URL)
	if err != nil {
		return stepreport.Failed(locationHint, "the proxy URL does not parse: %v", err)
	}
	sent := browserOrigin(r.o.Origin, proxy, target)
	got, err := r.do(ctx, r.stop, http.MethodGet, loc, http.Header{"Origin": {sent}}, nil)
	if err != nil {
		return stepreport.Failed(redirectNetHint(err, target.Host), "following the 307: %v", err)
	}
	if got.status != http.StatusOK {
		return stepreport.Failed(followHint(got.status, got.code(), got.body, target), "following the 307 with Origin %s: %s", sent, got.describe())
	}
	acao := got.header.Get("Access-Control-Allow-Origin")
	if acao != sent && acao != "*" {
		return stepreport.Failed(corsRedirectHint(sent, r.o.Origin), "the 307 to %s, followed with Origin %s, got Access-Control-Allow-Origin %q", target.Host, sent, acao)
	}
	return stepreport.Passed("307 to %s followed with Origin %s: Access-Control-Allow-Origin %s", target.Host, sent, acao)
}

// corsRedirectHint names the fix for a redirected read S3 did not allow.
func corsRedirectHint(sent, origin string) string {
	if sent == "null" {
		return "after the cross-origin 307 to the endpoint (RedirectVia=endpoint) browsers send Origin: null, which the bucket's CORS rules " +
			"do not allow, so web playback of large media fails: add the GET/HEAD rule for * of docs/cors.md to the bucket's CORS configuration, or set RedirectVia=proxy"
	}
	return fmt.Sprintf("the bucket's CORS rules do not allow GET from %s on the redirected read: add it to the bucket's CORS configuration (docs/cors.md)", origin)
}
