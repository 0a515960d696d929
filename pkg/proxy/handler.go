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
	// Presigner mints redirect URLs; nil when redirects are not configured.
	Presigner Presigner
	// Credentials are the ones Presigner signs with; their expiry bounds the
	// life of a minted URL. Nil means they never expire.
	Credentials aws.CredentialsProvider
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RequestID names the invocation in error bodies; nil gives none.
	RequestID func(context.Context) string
	// Metrics records each request's CloudWatch metrics; nil records none.
	Metrics Metrics
}

// Metrics receives one sample per request; *emf.Writer satisfies it.
type Metrics interface {
	Record(emf.Sample) error
}

var _ Metrics = (*emf.Writer)(nil)

// Handler is the proxy core. It is safe for concurrent use.
type Handler struct {
	cfg            *config.Config
	upstream       Doer
	presigner      Presigner
	creds          aws.CredentialsProvider
	log            *slog.Logger
	now            func() time.Time
	requestID      func(context.Context) string
	metrics        Metrics
	deadlineMargin time.Duration
	defaultTimeout time.Duration
}

// New returns the handler for cfg.
func New(cfg *config.Config, d Deps) *Handler {
	h := &Handler{
		cfg: cfg, upstream: d.Upstream, presigner: d.Presigner, creds: d.Credentials,
		log: d.Logger, now: d.Now, requestID: d.RequestID, metrics: d.Metrics,
		deadlineMargin: 500 * time.Millisecond,
		defaultTimeout: 25 * time.Second,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.requestID == nil {
		h.requestID = func(context.Context) string { return "" }
	}
	return h
}

// outcome is what one request's log line records.
type outcome struct {
	decision       Decision
	key            string
	upstreamStatus int
	inlineBytes    int
	status         int
	code           string
	// upstream is set once an upstream request was attempted, with the
	// time it took S3 to answer with headers.
	upstream        bool
	upstreamLatency time.Duration
}

// ServeHTTP routes by method, per the request table of DESIGN.md §2.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	var o outcome
	defer func() {
		if v := recover(); v != nil {
			// A bug must cost one request, never the process or a secret.
			h.log.ErrorContext(r.Context(), "panic while handling request", "method", r.Method, "key", o.key)
			o.decision = Error
			o.status = s3error.Write(w, r, s3error.ErrInternal, h.requestID(r.Context())).Status
		}
		h.logRequest(r, &o, h.now().Sub(start))
	}()

	rawPath, _ := rawTarget(r)
	switch {
	case rawPath == "/ping":
		h.ping(w, r, &o)
	case rawPath == routes.DirectPrefix || strings.HasPrefix(rawPath, routes.DirectPrefix+"/"):
		h.direct(w, r, &o)
	case r.Method == http.MethodOptions:
		h.options(w, r, &o)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.read(w, r, &o)
	case r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete:
		h.relay(w, r, &o)
	default:
		// Named in the log even though it is refused.
		o.key, _ = objectKey(rawPath, h.cfg.Bucket, h.cfg.VirtualHosted)
		h.fail(w, r, &o, s3error.ErrMethodNotAllowed)
	}
}

// direct answers what reaches the function under /_direct. The load
// balancer sends GET and HEAD of the bucket's objects under the allowed
// prefixes straight to the endpoint (pkg/routes); anything else under the
// prefix arrives here and is refused, so that the route cannot carry a
// write, a listing or another bucket's read with a caller's own signature.
// A CORS preflight for a redirected read is answered as one for the object.
func (h *Handler) direct(w http.ResponseWriter, r *http.Request, o *outcome) {
	switch r.Method {
	case http.MethodOptions:
		rawPath, rawQuery := rawTarget(r)
		objPath, ok := strings.CutPrefix(rawPath, routes.DirectPrefix+"/"+h.cfg.Bucket+"/")
		if !ok {
			o.decision = Preflight
			h.fail(w, r, o, s3error.ErrWrongBucket)
			return
		}
		if !h.cfg.VirtualHosted {
			objPath = h.cfg.Bucket + "/" + objPath
		}
		// The preflight is for the object the redirect names; ask as if the
		// client had asked for it on the signed host.
		r2 := r.Clone(r.Context())
		r2.RequestURI = "/" + objPath
		if rawQuery != "" {
			r2.RequestURI += "?" + rawQuery
		}
		if u, err := url.ParseRequestURI(r2.RequestURI); err == nil {
			r2.URL = u
		}
		h.options(w, r2, o)
	case http.MethodGet, http.MethodHead:
		h.fail(w, r, o, s3error.ErrDirectOnly)
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		h.fail(w, r, o, s3error.ErrMethodNotAllowed)
	}
}

func (h *Handler) ping(w http.ResponseWriter, r *http.Request, o *outcome) {
	o.decision = Ping
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, o, s3error.ErrMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "0")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	o.status = http.StatusOK
}

// fail answers err and records it. 403s are denials; everything the client
// can retry or cannot fix is an error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, o *outcome, err error) {
	h.setCORS(w, r)
	e := s3error.Write(w, r, err, h.requestID(r.Context()))
	o.status, o.code = e.Status, e.Code
	switch {
	case o.decision == Ping || o.decision == Preflight:
	case e.Status == http.StatusForbidden:
		o.decision = Denied
	default:
		o.decision = Error
	}
}

func (h *Handler) logRequest(r *http.Request, o *outcome, d time.Duration) {
	level := slog.LevelInfo
	if o.decision == Error {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("key", o.key),
		slog.String("decision", string(o.decision)),
		slog.Int("status", o.status),
		slog.Int("upstreamStatus", o.upstreamStatus),
		slog.Int("inlineBytes", o.inlineBytes),
		slog.Float64("durationMs", float64(d.Microseconds())/1000),
	}
	if o.code != "" {
		attrs = append(attrs, slog.String("errorCode", o.code))
	}
	h.log.LogAttrs(r.Context(), level, "request", attrs...)
	if h.metrics != nil {
		err := h.metrics.Record(emf.Sample{
			Decision: string(o.decision), InlineBytes: o.inlineBytes,
			UpstreamStatus: o.upstreamStatus, UpstreamLatency: o.upstreamLatency, Upstream: o.upstream,
		})
		if err != nil {
			h.log.WarnContext(r.Context(), "writing metrics failed", "error", err.Error())
		}
	}
}

// roundTrip sends req upstream, timing it for the metrics.
func (h *Handler) roundTrip(req *http.Request, o *outcome) (*http.Response, error) {
	start := h.now()
	o.upstream = true
	resp, err := h.upstream.Do(req)
	o.upstreamLatency = h.now().Sub(start)
	return resp, err
}
