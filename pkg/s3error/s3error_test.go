package s3error

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *Error
	}{
		{"nil", nil, nil},
		{"own error", ErrExpired, ErrExpired},
		{"wrapped own error", fmt.Errorf("checking: %w", ErrKeyNotAllowed), ErrKeyNotAllowed},
		{"deadline", context.DeadlineExceeded, ErrUnavailable},
		{"cancelled", fmt.Errorf("get: %w", context.Canceled), ErrUnavailable},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("refused")}, ErrUnavailable},
		{"marked upstream", Upstream(io.ErrUnexpectedEOF), ErrUnavailable},
		{"anything else", errors.New("bug"), ErrInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/k", nil)
	e := Write(w, r, errors.New("dial tcp 10.0.0.5:443: secret internals"), "req-1")
	body := w.Body.String()
	if e != ErrInternal || w.Code != 500 || w.Header().Get("Content-Type") != "application/xml" {
		t.Fatalf("got %v %d %v", e, w.Code, w.Header())
	}
	for _, want := range []string{"<Code>InternalError</Code>", "<RequestId>req-1</RequestId>", "<?xml"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q lacks %q", body, want)
		}
	}
	if strings.Contains(body, "10.0.0.5") || strings.Contains(body, "secret") {
		t.Errorf("body leaks internals: %s", body)
	}

	w = httptest.NewRecorder()
	Write(w, httptest.NewRequest("HEAD", "/k", nil), ErrMethodNotAllowed, "")
	if w.Code != http.StatusMethodNotAllowed || w.Body.Len() != 0 || w.Header().Get("Allow") != AllowedMethods {
		t.Errorf("HEAD 405: %d, body %q, Allow %q", w.Code, w.Body.String(), w.Header().Get("Allow"))
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		partial string
		code    string
		noLeak  string
		message string
	}{
		{"code and message kept", 403, `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message><StringToSign>AWS4-HMAC-SHA256`,
			"SignatureDoesNotMatch", "AWS4-HMAC-SHA256", "The request signature we calculated does not match."},
		{"code only", 404, `<Error><Code>NoSuchKey</Code><Mess`, "NoSuchKey", "", ""},
		{"nothing readable falls back by status", 403, `<Err`, "AccessDenied", "", ""},
		{"5xx falls back to InternalError", 502, ``, "InternalError", "", ""},
		{"a hostile code is not taken", 403, `<Error><Code><script>x</script></Code>`, "AccessDenied", "<script>", ""},
		{"another 4xx", 409, ``, "Conflict", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Cut(tc.status, []byte(tc.partial))
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("got %d %s, want %d %s", e.Status, e.Code, tc.status, tc.code)
			}
			body := string(e.Body(""))
			if tc.noLeak != "" && strings.Contains(body, tc.noLeak) {
				t.Errorf("body carries %q: %s", tc.noLeak, body)
			}
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message %q, want %q", e.Message, tc.message)
			}
		})
	}
}
