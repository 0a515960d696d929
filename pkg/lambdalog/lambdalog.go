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

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger that adds the invocation's request ID to every
// record logged with a Lambda context.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(requestIDHandler{h})
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// RequestID returns the invocation's request ID, for S3-style error bodies.
func RequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
