// Package albhttp runs a plain http.Handler as an Application Load Balancer
// Lambda target in multi-value mode. It is the only code that knows the ALB
// event shape; the handler behind it sees ordinary HTTP.
//
// The rules it keeps are the ALB's (see "Lambda functions as targets" in the
// Elastic Load Balancing user guide,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html):
// query values arrive still percent-encoded and are kept byte for byte,
// because the client's signature covers them; binary bodies travel base64;
// the response must use multiValueHeaders, may never carry a null map or
// body, and must stay within 1 MB of JSON or the ALB answers 502.
package albhttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// Response is the ALB target-group response in multi-value mode. It differs
// from events.ALBTargetGroupResponse in leaving out the single-value
// "headers" map, which that type always emits (as null when empty) and which
// an ALB in multi-value mode rejects with a 502.
type Response struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`

	// raw is the binary body, kept so AppendJSON can encode it straight
	// into the output instead of through Body.
	raw []byte
	// doc, when set, is the whole response JSON, built as the handler
	// wrote a binary body (see recorder.stream); Body is then
	// doc[bodyAt:bodyEnd] and is filled in only for callers that need it.
	doc             []byte
	bodyAt, bodyEnd int
}

// ResponseLimit is the largest response JSON an ALB accepts from Lambda.
const ResponseLimit = config.ALBResponseLimit

// Handler adapts h to the Lambda runtime. It takes the raw event so that a
// malformed one still gets an S3-style answer instead of a runtime error,
// which the ALB would turn into an opaque 502.
func Handler(h http.Handler) func(context.Context, json.RawMessage) (Response, error) {
	return func(ctx context.Context, raw json.RawMessage) (Response, error) {
		var ev events.ALBTargetGroupRequest
		if err := decodeEvent(raw, &ev); err != nil {
			return errorResponse(s3error.ErrBadRequest), nil
		}
		resp := Serve(ctx, h, &ev)
		if resp.raw != nil {
			resp.Body, resp.raw = string(appendBase64(nil, resp.raw)), nil
		}
		return resp, nil
	}
}

// Function is the proxy as a Lambda handler (it satisfies aws-lambda-go's
// lambda.Handler). It writes the response JSON itself: a base64 body needs
// no escaping, so it is appended once instead of being scanned byte by byte
// by encoding/json, which costs more than the upstream request for an
// inline read near the limit.
type Function struct {
	h       http.Handler
	log     *slog.Logger
	refused RefusedFunc
	// docs keeps the memory of answers handed back with Release.
	docs sync.Pool // of *[]byte
}

// Option configures a Function.
type Option func(*Function)

// WithLogger logs the events the adapter refuses before the handler sees
// them, in the handler's one-line-per-request shape, so no request goes
// unrecorded. WithRefused takes precedence.
func WithLogger(l *slog.Logger) Option { return func(f *Function) { f.log = l } }

// RefusedFunc answers, and records, an event the adapter refuses: one the
// handler never saw (malformed JSON, a bad method or path, a body that is
// not base64), or one whose answer the ALB would refuse (over its 1 MB
// limit), which is replaced. It writes err's answer to w; r carries only the
// event's method, cut short, and the invocation's context. elapsed is the
// time since the event arrived.
type RefusedFunc func(w http.ResponseWriter, r *http.Request, err error, elapsed time.Duration)

// WithRefused hands every answer the adapter would make itself to fn, so
// that it is answered, logged and counted by the same code as the handler's
// own answers (proxy.Handler.Refused).
func WithRefused(fn RefusedFunc) Option { return func(f *Function) { f.refused = fn } }

// NewFunction returns the Lambda handler for h.
func NewFunction(h http.Handler, opts ...Option) *Function {
	f := &Function{h: h, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Invoke handles one raw ALB event. Like Handler, it answers a malformed
// event with an S3-style 400 rather than a runtime error.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	var ev events.ALBTargetGroupRequest
	if err := decodeEvent(payload, &ev); err != nil {
		return f.refuse(ctx, "", s3error.ErrBadRequest, start).AppendJSON(nil), nil
	}
	resp, err := serveWith(ctx, f.h, &ev, &f.docs)
	if err != nil {
		return f.refuse(ctx, ev.HTTPMethod, err, start).AppendJSON(nil), nil
	}
	return resp.AppendJSON(nil), nil
}

// Release hands back an answer Invoke returned, once it has been sent, so
// that a later answer is built in its memory. An inline read's answer is the
// largest allocation of the invocation (a third more than the object, as
// base64), and allocating and collecting a fresh one each time was about a
// tenth of a 100 KB read's CPU on the real bootstrap. out must not be used
// after Release.
func (f *Function) Release(out []byte) {
	if cap(out) >= minPooledDoc {
		p := new([]byte)
		*p = out[:0]
		f.docs.Put(p)
	}
}

// minPooledDoc is the smallest answer worth keeping: below it, a fresh
// allocation costs no more than the pool.
const minPooledDoc = 16 << 10

func (f *Function) refuse(ctx context.Context, method string, err error, start time.Time) Response {
	e := s3error.Classify(err)
	if len(method) > 16 {
		method = method[:16]
	}
	if f.refused != nil {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", http.NoBody)
		r.Method = method
		rec := newRecorder()
		f.refused(rec, r, err, time.Since(start))
		if resp := rec.response(method); resp.StatusCode == e.Status {
			return resp
		}
		// The hook answered something else: the refusal stands.
		return errorResponse(e)
	}
	f.log.LogAttrs(ctx, slog.LevelWarn, "request",
		slog.String("method", method), slog.String("key", ""), slog.String("decision", "error"),
		slog.Int("status", e.Status), slog.Int("upstreamStatus", 0), slog.Int("inlineBytes", 0),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000), slog.String("errorCode", e.Code))
	return errorResponse(e)
}

// AppendJSON appends r's JSON encoding, the same document encoding/json
// would produce.
func (r Response) AppendJSON(b []byte) []byte {
	if r.doc != nil {
		if b == nil {
			return r.doc
		}
		return append(b, r.doc...)
	}
	headers, _ := json.Marshal(r.MultiValueHeaders)
	desc, _ := json.Marshal(r.StatusDescription)
	b = slices.Grow(b, len(headers)+len(r.Body)+base64.StdEncoding.EncodedLen(len(r.raw))+len(desc)+96)
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	b = append(b, `,"statusDescription":`...)
	b = append(b, desc...)
	b = append(b, `,"multiValueHeaders":`...)
	b = append(b, headers...)
	b = append(b, `,"body":`...)
	if r.IsBase64Encoded {
		b = append(b, '"')
		if r.raw != nil {
			b = appendBase64(b, r.raw)
		} else {
			b = append(b, r.Body...)
		}
		b = append(b, `","isBase64Encoded":true}`...)
		return b
	}
	body, _ := json.Marshal(r.Body)
	b = append(b, body...)
	return append(b, `,"isBase64Encoded":false}`...)
}

