// Package lambdalog builds the JSON slog logger the proxy logs through. It
// emits the same record shape as aws-lambda-go's lambdacontext logger
// (timestamp, level, message, requestId) but always as JSON, at the level
// S3PROXY_LOG_LEVEL names, and to any writer: lambdacontext.NewLogHandler
// reads its format and level from the environment at package init and writes
// only to stdout, which would make the format depend on how the function was
// deployed and leave tests nothing to read.
package lambdalog

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger that adds the invocation's request ID to every
// record logged with a Lambda context.
//
// Its handler can also hand a record's line back instead of writing it (see
// AppendRecord), so that the proxy writes a request's log line and metric
// line to stdout in one write.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr}
	c := &capture{}
	return slog.New(&handler{
		Handler: slog.NewJSONHandler(w, opts),
		held:    slog.NewJSONHandler(c, opts),
		c:       c,
	})
}

// handler is a JSON handler that adds the request ID. held is the same
// handler, with the same options and attributes, writing to c instead of
// the log: AppendRecord borrows it to encode a record into a buffer, and
// every encoding stays slog's own.
type handler struct {
	slog.Handler
	held slog.Handler
	c    *capture
}

// capture is held's writer: what held writes is appended to b. mu makes one
// AppendRecord at a time its user.
type capture struct {
	mu sync.Mutex
	b  []byte
}

func (c *capture) Write(p []byte) (int, error) {
	c.b = append(c.b, p...)
	return len(p), nil
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	return h.Handler.Handle(ctx, withRequestID(ctx, r))
}

// AppendRecord appends to b the line Handle would write for r, newline
// included, and writes nothing. Like Handle, it leaves the level to the
// caller: check Enabled first.
func (h *handler) AppendRecord(b []byte, ctx context.Context, r slog.Record) ([]byte, error) {
	r = withRequestID(ctx, r)
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.b = b
	err := h.held.Handle(ctx, r)
	b, h.c.b = h.c.b, nil
	return b, err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), held: h.held.WithAttrs(attrs), c: h.c}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), held: h.held.WithGroup(name), c: h.c}
}

func withRequestID(ctx context.Context, r slog.Record) slog.Record {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		// A copy of a record shares its attributes' back array: Clone, so
		// that the caller's record, which may be handled again, is left as
		// it was.
		r = r.Clone()
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return r
}

// RequestID returns the invocation's request ID, for S3-style error bodies.
func RequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
