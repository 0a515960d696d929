package proxy

import "net/http"

// The proxy serves whatever the bucket holds from the studio's own host,
// which is same-site with the studio's other applications. A host-only
// presigned PUT can store an object as text/html or image/svg+xml, since the
// signature does not cover Content-Type; opened at the proxy's URL, such a
// document would run its script as the proxy's origin. So every answer from
// that origin carries these two headers: no content sniffing, and a sandbox
// that gives any document navigated to an opaque origin with scripts, forms
// and plugins off. The sandbox binds only documents: an object embedded with
// <img> or <video>, or read with fetch, is unaffected.
//
// The function sets them on its own answers (respond). The answers the
// load balancer forwards without the function (/_direct and the upload
// passthrough) get the same values from the listener's response-header
// modification, which supports exactly these two headers among others:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/header-modification.html
const (
	// ContentTypeOptions is X-Content-Type-Options.
	ContentTypeOptions = "nosniff"
	// ContentSecurityPolicy is Content-Security-Policy: a sandbox with
	// no allowances.
	ContentSecurityPolicy = "sandbox"
)

// SetOriginHeaders sets the headers every answer from the proxy's origin
// carries, replacing any S3 sent.
func SetOriginHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", ContentTypeOptions)
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
}