// Serve runs one event through h.
func Serve(ctx context.Context, h http.Handler, ev *events.ALBTargetGroupRequest) Response {
	resp, err := serve(ctx, h, ev)
	if err != nil {
		return errorResponse(err)
	}
	if resp.doc != nil {
		resp.Body, resp.doc = string(resp.doc[resp.bodyAt:resp.bodyEnd]), nil
	}
	return resp
}

// serve is Serve, telling an event the adapter refused from an answer.
func serve(ctx context.Context, h http.Handler, ev *events.ALBTargetGroupRequest) (Response, error) {
	return serveWith(ctx, h, ev, nil)
}

// serveWith is serve, building a binary answer in memory from docs when
// there is some.
func serveWith(ctx context.Context, h http.Handler, ev *events.ALBTargetGroupRequest, docs *sync.Pool) (Response, error) {
	r, err := NewRequest(ctx, ev)
	if err != nil {
		return Response{}, err
	}
	rec := newRecorder()
	rec.method = r.Method
	rec.docs = docs
	h.ServeHTTP(rec, r)
	resp := rec.response(r.Method)
	if rec.tooLarge {
		return Response{}, s3error.ErrTooLarge
	}
	return resp, nil
}

// NewRequest turns an ALB event into the request the handler sees. The raw
// path and query are kept in RequestURI exactly as they arrived.
func NewRequest(ctx context.Context, ev *events.ALBTargetGroupRequest) (*http.Request, error) {
	method := ev.HTTPMethod
	if !token(method) {
		return nil, s3error.ErrBadRequest
	}
	path := ev.Path
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# \t\r\n") {
		return nil, s3error.ErrBadURI
	}
	rawQuery := rawQuery(ev)
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, &s3error.Error{Status: http.StatusBadRequest, Code: "InvalidRequest", Message: "The request body is not valid base64."}
		}
		body = b
	}

	u := &url.URL{Path: path, RawPath: path, RawQuery: rawQuery}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path = p
	}
	uri := path
	if rawQuery != "" {
		uri += "?" + rawQuery
	}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, s3error.ErrBadRequest
	}
	r.URL = u
	r.RequestURI = uri
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	r.Header = headers(ev)
	r.Host = r.Header.Get("Host")
	r.Header.Del("Host")
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		client, _, _ := strings.Cut(xff, ",")
		r.RemoteAddr = strings.TrimSpace(client)
	}
	return r, nil
}

