package twin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
)

// InProcess invokes the function's handler in this process, through the same
// JSON encoding the Lambda runtime applies. Function, when set, is used as
// the runtime would use it (raw bytes in and out); otherwise Handler's
// response is encoded with encoding/json.
type InProcess struct {
	Function interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}
	Handler func(context.Context, json.RawMessage) (albhttp.Response, error)
}

// Invoke runs one invocation with a fresh request ID.
func (p InProcess) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       newRequestID(),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:s3proxy-local",
	})
	var out []byte
	var err error
	if p.Function != nil {
		out, err = p.Function.Invoke(ctx, event)
	} else {
		var resp albhttp.Response
		if resp, err = p.Handler(ctx, event); err == nil {
			out, err = json.Marshal(resp)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("handler error: %w", err)
	}
	if err := ctx.Err(); err != nil {
		// The real runtime would have killed the invocation.
		return nil, fmt.Errorf("function timed out: %w", err)
	}
	return out, nil
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
