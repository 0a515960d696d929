package locals3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Options configures a Server.
type Options struct {
	// AccessKeyID and SecretAccessKey are the only credentials accepted.
	// Both are required; GenerateCredentials makes a fresh pair.
	AccessKeyID, SecretAccessKey string
	// Region must appear in every credential scope, as on S3 where a
	// bucket lives in exactly one region. Default "us-east-1".
	Region string
	// Buckets are created by New, so the demo has somewhere to write.
	Buckets []string
	// VirtualHostSuffix makes Host "<bucket>.<suffix>" (any port ignored)
	// address <bucket>, so URLs signed for real S3 hosts also work here.
	// Default "s3.amazonaws.com".
	VirtualHostSuffix string
	// CORSOrigins is the AllowedOrigin list of the one CORS rule applied to
	// every bucket; an entry may be "*" or contain one "*" wildcard. nil
	// means no CORS configuration: preflights get 403, as on a bucket
	// without one.
	CORSOrigins []string
	// Now is the server's clock for expiry and skew checks; tests inject
	// one to exercise expired and future-dated requests. Default time.Now.
	Now func() time.Time
}

// Server is an in-memory S3 endpoint with SigV4 authentication. It is an
// http.Handler, so callers choose the listener (and TLS, if any).
type Server struct {
	accessKeyID string
	secret      string
	region      string
	vhostSuffix string
	corsOrigins []string
	now         func() time.Time

	backend *s3mem.Backend
	fake    http.Handler
}

