package proxy

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/emf"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// exchange is one request from arrival to its log line. Everything the
// handler learns about the request lives here, so that each decision is made
// once, on the request's own state:
//
//   - send is the only call to S3;
//   - respond is the only answer (the only WriteHeader);
//   - fail is the only way an error becomes an answer;
//   - finish writes the one log line and the one metric sample.
type exchange struct {
	h *Handler
	w http.ResponseWriter
	r *http.Request
	// sr is the client's signature, once authorize has parsed it.
	sr *signedRequest
	// up is the request sent to S3, the one S3 checked the signature
	// against; resp is S3's answer to it.
	up   *http.Request
	resp *http.Response
	o    outcome

	start time.Time
	// upCtx bounds every call to S3 for this request; cancel ends it.
	upCtx  context.Context
	cancel context.CancelFunc
	wrote  bool
	// ownCORS marks an answer that carries its own CORS headers (a
	// preflight the proxy answers itself), which respond leaves alone.
	ownCORS bool
	// buf holds the object bytes of an inline read (see buffer).
	buf *[]byte
}

// outcome is what one request's log line and metric sample record.
type outcome struct {
	decision       Decision
	key            string
	upstreamStatus int
	inlineBytes    int
	status         int
	code           string
	// attempts counts the upstream requests made; the latency is that of
	// the last one, to S3's headers.
	attempts        int
	upstreamLatency time.Duration
}

func (h *Handler) newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	return &exchange{h: h, w: w, r: r, start: h.now()}
}

// maxAttempts bounds the upstream requests for one read: the first and two
// retries.
const maxAttempts = 3

// send makes a call to S3: the client's request rebuilt for the signed host,
// bounded by the invocation's deadline, with the headers in set (the probe
// Range, or the second part's Range and If-Match) in place of the client's.
// The request sent is kept in x.up and S3's answer in x.resp, which stays
// open until finish or the next send. A read makes one call, or two when it
// fetches an object in two parts (see read.go); every call shares one
// deadline.
//
// A read (a GET or HEAD, with no body) that fails on the connection, or that
// S3 answers 500 or 503 (SlowDown is a 503), is sent again, at most twice,
// after a jittered backoff that must fit before the deadline: ShotGrid's
// clients do not retry a download, so a fault the function can absorb must
// not reach them. A write is never sent again: its body has been consumed.
func (x *exchange) send(body io.Reader, length int64, set http.Header) error {
	if x.cancel == nil {
		x.upCtx, x.cancel = x.h.upstreamContext(x.r.Context())
	}
	if x.resp != nil {
		release(x.resp)
		x.resp = nil
	}
	ctx := x.upCtx
	up, err := x.h.upstreamRequest(ctx, x.r, body, length)
	if err != nil {
		return err
	}
	for k, vs := range set {
		up.Header[k] = vs
	}
	x.up = up
	retry := body == nil && (x.r.Method == http.MethodGet || x.r.Method == http.MethodHead)
	// n counts this call's attempts: the bound is per upstream request,
	// whatever an earlier one (the probe of a read in two parts) used.
	for n := 1; ; n++ {
		start := x.h.now()
		x.o.attempts++
		resp, err := x.h.upstream.Do(up)
		x.o.upstreamLatency = x.h.now().Sub(start)
		if !retry || n == maxAttempts || !transient(ctx, resp, err) || !x.h.backoff(ctx, n) {
			if err != nil {
				return s3error.Upstream(err)
			}
			x.resp = resp
			x.o.upstreamStatus = resp.StatusCode
			return nil
		}
		if resp != nil {
			// Drain a little, so the connection can be reused.
			_, _ = io.CopyN(io.Discard, resp.Body, errorHeadBytes)
			_ = resp.Body.Close()
		}
	}
}

// bodies keeps the buffers inline reads are read into, from one request to
// the next. A fresh buffer for every read was the largest allocation of an
// inline read after the response itself, and zeroing it and collecting it
// again cost about a tenth of a 100 KB read's CPU on the real bootstrap.
var bodies sync.Pool // of *[]byte

// buffer returns n bytes to read an object into, which stay the exchange's
// until finish. Nothing may keep them past the response: the ResponseWriter
// copies or encodes what it is given before Write returns.
func (x *exchange) buffer(n int64) []byte {
	if x.buf == nil {
		if p, ok := bodies.Get().(*[]byte); ok {
			x.buf = p
		} else {
			x.buf = new([]byte)
		}
	}
	if int64(cap(*x.buf)) < n {
		*x.buf = make([]byte, n)
	}
	return (*x.buf)[:n]
}

// release closes S3's answer so that its connection can serve the next
// request. Go's client drops a kept-alive connection whose body is closed
// unread, and the next request to S3 then pays a new TCP and TLS handshake.
// What is left of a redirected read's probe (at most probeBytes, which S3 has
// sent already) is cheaper to read than that; a longer rest (an object read
// without the probe, past the inline limit) is not read, and its connection
// goes.
func release(resp *http.Response) {
	if n := resp.ContentLength; n >= 0 && n <= probeBytes {
		_, _ = io.CopyN(io.Discard, resp.Body, n)
	}
	_ = resp.Body.Close()
}

