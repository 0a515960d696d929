package albhttp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
)

// Events refused before the handler runs still leave one request line.
func TestFunctionLogsRefusedEvents(t *testing.T) {
	tests := []struct {
		name, payload, code string
	}{
		{"garbage JSON", `{"httpMethod":`, "BadRequest"},
		{"relative path", `{"httpMethod":"GET","path":"shotgun/a"}`, "InvalidURI"},
		{"bad base64", `{"httpMethod":"PUT","path":"/a","isBase64Encoded":true,"body":"!!"}`, "InvalidRequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			called := false
			fn := albhttp.NewFunction(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }),
				albhttp.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
			out, err := fn.Invoke(context.Background(), []byte(tc.payload))
			if err != nil || called {
				t.Fatalf("err %v, handler called %v", err, called)
			}
			if !strings.Contains(string(out), `"statusCode":400`) || !strings.Contains(string(out), tc.code) {
				t.Errorf("response %s", out)
			}
			if n := strings.Count(logs.String(), `"msg":"request"`); n != 1 || !strings.Contains(logs.String(), `"decision":"error"`) ||
				!strings.Contains(logs.String(), `"errorCode":"`+tc.code+`"`) {
				t.Errorf("log %q", logs.String())
			}
		})
	}
}
