package locals3

import (
	"bytes"
	"net/http"
	"strings"
)

// S3 CORS rule constants for the single rule this server applies
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html).
const (
	corsAllowedMethods = "GET, PUT, HEAD, POST, DELETE"
	corsExposeHeaders  = "ETag"
	corsMaxAge         = "3000"
	corsVary           = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
)

// matchOrigin returns the Access-Control-Allow-Origin value for origin:
// "*" when a "*" rule matched (S3 then omits credentials), else the origin
// itself.
func (s *Server) matchOrigin(origin string) (string, bool) {
	for _, pattern := range s.corsOrigins {
		if pattern == "*" {
			return "*", true
		}
		if wildcardMatch(pattern, origin) {
			return origin, true
		}
	}
	return "", false
}

// wildcardMatch matches S3 AllowedOrigin patterns, which may hold one '*'.
func wildcardMatch(pattern, s string) bool {
	prefix, suffix, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(prefix)+len(suffix) && strings.HasPrefix(s, prefix) && strings.HasSuffix(s, suffix)
}

func corsMethodAllowed(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete:
		return true
	}
	return false
}

// preflight answers OPTIONS the way S3 does: without authentication, from
// the bucket's CORS rule alone.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, reqID string) {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	switch {
	case origin == "":
		writeError(w, r, reqID, newError(http.StatusBadRequest, "BadRequest", "Insufficient information. Origin request header needed."))
		return
	case method == "":
		writeError(w, r, reqID, newError(http.StatusBadRequest, "BadRequest", "Invalid Access-Control-Request-Method: null"))
		return
	case s.corsOrigins == nil:
		writeError(w, r, reqID, newError(http.StatusForbidden, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket."))
		return
	}
	allow, ok := s.matchOrigin(origin)
	if !ok || !corsMethodAllowed(method) {
		writeError(w, r, reqID, newError(http.StatusForbidden, "AccessForbidden",
			"CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."))
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allow)
	if allow != "*" {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", corsAllowedMethods)
	if reqHeaders := r.Header.Values("Access-Control-Request-Headers"); len(reqHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(reqHeaders, ", ")) // AllowedHeaders "*": echo
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Set("Vary", corsVary)
	h.Set("X-Amz-Request-Id", reqID)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// corsWriter replaces gofakes3's blanket "Access-Control-Allow-Origin: *"
// with the headers the configured rule allows. It holds the status line
// back until the first body bytes so it can also label gofakes3's XML
// bodies application/xml (gofakes3 sets Content-Type only after writing,
// which net/http ignores).
type corsWriter struct {
	http.ResponseWriter
	allowOrigin string // "" when the request's Origin matches no rule
	code        int
	wrote       bool // WriteHeader was called
	sent        bool // the status line went to the client
}

func (w *corsWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote, w.code = true, code
	h := w.ResponseWriter.Header()
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	if w.allowOrigin != "" {
		h.Set("Access-Control-Allow-Origin", w.allowOrigin)
		if w.allowOrigin != "*" {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		h.Add("Vary", corsVary)
	}
}

func (w *corsWriter) send(first []byte) {
	if w.sent {
		return
	}
	w.sent = true
	h := w.ResponseWriter.Header()
	if h.Get("Content-Type") == "" && bytes.HasPrefix(first, []byte("<?xml")) {
		h.Set("Content-Type", "application/xml")
	}
	w.ResponseWriter.WriteHeader(w.code)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.send(b)
	return w.ResponseWriter.Write(b)
}

// finish sends the status line if the handler wrote no body.
func (w *corsWriter) finish() {
	w.WriteHeader(http.StatusOK)
	w.send(nil)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *corsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
