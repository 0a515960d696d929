package proxy

import (
	"net/http"

	"github.com/mediaisolation/s3proxy/pkg/routes"
)

// The proxy serves whatever the bucket holds from the studio's own host,
// which is same-site with the studio's other applications. A host-only
// presigned PUT can store an object as text/html or image/svg+xml, since the
// signature does not cover Content-Type; opened at the proxy's URL, such a
// document would run its script as the proxy's origin. So every answer from
// that origin carries no-sniff and a sandbox that gives any document
// navigated to an opaque origin with scripts, forms and plugins off. The
// sandbox binds only documents: an object embedded with <img> or <video>, or
// read with fetch, is unaffected.
//
// The values are routes.ResponseHeaders, the HTTPS listener's
// response-header modification, so that the answers the load balancer
// forwards without the function (/_direct and the upload passthrough) carry
// exactly what the function's own answers carry.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/header-modification.html

// SetOriginHeaders sets the headers every answer from the proxy's origin
// carries, replacing any S3 sent.
func SetOriginHeaders(h http.Header) {
	for _, rh := range routes.ResponseHeaders {
		h.Set(rh.Name, rh.Value)
	}
}
