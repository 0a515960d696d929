package locals3

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strings"
)

// s3Error is an error answered by this package itself (authentication,
// payload checks, CORS) rather than by gofakes3. Its fields mirror the XML
// body real S3 sends so that SDKs surface the same error codes.
type s3Error struct {
	status  int
	code    string
	message string

	// Optional diagnostics S3 adds to some errors.
	stringToSign     string
	canonicalRequest string
	awsAccessKeyID   string
	expires          string
	serverTime       string
	headersNotSigned string
}

func (e *s3Error) Error() string { return e.code + ": " + e.message }

func newError(status int, code, message string) *s3Error {
	return &s3Error{status: status, code: code, message: message}
}

type errorBody struct {
	XMLName          xml.Name `xml:"Error"`
	Code             string   `xml:"Code"`
	Message          string   `xml:"Message"`
	AWSAccessKeyID   string   `xml:"AWSAccessKeyId,omitempty"`
	StringToSign     string   `xml:"StringToSign,omitempty"`
	CanonicalRequest string   `xml:"CanonicalRequest,omitempty"`
	HeadersNotSigned string   `xml:"HeadersNotSigned,omitempty"`
	Expires          string   `xml:"Expires,omitempty"`
	ServerTime       string   `xml:"ServerTime,omitempty"`
	RequestID        string   `xml:"RequestId"`
	HostID           string   `xml:"HostId"`
}

// writeError sends e as S3 does: an XML body, except for HEAD, where S3 (and
// HTTP) sends none and clients rely on the status code alone.
func writeError(w http.ResponseWriter, r *http.Request, reqID string, e *s3Error) {
	body := errorBody{
		Code:             e.code,
		Message:          e.message,
		AWSAccessKeyID:   e.awsAccessKeyID,
		StringToSign:     e.stringToSign,
		CanonicalRequest: e.canonicalRequest,
		HeadersNotSigned: e.headersNotSigned,
		Expires:          e.expires,
		ServerTime:       e.serverTime,
		RequestID:        reqID,
		HostID:           hostID(reqID),
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("X-Amz-Request-Id", reqID)
	h.Set("X-Amz-Id-2", body.HostID)
	h.Del("Content-Length")
	h.Del("ETag")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	out, err := xml.Marshal(body)
	if err != nil {
		return
	}
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// newRequestID returns an S3-looking request ID. Random rather than a
// counter so IDs from several servers in one test run never collide.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func hostID(reqID string) string {
	return base64.StdEncoding.EncodeToString([]byte(reqID + reqID + reqID))
}