// transient reports an upstream failure worth one more try: the connection
// failed (while the deadline still holds), or S3 answered 500 or 503, which
// AWS asks clients to retry.
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
func transient(ctx context.Context, resp *http.Response, err error) bool {
	if err != nil {
		return ctx.Err() == nil
	}
	return resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusServiceUnavailable
}

// backoff waits before attempt n+1: retryBase·2^(n−1), jittered over its
// upper half. It reports false, without waiting, when the wait would not
// leave the retry time to run before ctx's deadline.
func (h *Handler) backoff(ctx context.Context, n int) bool {
	d := h.retryBase << (n - 1)
	d = d/2 + rand.N(d/2+1)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+h.retryBase {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// respond writes the answer: the origin's headers (origin.go), CORS headers
// for the request's origin, the length of body, the status, and body itself
// except to a HEAD. The decision the log records follows from the status
// here and nowhere else.
func (x *exchange) respond(status int, body []byte) {
	hdr := x.w.Header()
	SetOriginHeaders(hdr)
	if !x.ownCORS {
		x.h.setCORS(x.w, x.r)
	}
	if _, set := hdr["Content-Length"]; !set && bodyAllowed(status) && x.r.Method != http.MethodHead {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}
	x.wrote = true
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead && len(body) > 0 {
		_, _ = x.w.Write(body)
	}
	x.o.status = status
	x.settle()
}

// settle derives the decision from the status: a 403 is a denial and a
// failure the proxy answered is an error, whatever path led there. Pings
// and preflights keep their own name.
func (x *exchange) settle() {
	switch {
	case x.o.decision == Ping || x.o.decision == Preflight:
	case x.o.status == http.StatusForbidden:
		x.o.decision = Denied
	case x.o.code != "":
		x.o.decision = Error
	}
}

// fail answers err as S3 would, through the one status table in s3error.
func (x *exchange) fail(err error) {
	e, body := s3error.Render(x.w.Header(), err, x.h.requestID(x.r.Context()))
	x.o.code = e.Code
	x.respond(e.Status, body)
}

// finish releases the upstream call and records the request: one log line
// and one metric sample, the only ones it gets.
func (x *exchange) finish() {
	if x.resp != nil {
		release(x.resp)
	}
	if x.buf != nil {
		bodies.Put(x.buf)
		x.buf = nil
	}
	if x.cancel != nil {
		x.cancel()
	}
	x.record()
}

// record writes the request's log line and metric sample. With a log
// handler that can hand its line back (lambdalog's), both leave in one
// write: in Lambda that is one write(2) to stdout per request, made before
// the handler returns and so before the answer is posted, after which Lambda
// may freeze the environment. A line the level filters out leaves the
// metric line to be written alone.
func (x *exchange) record() {
	h, o := x.h, &x.o
	ctx := x.r.Context()
	level := slog.LevelInfo
	if o.decision == Error {
		level = slog.LevelWarn
	}
	log := h.log.Handler()
	enabled := log.Enabled(ctx, level)
	var rec slog.Record
	if enabled {
		rec = slog.NewRecord(time.Now(), level, "request", 0)
		rec.AddAttrs(
			slog.String("method", x.r.Method),
			slog.String("key", o.key),
			slog.String("decision", string(o.decision)),
			slog.Int("status", o.status),
			slog.Int("upstreamStatus", o.upstreamStatus),
			slog.Int("upstreamAttempts", o.attempts),
			slog.Int("inlineBytes", o.inlineBytes),
			slog.Float64("durationMs", float64(h.now().Sub(x.start).Microseconds())/1000),
		)
		if o.code != "" {
			rec.AddAttrs(slog.String("errorCode", o.code))
		}
	}
	if h.metrics == nil {
		if enabled {
			_ = log.Handle(ctx, rec)
		}
		return
	}
	bp := lineBufs.Get().(*[]byte)
	line := (*bp)[:0]
	if enabled {
		var err error
		if h.lines != nil {
			line, err = h.lines.AppendRecord(line, ctx, rec)
		}
		if h.lines == nil || err != nil {
			line = line[:0]
			_ = log.Handle(ctx, rec)
		}
	}
	err := h.metrics.Record(line, emf.Sample{
		Decision: string(o.decision), InlineBytes: o.inlineBytes,
		UpstreamStatus: o.upstreamStatus, UpstreamLatency: o.upstreamLatency, Upstream: o.attempts > 0,
		UpstreamAttempts: o.attempts,
	})
	*bp = line[:0]
	lineBufs.Put(bp)
	if err != nil {
		h.log.WarnContext(ctx, "writing metrics failed", "error", err.Error())
	}
}

// lineBufs hold request lines between their encoding and their write.
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
