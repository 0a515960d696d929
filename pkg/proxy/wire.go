package proxy

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mediaisolation/s3proxy/pkg/config"
)

// Wire builds the handler from a validated config and AWS config, the way
// both the Lambda function and the local twin run it. It makes no network
// call: the SDK resolves credentials lazily, at the first redirect.
func Wire(cfg *config.Config, awsCfg aws.Config, logger *slog.Logger, requestID func(context.Context) string, opts ...func(*Deps)) *Handler {
	d := Deps{
		Upstream:    NewUpstreamClient(),
		Credentials: awsCfg.Credentials,
		Logger:      logger,
		RequestID:   requestID,
	}
	if cfg.EndpointURL != nil {
		d.Signer = NewSigner(awsCfg, cfg)
	}
	for _, o := range opts {
		o(&d)
	}
	return New(cfg, d)
}

// WithMetrics records each request's metrics to m.
func WithMetrics(m Metrics) func(*Deps) { return func(d *Deps) { d.Metrics = m } }
