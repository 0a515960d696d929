package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// rawTarget returns the request's path and query exactly as the client sent
// them. The client's signature covers their encoding byte for byte, so
// nothing here may decode and re-encode them.
func rawTarget(r *http.Request) (path, query string) {
	if uri := r.RequestURI; uri != "" && !strings.HasPrefix(uri, "http") {
		path, query, _ = strings.Cut(uri, "?")
		return path, query
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

// objectKey finds the S3 key in a raw request path. With a virtual-hosted
// signed host the path is the key; with a path-style one it is
// /<bucket>/<key>. Keys are taken literally, as S3 takes them: "a/../b" and
// "a//b" are keys in their own right, not paths to normalise.
func objectKey(rawPath, bucket string, virtualHosted bool) (string, error) {
	if !strings.HasPrefix(rawPath, "/") || !validRawPath(rawPath) {
		return "", s3error.ErrBadURI
	}
	p, err := url.PathUnescape(rawPath)
	if err != nil || !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return "", s3error.ErrBadURI
	}
	key := p[1:]
	if !virtualHosted {
		b, rest, ok := strings.Cut(key, "/")
		if b != bucket {
			return "", s3error.ErrWrongBucket
		}
		if !ok {
			return "", s3error.ErrKeyNotAllowed
		}
		key = rest
	}
	if key == "" || len(key) > 1024 {
		return "", s3error.ErrKeyNotAllowed
	}
	return key, nil
}

// validRawPath accepts only what may appear in an HTTP request target's path
// (RFC 3986 pchar and '/'); anything else cannot have come from a real client
// and could not be forwarded faithfully.
func validRawPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0:
		default:
			return false
		}
	}
	return true
}
