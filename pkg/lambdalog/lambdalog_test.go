package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-42"})
	log.InfoContext(ctx, "request", "decision", "inline")
	log.DebugContext(ctx, "hidden")
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	for k, want := range map[string]any{"requestId": "req-42", "message": "request", "decision": "inline", "level": "INFO"} {
		if rec[k] != want {
			t.Errorf("%s: got %v, want %v", k, rec[k], want)
		}
	}
	if _, ok := rec["timestamp"]; !ok {
		t.Error("no timestamp")
	}
	if got := RequestID(ctx); got != "req-42" {
		t.Errorf("RequestID: %q", got)
	}
	if got := RequestID(context.Background()); got != "" {
		t.Errorf("RequestID without Lambda context: %q", got)
	}
}