// rawQuery rebuilds the query string from the still-encoded pairs. Order is
// not significant to SigV4 (S3 sorts), so keys are sorted for determinism.
func rawQuery(ev *events.ALBTargetGroupRequest) string {
	q := ev.MultiValueQueryStringParameters
	if q == nil && ev.QueryStringParameters != nil {
		q = make(map[string][]string, len(ev.QueryStringParameters))
		for k, v := range ev.QueryStringParameters {
			q[k] = []string{v}
		}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

func headers(ev *events.ALBTargetGroupRequest) http.Header {
	h := http.Header{}
	if ev.MultiValueHeaders != nil {
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		return h
	}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	return h
}

func token(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// recorder collects the handler's response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	// overflow records a refused write: the body is incomplete and must
	// not be sent as if it were whole.
	overflow bool
	// method is the request's; a HEAD answer carries no body.
	method string
	// A binary body goes straight into the response JSON as base64 while
	// the handler writes it (see stream), instead of being kept whole and
	// encoded afterwards: one copy of an inline read fewer.
	doc       []byte
	head      Response // the status line and headers doc was started with
	bodyAt    int
	written   int     // body bytes taken, encoded or pending
	pending   [2]byte // the end of a body write that is not a whole 3-byte group
	npending  int
	streaming bool
	// tooLarge records that the handler's answer was replaced because the
	// ALB would refuse it.
	tooLarge bool
	// docs, when set, holds memory to build doc in.
	docs *sync.Pool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.overflow || r.body.Len()+r.written+len(p) > ResponseLimit {
		r.overflow = true
		return 0, errTooLarge
	}
	if r.streaming || r.body.Len() == 0 && len(p) > 0 && r.method != "" && r.method != http.MethodHead &&
		!Textual(r.header.Get("Content-Type")) {
		r.stream(p)
		return len(p), nil
	}
	if r.body.Cap() == 0 {
		// One allocation for the whole body when its length is declared.
		if n, err := strconv.Atoi(r.header.Get("Content-Length")); err == nil && n >= len(p) && n <= ResponseLimit {
			r.body.Grow(n)
		}
	}
	return r.body.Write(p)
}

var errTooLarge = errors.New("response body exceeds the ALB limit")

// stream appends p to the response JSON as base64. The first call writes
// the document's start, from the status and headers as they are now: as
// with net/http, headers changed after the body has begun are not sent.
// The buffer is sized once from Content-Length when the handler declared
// it.
func (r *recorder) stream(p []byte) {
	if !r.streaming {
		r.streaming = true
		r.head = r.start(r.status)
		r.head.IsBase64Encoded = true
		n := len(p)
		if cl, err := strconv.Atoi(r.header.Get("Content-Length")); err == nil && cl >= n && cl <= ResponseLimit {
			n = cl
		}
		headers, _ := json.Marshal(r.head.MultiValueHeaders)
		desc, _ := json.Marshal(r.head.StatusDescription)
		r.doc = r.newDoc(len(headers) + len(desc) + base64.StdEncoding.EncodedLen(n) + 96)
		r.doc = append(r.doc, `{"statusCode":`...)
		r.doc = strconv.AppendInt(r.doc, int64(r.head.StatusCode), 10)
		r.doc = append(r.doc, `,"statusDescription":`...)
		r.doc = append(r.doc, desc...)
		r.doc = append(r.doc, `,"multiValueHeaders":`...)
		r.doc = append(r.doc, headers...)
		r.doc = append(r.doc, `,"body":"`...)
		r.bodyAt = len(r.doc)
	}
	r.written += len(p)
	if r.npending > 0 {
		for r.npending < 3 && len(p) > 0 {
			if r.npending == 2 {
				r.doc = appendBase64(r.doc, []byte{r.pending[0], r.pending[1], p[0]})
				r.npending, p = 0, p[1:]
				break
			}
			r.pending[r.npending] = p[0]
			r.npending, p = r.npending+1, p[1:]
		}
	}
	whole := len(p) / 3 * 3
	r.doc = appendBase64(r.doc, p[:whole])
	r.npending += copy(r.pending[r.npending:], p[whole:])
}

// newDoc returns an empty buffer with room for n bytes, from docs when it
// holds one large enough.
func (r *recorder) newDoc(n int) []byte {
	if r.docs != nil {
		if p, ok := r.docs.Get().(*[]byte); ok && cap(*p) >= n {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, n)
}

// finish closes the document stream started and returns it as a Response.
func (r *recorder) finish() Response {
	r.doc = appendBase64(r.doc, r.pending[:r.npending])
	resp := r.head
	resp.bodyAt, resp.bodyEnd = r.bodyAt, len(r.doc)
	resp.doc = append(r.doc, `","isBase64Encoded":true}`...)
	if len(resp.doc) > ResponseLimit {
		r.tooLarge = true
		return errorResponse(s3error.ErrTooLarge)
	}
	return resp
}

func (r *recorder) response(method string) Response {
	if r.overflow {
		r.tooLarge = true
		return errorResponse(s3error.ErrTooLarge)
	}
	if r.streaming {
		return r.finish()
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	resp := r.start(status)
	body := r.body.Bytes()
	if method == http.MethodHead {
		body = nil
	}
	if len(body) > 0 {
		if Textual(r.header.Get("Content-Type")) && utf8.Valid(body) {
			resp.Body = string(body)
		} else {
			resp.raw = body
			resp.IsBase64Encoded = true
		}
	}
	if size(resp) > ResponseLimit {
		r.tooLarge = true
		return errorResponse(s3error.ErrTooLarge)
	}
	return resp
}

// start is the response's status and a copy of its headers, with no body.
func (r *recorder) start(status int) Response {
	resp := Response{
		StatusCode:        status,
		StatusDescription: strconv.Itoa(status) + " " + http.StatusText(status),
		MultiValueHeaders: map[string][]string{},
	}
	for k, vs := range r.header {
		resp.MultiValueHeaders[k] = append([]string(nil), vs...)
	}
	return resp
}

// Textual reports whether an ALB passes a body of content type ct as text
// rather than base64, in either direction.
func Textual(ct string) bool {
	ct, _, _ = strings.Cut(strings.ToLower(ct), ";")
	ct = strings.TrimSpace(ct)
	return strings.HasPrefix(ct, "text/") || ct == "application/json" || ct == "application/xml" || ct == "application/javascript"
}

// size is the length of r's JSON, or a bound on it. A base64 body needs no
// escaping, so its length is known without encoding it; JSON escaping grows
// any other string at most sixfold, so the exact length is only computed
// when that bound comes near the limit.
func size(r Response) int {
	bound := 128 + 6*(len(r.StatusDescription)+len(r.Body)) + base64.StdEncoding.EncodedLen(len(r.raw))
	for k, vs := range r.MultiValueHeaders {
		bound += 6*len(k) + 6
		for _, v := range vs {
			bound += 6*len(v) + 3
		}
	}
	if bound <= ResponseLimit {
		return bound
	}
	if r.IsBase64Encoded {
		n := len(r.Body) + base64.StdEncoding.EncodedLen(len(r.raw))
		r.Body, r.raw = "", nil
		return len(r.AppendJSON(nil)) + n
	}
	return len(r.AppendJSON(nil))
}

func errorResponse(err error) Response {
	rec := newRecorder()
	s3error.Write(rec, nil, err, "")
	return rec.response(http.MethodGet)
}
