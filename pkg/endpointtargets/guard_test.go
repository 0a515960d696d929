package endpointtargets

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
)

func TestGuard(t *testing.T) {
	tests := []struct {
		name     string
		fn       cfn.CustomResourceFunction
		deadline time.Duration // 0: no deadline on the context
		margin   time.Duration
		wantID   string
		wantErr  string
	}{
		{
			name:   "success passes through",
			fn:     func(context.Context, cfn.Event) (string, map[string]any, error) { return "given", nil, nil },
			wantID: "given",
		},
		{
			name:   "an empty ID becomes the stable one",
			fn:     func(context.Context, cfn.Event) (string, map[string]any, error) { return "", nil, nil },
			wantID: wantID,
		},
		{
			name: "a panic becomes an error with the stable ID",
			fn: func(context.Context, cfn.Event) (string, map[string]any, error) {
				panic(errors.New("nil pointer somewhere"))
			},
			wantID:  wantID,
			wantErr: "internal error (panic: nil pointer somewhere)",
		},
		{
			name: "the handler's deadline comes margin before the invocation's",
			fn: func(ctx context.Context, _ cfn.Event) (string, map[string]any, error) {
				<-ctx.Done()
				return "", nil, ctx.Err()
			},
			deadline: time.Hour,
			margin:   time.Hour - 20*time.Millisecond,
			wantID:   wantID,
			wantErr:  "gave up before the function timeout: context deadline exceeded",
		},
		{
			name: "errors keep their text",
			fn: func(context.Context, cfn.Event) (string, map[string]any, error) {
				return wantID, nil, errors.New("register failed")
			},
			wantID:  wantID,
			wantErr: "register failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			start := time.Now()

			id, _, err := Guard(tt.fn, tt.margin)(ctx, event(cfn.RequestCreate, "", nil, nil))

			if id != tt.wantID {
				t.Errorf("id = %q, want %q", id, tt.wantID)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("took %v: the margin was not applied", elapsed)
			}
		})
	}
}

// TestGuardAnswersThroughLambdaWrap checks the whole chain the function runs:
// a panicking handler still produces exactly one FAILED answer, carrying the
// stable physical ID, on CloudFormation's response URL.
func TestGuardAnswersThroughLambdaWrap(t *testing.T) {
	// cfn.LambdaWrap sends with http.DefaultClient; point it at a local server.
	got := make(chan string, 2)
	srv := newResponseServer(t, got)

	ev := event(cfn.RequestCreate, "", nil, nil)
	ev.ResponseURL = srv.URL
	panicky := func(context.Context, cfn.Event) (string, map[string]any, error) { panic("boom") }

	reason, err := cfn.LambdaWrap(Guard(panicky, DefaultMargin))(context.Background(), ev)
	if err != nil {
		t.Fatalf("LambdaWrap: reason %q, err %v", reason, err)
	}
	body := <-got
	for _, want := range []string{`"Status":"FAILED"`, `"PhysicalResourceId":"` + wantID + `"`, `panic: boom`} {
		if !strings.Contains(body, want) {
			t.Errorf("response %s does not contain %s", body, want)
		}
	}
	select {
	case extra := <-got:
		t.Errorf("a second response was sent: %s", extra)
	default:
	}
}

func newResponseServer(t *testing.T, got chan<- string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			t.Errorf("method = %s, want PUT", r.Method)
		}
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}
