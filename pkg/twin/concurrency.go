package twin

import (
	"context"
	"errors"
	"net/http"
)

// ErrThrottled is a capped Invoker's refusal: every execution environment
// the function may have is busy. Lambda refuses a synchronous invoke over
// the function's concurrency at once (TooManyRequestsException); it does
// not queue it.
var ErrThrottled = errors.New("twin: the function is throttled: no concurrency left")

// ThrottledStatus is what the ALB answers a client whose request the
// function was throttled for. The ALB logs the request with error_reason
// LambdaThrottling and counts it in LambdaUserError ("Error reason codes" in
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
// That page gives no status; the ALB answers its other LambdaUserError
// failures (an invalid or too large response, a timeout) with 502
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html),
// and users of ALB-fronted functions report 502 for throttles too. Verify
// on a deployment: docs/operate.md, "Throttling and bursts".
const ThrottledStatus = http.StatusBadGateway

// capped runs at most cap invocations at once and refuses the rest.
type capped struct {
	next  Invoker
	slots chan struct{}
}

// Capped returns next behind a concurrency limit of max, as reserved (or
// account) concurrency limits a function: an invocation over it fails at
// once with ErrThrottled, and the ALB in front answers ThrottledStatus.
func Capped(next Invoker, max int) Invoker {
	return &capped{next: next, slots: make(chan struct{}, max)}
}

func (c *capped) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	select {
	case c.slots <- struct{}{}:
	default:
		return nil, ErrThrottled
	}
	defer func() { <-c.slots }()
	return c.next.Invoke(ctx, event)
}