// New validates o and creates the server and its buckets.
func New(o Options) (*Server, error) {
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("locals3: AccessKeyID and SecretAccessKey are required")
	}
	if strings.ContainsAny(o.AccessKeyID, "/ ,=") {
		return nil, errors.New("locals3: AccessKeyID must not contain '/', ',', '=' or spaces")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if strings.Contains(o.Region, "/") {
		return nil, errors.New("locals3: Region must not contain '/'")
	}
	if o.VirtualHostSuffix == "" {
		o.VirtualHostSuffix = "s3.amazonaws.com"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, origin := range o.CORSOrigins {
		if origin == "" || strings.Count(origin, "*") > 1 {
			return nil, fmt.Errorf("locals3: CORS origin %q must be non-empty with at most one '*'", origin)
		}
	}
	s := &Server{
		accessKeyID: o.AccessKeyID,
		secret:      o.SecretAccessKey,
		region:      o.Region,
		vhostSuffix: strings.ToLower(strings.Trim(o.VirtualHostSuffix, ".")),
		now:         o.Now,
	}
	if o.CORSOrigins != nil {
		s.corsOrigins = append([]string{}, o.CORSOrigins...)
	}
	ts := timeSource{o.Now}
	s.backend = s3mem.New(s3mem.WithTimeSource(ts))
	s.fake = gofakes3.New(s.backend,
		gofakes3.WithTimeSource(ts),
		gofakes3.WithTimeSkewLimit(0), // skew is checked here, against the signed date
	).Server()
	for _, b := range o.Buckets {
		if err := gofakes3.ValidateBucketName(b); err != nil {
			return nil, fmt.Errorf("locals3: bucket %q: %w", b, err)
		}
		if ok, _ := s.backend.BucketExists(b); ok {
			continue
		}
		if err := s.backend.CreateBucket(b); err != nil {
			return nil, fmt.Errorf("locals3: bucket %q: %w", b, err)
		}
	}
	return s, nil
}

// timeSource adapts Options.Now to gofakes3, so Last-Modified and upload
// times follow the same clock as the signature checks.
type timeSource struct{ now func() time.Time }

func (t timeSource) Now() time.Time                   { return t.now() }
func (t timeSource) Since(at time.Time) time.Duration { return t.now().Sub(at) }

// PutObject stores an object directly, bypassing HTTP and authentication,
// so `serve` can seed demo content before any client exists.
func (s *Server) PutObject(ctx context.Context, bucket, key string, body []byte, contentType string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" || len(key) > gofakes3.KeySizeLimit {
		return fmt.Errorf("locals3: object key must be 1 to %d bytes", gofakes3.KeySizeLimit)
	}
	if contentType == "" {
		contentType = "binary/octet-stream" // what S3 stores when none is given
	}
	meta := map[string]string{
		"Content-Type":  contentType,
		"Last-Modified": s.now().UTC().Format(http.TimeFormat),
	}
	if _, err := s.backend.PutObject(bucket, key, meta, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		return fmt.Errorf("locals3: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// GenerateCredentials returns a fresh random key pair shaped like AWS's
// (AKIA + 16 base32 characters, 40-character base64 secret), so the demo
// never ships a fixed secret and tools that sniff key formats accept it.
func GenerateCredentials() (accessKeyID, secret string, err error) {
	var kb [10]byte
	var sb [30]byte
	if _, err := rand.Read(kb[:]); err != nil {
		return "", "", fmt.Errorf("locals3: generate credentials: %w", err)
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return "", "", fmt.Errorf("locals3: generate credentials: %w", err)
	}
	return "AKIA" + base32.StdEncoding.EncodeToString(kb[:]), base64.StdEncoding.EncodeToString(sb[:]), nil
}

// ServeHTTP answers CORS preflights without authentication (as S3 does),
// verifies the signature of everything else against the request exactly as
// received, and only then hands a path-style copy of the request to
// gofakes3.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	if r.Method == http.MethodOptions {
		s.preflight(w, r, reqID)
		return
	}
	cw := &corsWriter{ResponseWriter: w}
	if origin := r.Header.Get("Origin"); origin != "" {
		cw.allowOrigin, _ = s.matchOrigin(origin)
	}
	info, e := s.authenticate(r)
	if e != nil {
		writeError(cw, r, reqID, e)
		cw.finish()
		return
	}
	fwd := r.Clone(r.Context())
	if e := preparePayload(fwd, info.payloadHash); e != nil {
		writeError(cw, r, reqID, e)
		cw.finish()
		return
	}
	s.rewrite(fwd)
	s.fake.ServeHTTP(cw, fwd)
	cw.finish()
}

// strippedHeaders are authentication and transfer headers. gofakes3 stores
// every X-Amz-* request header as object metadata and replays it on GET,
// so they must not reach it.
var strippedHeaders = []string{
	"Authorization",
	"X-Amz-Date",
	"X-Amz-Content-Sha256",
	"X-Amz-Security-Token",
	"X-Amz-Decoded-Content-Length",
	"X-Amz-Trailer",
	"X-Amz-Sdk-Checksum-Algorithm",
	"X-Amz-User-Agent",
}

// rewrite turns the authenticated request into what gofakes3 understands:
// path-style addressing and no authentication or checksum headers (the
// checksums have been verified; S3 only returns them on request, gofakes3
// would return them always and break ranged reads).
func (s *Server) rewrite(r *http.Request) {
	for _, h := range strippedHeaders {
		r.Header.Del(h)
	}
	for k := range r.Header {
		if strings.HasPrefix(k, "X-Amz-Checksum-") {
			r.Header.Del(k)
		}
	}
	if ce := r.Header.Values("Content-Encoding"); len(ce) > 0 {
		var keep []string
		for _, v := range ce {
			for _, tok := range strings.Split(v, ",") {
				if tok = strings.TrimSpace(tok); tok != "" && !strings.EqualFold(tok, "aws-chunked") {
					keep = append(keep, tok)
				}
			}
		}
		r.Header.Del("Content-Encoding")
		if len(keep) > 0 {
			r.Header.Set("Content-Encoding", strings.Join(keep, ","))
		}
	}
	if (r.Method == http.MethodPut || r.Method == http.MethodPost) &&
		r.Header.Get("Content-Type") == "" && r.Header.Get("X-Amz-Copy-Source") == "" {
		r.Header.Set("Content-Type", "binary/octet-stream")
	}
	if bucket := s.hostBucket(r.Host); bucket != "" {
		u := *r.URL
		if u.Path == "" || u.Path == "/" {
			u.Path = "/" + bucket
		} else {
			u.Path = "/" + bucket + u.Path
		}
		u.RawPath = ""
		r.URL = &u
	}
}

// hostBucket returns the bucket named by a virtual-hosted Host, or "" for
// path-style requests.
func (s *Server) hostBucket(host string) string {
	host = strings.ToLower(stripPort(host))
	bucket, ok := strings.CutSuffix(host, "."+s.vhostSuffix)
	if !ok || bucket == "" {
		return ""
	}
	return bucket
}

func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			return host[:i+1]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.Count(host, ":") == 1 {
		return host[:i]
	}
	return host
}
