package albhttp_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
)

// A binary body goes into the response JSON as base64 while it is
// written. Whatever the write sizes (base64 works in 3-byte groups), the
// document must be the one encoding/json makes of the whole body, which
// invoke checks against albhttp.Handler.
func TestBinaryBodyInPieces(t *testing.T) {
	body := binary(10_000)
	event := `{"httpMethod":"GET","path":"/k","multiValueHeaders":{"host":["proxy"]}}`
	tests := []struct {
		name     string
		declared bool
		pieces   []int
	}{
		{"one write, length declared", true, []int{10_000}},
		{"one write, no length", false, []int{10_000}},
		{"single bytes, then the rest", true, []int{1, 1, 1, 1, 9_996}},
		{"groups split every way", false, []int{2, 2, 2, 5, 7, 4096, 1, 3, 5882}},
		{"more than declared", true, []int{5_000, 5_000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/jpeg")
				if tc.declared {
					n := tc.pieces[0]
					if len(tc.pieces) > 1 && tc.name != "more than declared" {
						n = len(body)
					}
					w.Header().Set("Content-Length", strconv.Itoa(n))
				}
				w.WriteHeader(http.StatusOK)
				off := 0
				for _, n := range tc.pieces {
					if _, err := w.Write(body[off : off+n]); err != nil {
						t.Fatal(err)
					}
					off += n
				}
				// As with net/http, a header set once the body has begun
				// is not sent.
				w.Header().Set("X-Late", "1")
			})
			w := invoke(t, h, event)
			if !w.resp.IsBase64Encoded {
				t.Fatal("a JPEG body is not base64")
			}
			if got := decodedBody(t, w.resp); !bytes.Equal(got, body) {
				t.Errorf("body: %d bytes back, want the %d written", len(got), len(body))
			}
			if v := header(w.resp, "X-Late"); v != nil {
				t.Errorf("a header set after the body began was sent: %q", v)
			}
		})
	}
}

// HEAD answers keep the length and drop the body, written or not.
func TestHeadDropsStreamedBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", "3")
		_, _ = w.Write([]byte{1, 2, 3})
	})
	w := invoke(t, h, `{"httpMethod":"HEAD","path":"/k"}`)
	if w.resp.Body != "" || header(w.resp, "Content-Length")[0] != "3" {
		t.Errorf("HEAD answer %+v", w.resp)
	}
}
