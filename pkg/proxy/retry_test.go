package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A read S3 could not answer is tried again, at most twice, before the
// client hears of it; a write, whose body is gone, never is.
func TestReadRetries(t *testing.T) {
	refused := func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	s3 := func(status int, code string) func(*http.Request) (*http.Response, error) {
		return func(*http.Request) (*http.Response, error) { return xmlResponse(status, code), nil }
	}
	tests := []struct {
		name     string
		method   string
		answers  []func(*http.Request) (*http.Response, error) // the last one repeats
		deadline time.Duration                                 // 0: none
		status   int
		attempts int
	}{
		{"SlowDown, then the object", "GET", []func(*http.Request) (*http.Response, error){s3(503, "SlowDown"), nil}, 0, 200, 2},
		{"500 twice, then the object", "GET", []func(*http.Request) (*http.Response, error){s3(500, "InternalError"), s3(500, "InternalError"), nil}, 0, 200, 3},
		{"connection refused, then the object", "GET", []func(*http.Request) (*http.Response, error){refused, nil}, 0, 200, 2},
		{"503 three times is passed on", "GET", []func(*http.Request) (*http.Response, error){s3(503, "SlowDown")}, 0, 503, 3},
		{"connection refused three times", "GET", []func(*http.Request) (*http.Response, error){refused}, 0, 503, 3},
		{"HEAD retried", "HEAD", []func(*http.Request) (*http.Response, error){s3(503, "SlowDown"), nil}, 0, 200, 2},
		{"404 is an answer", "GET", []func(*http.Request) (*http.Response, error){s3(404, "NoSuchKey")}, 0, 404, 1},
		{"403 is an answer", "GET", []func(*http.Request) (*http.Response, error){s3(403, "AccessDenied")}, 0, 403, 1},
		{"PUT never retried", "PUT", []func(*http.Request) (*http.Response, error){s3(503, "SlowDown"), nil}, 0, 503, 1},
		{"PUT never retried on the connection", "PUT", []func(*http.Request) (*http.Response, error){refused, nil}, 0, 503, 1},
		{"no time left before the deadline", "GET", []func(*http.Request) (*http.Response, error){s3(503, "SlowDown"), nil}, 600 * time.Millisecond, 503, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			n := 0
			f.up.do = func(r *http.Request) (*http.Response, error) {
				answer := tc.answers[min(n, len(tc.answers)-1)]
				n++
				if answer == nil {
					// S3 itself, serving the object.
					return (&fakeUpstream{objects: f.up.objects}).Do(r)
				}
				return answer(r)
			}
			target := "/shotgun/small.mov?" + presigned()
			r := httptest.NewRequest(tc.method, "/", strings.NewReader(map[bool]string{true: "body"}[tc.method == "PUT"]))
			r.RequestURI = target
			r.URL.Path, r.URL.RawQuery, _ = strings.Cut(target, "?")
			if tc.deadline > 0 {
				ctx, cancel := context.WithTimeout(r.Context(), tc.deadline)
				defer cancel()
				r = r.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d; body %.200s", w.Code, tc.status, w.Body)
			}
			if got := f.up.count(); got != tc.attempts {
				t.Errorf("%d upstream attempts, want %d", got, tc.attempts)
			}
			if want := `"upstreamAttempts":` + strconv.Itoa(tc.attempts); !strings.Contains(f.logs.String(), want) {
				t.Errorf("log lacks %s: %s", want, f.logs)
			}
		})
	}
}
