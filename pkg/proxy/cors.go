package proxy

import (
	"net/http"
	"strings"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// exposeHeaders lets browser code read what ShotGrid's uploader needs (ETag
// of each part) and what media players look at.
const exposeHeaders = "ETag, Content-Range, Accept-Ranges, Content-Disposition, x-amz-version-id, x-amz-request-id"

const corsMethods = "GET, HEAD, PUT, POST, DELETE"

func (h *Handler) corsConfigured() bool { return len(h.cfg.AllowedOrigins) > 0 }

// setCORS adds the actual-response CORS headers when the proxy answers CORS
// itself and the request's origin is allowed. Without configured origins the
// bucket's own CORS answer (from S3's response) is passed on instead.
//
// S3 answers a successful CORS evaluation for a named (not '*') origin with
// Access-Control-Allow-Credentials: true, and the proxy only ever names
// exact origins, so it always does the same (here and in options); a page's
// fetch with credentials: 'include' then works as it does against S3.
// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html
func (h *Handler) setCORS(w http.ResponseWriter, r *http.Request) {
	if !h.corsConfigured() {
		return
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !h.cfg.AllowsOrigin(origin) {
		return
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Set("Access-Control-Allow-Credentials", "true")
	hdr.Set("Access-Control-Expose-Headers", exposeHeaders)
}

// options answers a CORS preflight itself when origins are configured, and
// otherwise forwards it so the bucket's CORS rules answer, as nginx did. A
// preflight is never redirected: browsers refuse that.
func (x *exchange) options() {
	x.o.decision = Preflight
	h, r := x.h, x.r
	if !h.corsConfigured() {
		key, err := h.keyOnly(r)
		x.o.key = key
		if err != nil {
			x.fail(err)
			return
		}
		x.forward()
		return
	}
	hdr := x.w.Header()
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		x.fail(s3error.ErrCORSMissing)
		return
	}
	x.ownCORS = true
	hdr.Set("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	reqHeaders := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ",")
	if !h.cfg.AllowsOrigin(origin) || !corsMethod(method) || !headerList(reqHeaders) {
		x.fail(s3error.ErrCORSDenied)
		return
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Set("Access-Control-Allow-Credentials", "true")
	hdr.Set("Access-Control-Allow-Methods", corsMethods)
	if reqHeaders != "" {
		hdr.Set("Access-Control-Allow-Headers", reqHeaders)
	}
	hdr.Set("Access-Control-Expose-Headers", exposeHeaders)
	hdr.Set("Access-Control-Max-Age", "3000")
	hdr.Set("Content-Length", "0")
	x.respond(http.StatusOK, nil)
}

// keyOnly checks the path of a forwarded preflight: preflights carry no
// signature, but they must still name an object this proxy serves.
func (h *Handler) keyOnly(r *http.Request) (string, error) {
	rawPath, _ := rawTarget(r)
	key, err := objectKey(rawPath, h.cfg.Bucket, h.cfg.VirtualHosted)
	if err != nil {
		return "", err
	}
	if !h.servesKey(key) {
		return key, s3error.ErrKeyNotAllowed
	}
	return key, nil
}

// headerList accepts a comma-separated list of header names and nothing
// else, so nothing hostile is echoed back.
func headerList(v string) bool {
	if len(v) > 2048 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == ',' || c == ' ' || c == '.':
		default:
			return false
		}
	}
	return true
}

func corsMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete:
		return true
	}
	return false
}
