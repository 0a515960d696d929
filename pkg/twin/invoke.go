package twin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// InProcess invokes the function in this process, raw bytes in and out, as
// the Lambda runtime invokes it.
type InProcess struct {
	Function interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}
}

// Invoke runs one invocation with a fresh request ID.
func (p InProcess) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       newRequestID(),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:s3proxy-local",
	})
	out, err := p.Function.Invoke(ctx, event)
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
