// Package s3error is the one place where the proxy decides what status and
// S3-style XML error a failure becomes. Clients (shotgun_api3, boto3, browsers)
// already understand S3's error shape, so the proxy speaks it too, and never
// puts internal details (addresses, Go errors, credentials) in a body.
package s3error

import (
	"context"
	"encoding/xml"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Error is a client-facing S3-style error.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errors the proxy answers itself. Their messages are fixed text so nothing
// from the request or the environment can leak through them.
var (
	ErrMissingAuth   = &Error{http.StatusForbidden, "AccessDenied", "Query-string authentication is required."}
	ErrMalformedAuth = &Error{http.StatusForbidden, "AccessDenied", "The query-string authentication parameters are malformed."}
	ErrExpired       = &Error{http.StatusForbidden, "AccessDenied", "Request has expired."}
	ErrNotYetValid   = &Error{http.StatusForbidden, "AccessDenied", "Request is not valid yet."}
	ErrWrongRegion   = &Error{http.StatusForbidden, "AccessDenied", "The credential scope names a region this proxy does not serve."}
	ErrKeyNotAllowed = &Error{http.StatusForbidden, "AccessDenied", "Access to this key is not allowed through this proxy."}
	ErrWrongBucket   = &Error{http.StatusForbidden, "AccessDenied", "Access to this bucket is not allowed through this proxy."}
	ErrBadURI        = &Error{http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."}
	ErrCORSDenied    = &Error{http.StatusForbidden, "AccessForbidden", "CORSResponse: This CORS request is not allowed."}
	ErrCORSMissing   = &Error{http.StatusBadRequest, "BadRequest", "Insufficient information. Origin request header needed."}
	ErrUnavailable   = &Error{http.StatusServiceUnavailable, "ServiceUnavailable", "The storage service could not be reached in time. Please retry."}
	ErrNoRedirect    = &Error{http.StatusBadGateway, "InternalError", "The object is too large to answer inline and redirects are not configured (S3PROXY_ENDPOINT_URL)."}
	ErrTooLarge      = &Error{http.StatusBadGateway, "InternalError", "The response exceeds the load balancer's 1 MB limit for Lambda targets."}
	// ErrNotMintable answers a request S3 accepted whose answer is too large
	// to return inline, when no redirect can grant exactly what the client's
	// URL did: a subresource (tagging, acl, …) or a signed header a minted URL
	// cannot carry. 501 is S3's own status for functionality it does not
	// implement, and no ShotGrid client retries it.
	ErrNotMintable = &Error{http.StatusNotImplemented, "NotImplemented", "The answer is larger than this proxy returns inline, and a redirect would grant more than the request's signature does: only a plain GetObject, whose signed headers a GetObject URL can carry, is redirected."}
	// ErrReadOnly answers a write to a read-only proxy.
	ErrReadOnly         = &Error{http.StatusForbidden, "AccessDenied", "This proxy is read-only: it passes no writes to the bucket."}
	ErrDirectOnly       = &Error{http.StatusForbidden, "AccessDenied", "This path carries only reads of this bucket's objects under the allowed key prefixes."}
	ErrObjectWritesOnly = &Error{http.StatusForbidden, "AccessDenied", "This proxy carries only object writes: PutObject, the multipart upload calls and DeleteObject."}
	ErrObjectChanged    = &Error{http.StatusServiceUnavailable, "ServiceUnavailable", "The object changed while it was being read. Please retry."}
	ErrCredentials      = &Error{http.StatusServiceUnavailable, "ServiceUnavailable", "The proxy's credentials are unavailable or about to expire. Please retry."}
	ErrInternal         = &Error{http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."}
	ErrBadRequest       = &Error{http.StatusBadRequest, "BadRequest", "The request could not be understood."}
	ErrMethodNotAllowed = &Error{http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource."}
)

// AllowedMethods is the Allow header sent with ErrMethodNotAllowed.
const AllowedMethods = "GET, HEAD, PUT, POST, DELETE, OPTIONS"

// Classify maps any failure to the error a client sees. Upstream transport
// failures and deadlines become 503, S3's own status for "try again later".
// shotgun_api3 does not retry a download, which is why the proxy retries a
// read itself before it answers this. Context cancellation by the client is
// reported the same way, though nobody reads it.
func Classify(err error) *Error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ErrUnavailable
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &netErr) || errors.As(err, &opErr) || errors.Is(err, errUpstream) {
		return ErrUnavailable
	}
	return ErrInternal
}

var errUpstream = errors.New("upstream failure")

// Upstream marks err as a failure to talk to S3, so Classify answers 503.
func Upstream(err error) error {
	if err == nil {
		return nil
	}
	return errors.Join(errUpstream, err)
}

type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId,omitempty"`
}

// Body renders e as S3 renders its errors.
func (e *Error) Body(requestID string) []byte {
	b, _ := xml.Marshal(xmlError{Code: e.Code, Message: e.Message, RequestID: requestID})
	return append([]byte(xml.Header), b...)
}

// Render sets the headers of err's answer on h and returns the error and
// its S3 XML body, for a caller that writes the answer itself.
func Render(h http.Header, err error, requestID string) (*Error, []byte) {
	e := Classify(err)
	body := e.Body(requestID)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if requestID != "" {
		h.Set("X-Amz-Request-Id", requestID)
	}
	if e.Status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		h.Set("Allow", AllowedMethods)
	}
	return e, body
}

// Write sends err to the client as an S3 XML error. HEAD responses carry no
// body, as S3's don't.
func Write(w http.ResponseWriter, r *http.Request, err error, requestID string) *Error {
	e, body := Render(w.Header(), err, requestID)
	w.WriteHeader(e.Status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return e
}

var (
	codeElem    = regexp.MustCompile(`<Code>([A-Za-z0-9.]{1,64})</Code>`)
	messageElem = regexp.MustCompile(`<Message>([ -;=?-~]{1,256})</Message>`)
)

// Cut is S3's own error, whose body is too large to pass on whole: the
// status and code stay S3's, so a client sees the refusal S3 made and never
// a server fault it might retry; the body is rebuilt around them. Only a
// code and a short plain message are taken from S3's body: the rest (string
// to sign, canonical request) is no business of the client's.
func Cut(status int, partial []byte) *Error {
	e := &Error{Status: status, Code: fallbackCode(status), Message: "The storage service refused the request; its full answer was too large to return through this proxy."}
	if m := codeElem.FindSubmatch(partial); m != nil {
		e.Code = string(m[1])
	}
	if m := messageElem.FindSubmatch(partial); m != nil {
		e.Message = string(m[1])
	}
	return e
}

func fallbackCode(status int) string {
	switch status {
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusNotFound:
		return "NoSuchKey"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	if status >= 500 {
		return "InternalError"
	}
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}
