package endpointtargets

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
)

// DefaultMargin is the time Guard keeps back from the invocation deadline:
// enough for cfn.LambdaWrap to PUT the FAILED answer to CloudFormation's
// pre-signed URL before Lambda kills the function.
const DefaultMargin = 15 * time.Second

// Guard makes sure fn always ends in an answer CloudFormation can record,
// which is what keeps a stack from hanging for an hour on a custom resource:
//
//   - fn runs under a context that ends margin before the invocation's own
//     deadline, so a slow AWS call or a wait for the endpoint turns into an
//     error while there is still time to report it;
//   - a panic in fn becomes an error instead of a crashed invocation;
//   - the physical ID is PhysicalID's in every case, never the request ID
//     that cfn.LambdaWrap falls back to, so a failed Create is rolled back
//     with a Delete for the same ID.
//
// A context without a deadline (tests, local runs) is left alone.
func Guard(fn cfn.CustomResourceFunction, margin time.Duration) cfn.CustomResourceFunction {
	return func(ctx context.Context, event cfn.Event) (id string, data map[string]any, err error) {
		id = PhysicalID(event)
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
			defer cancel()
		}
		defer func() {
			if p := recover(); p != nil {
				slog.Error("custom resource handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				id, data, err = PhysicalID(event), nil, fmt.Errorf("internal error (panic: %v); see the function's log", p)
			}
		}()
		gotID, data, err := fn(ctx, event)
		if gotID != "" {
			id = gotID
		}
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("gave up before the function timeout: %w", err)
		}
		return id, data, err
	}
}
