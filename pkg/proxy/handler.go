package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/emf"
	"github.com/mediaisolation/s3proxy/pkg/routes"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// Decision names what the handler did with a request; it is the field to
// group by in the logs.
type Decision string

const (
	Ping      Decision = "ping"
	Preflight Decision = "preflight"
	Inline    Decision = "inline"
	Redirect  Decision = "redirect"
	Relay     Decision = "relay"
	Denied    Decision = "denied"
	Error     Decision = "error"
)

// Deps are the handler's collaborators, built once at cold start.
type Deps struct {
	// Upstream sends forwarded requests to S3PROXY_UPSTREAM_URL.
	Upstream Doer
	// Signer mints redirect URLs; nil when redirects are not configured
	// (a large object is then answered 502 ErrNoRedirect).
	Signer Signer
	// Credentials are the ones Signer signs with; their expiry bounds the
	// life of a minted URL. Nil means they never expire.
	Credentials aws.CredentialsProvider
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RequestID names the invocation in error bodies; nil gives none.
	RequestID func(context.Context) string
	// Metrics records each request's CloudWatch metrics; nil records none.
	// When Logger's handler can hand back a record's line (lambdalog's
	// can), Metrics also writes the request's log line, ahead of the
	// sample and in the same write, so the two must share a stream.
	Metrics Metrics
}

// Metrics receives one sample per request; *emf.Writer satisfies it.
type Metrics interface {
	// Record writes line, unless it is empty, then s, in one write; line
	// is the request's log line.
	Record(line []byte, s emf.Sample) error
}

// lineAppender is a log handler that can append a record's line to a buffer
// instead of writing it; lambdalog's handler is one. With one, a request's
// log line and metric line reach the log in a single write.
type lineAppender interface {
	AppendRecord(b []byte, ctx context.Context, r slog.Record) ([]byte, error)
}

var _ Metrics = (*emf.Writer)(nil)

// Handler is the proxy core. It is safe for concurrent use.
type Handler struct {
	cfg            *config.Config
	upstream       Doer
	signer         Signer
	creds          aws.CredentialsProvider
	log            *slog.Logger
	now            func() time.Time
	requestID      func(context.Context) string
	metrics        Metrics
	deadlineMargin time.Duration
	defaultTimeout time.Duration
	// retryBase is the first backoff before a read is sent again.
	retryBase time.Duration
	// probeMax is the probe's length before the inline limit bounds it:
	// probeBytes (BenchmarkProbe sets the inline limit, the earlier
	// behaviour, as its baseline).
	probeMax int64
	// lines is log's handler when it is a lineAppender and there are
	// metrics to write the request line with; nil otherwise.
	lines lineAppender
}

// New returns the handler for cfg.
func New(cfg *config.Config, d Deps) *Handler {
	h := &Handler{
		cfg: cfg, upstream: d.Upstream, signer: d.Signer, creds: d.Credentials,
		log: d.Logger, now: d.Now, requestID: d.RequestID, metrics: d.Metrics,
		deadlineMargin: 500 * time.Millisecond,
		defaultTimeout: 25 * time.Second,
		retryBase:      100 * time.Millisecond,
		probeMax:       probeBytes,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if a, ok := h.log.Handler().(lineAppender); ok && h.metrics != nil {
		h.lines = a
	}
	if h.requestID == nil {
		h.requestID = func(context.Context) string { return "" }
	}
	return h
}

// ServeHTTP routes by method, per the request table in docs/architecture.md.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := h.newExchange(w, r)
	defer func() {
		if v := recover(); v != nil {
			// A bug must cost one request, never the process or a secret.
			h.log.ErrorContext(r.Context(), "panic while handling request", "method", r.Method, "key", x.o.key)
			x.o.decision = Error
			if !x.wrote {
				x.fail(s3error.ErrInternal)
			}
		}
		x.finish()
	}()

	rawPath, _ := rawTarget(r)
	switch {
	case rawPath == "/ping":
		x.ping()
	case rawPath == routes.DirectPrefix || strings.HasPrefix(rawPath, routes.DirectPrefix+"/"):
		x.direct()
	case r.Method == http.MethodOptions:
		x.options()
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		x.read()
	case r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete:
		x.relay()
	default:
		// Named in the log even though it is refused.
		x.o.key, _ = objectKey(rawPath, h.cfg.Bucket, h.cfg.VirtualHosted)
		x.fail(s3error.ErrMethodNotAllowed)
	}
}

// direct answers what reaches the function under /_direct. The load
// balancer sends GET and HEAD of the bucket's objects under the allowed
// prefixes straight to the endpoint (pkg/routes); anything else under the
// prefix arrives here and is refused, so that the route cannot carry a
// write, a listing or another bucket's read with a caller's own signature.
// A CORS preflight for a redirected read is answered as one for the object.
func (x *exchange) direct() {
	cfg := x.h.cfg
	switch x.r.Method {
	case http.MethodOptions:
		rawPath, rawQuery := rawTarget(x.r)
		objPath, ok := strings.CutPrefix(rawPath, routes.DirectPrefix+"/"+cfg.Bucket+"/")
		if !ok {
			x.o.decision = Preflight
			x.fail(s3error.ErrWrongBucket)
			return
		}
		if !cfg.VirtualHosted {
			objPath = cfg.Bucket + "/" + objPath
		}
		// The preflight is for the object the redirect names; ask as if the
		// client had asked for it on the signed host.
		r2 := x.r.Clone(x.r.Context())
		r2.RequestURI = "/" + objPath
		if rawQuery != "" {
			r2.RequestURI += "?" + rawQuery
		}
		if u, err := url.ParseRequestURI(r2.RequestURI); err == nil {
			r2.URL = u
		}
		x.r = r2
		x.options()
	case http.MethodGet, http.MethodHead:
		x.fail(s3error.ErrDirectOnly)
	default:
		x.w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		x.fail(s3error.ErrMethodNotAllowed)
	}
}

func (x *exchange) ping() {
	x.o.decision = Ping
	hdr := x.w.Header()
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		x.fail(s3error.ErrMethodNotAllowed)
		return
	}
	hdr.Set("Content-Type", "text/plain")
	hdr.Set("Content-Length", "0")
	hdr.Set("Cache-Control", "no-store")
	x.respond(http.StatusOK, nil)
}

// Refused answers and records an event the ALB adapter refuses (it
// satisfies albhttp.RefusedFunc): one the handler never saw, or one whose
// answer the ALB would have refused. The answer goes through the same fail,
// respond and finish as every other, so it carries the origin's headers and
// is one log line and one metric sample in the same schema. An answer
// replaced after the handler wrote it is thus recorded twice: once as the
// handler answered, once as the client got it.
func (h *Handler) Refused(w http.ResponseWriter, r *http.Request, err error, elapsed time.Duration) {
	x := h.newExchange(w, r)
	x.start = x.start.Add(-elapsed)
	defer x.finish()
	x.fail(err)
}
