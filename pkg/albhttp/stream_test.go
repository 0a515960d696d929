package albhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
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

// An answer handed back with Release is memory for the next one: each answer
// must still be the one its own handler wrote, whatever size came before.
func TestReleasedAnswersAreReused(t *testing.T) {
	bodies := map[string][]byte{"/big": binary(100_000), "/small": bytes.Repeat([]byte{0xfe}, 20_000), "/tiny": {1, 2, 3}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(bodies[r.URL.Path])))
		_, _ = w.Write(bodies[r.URL.Path])
	})
	fn := albhttp.NewFunction(h)
	for i, path := range []string{"/big", "/small", "/tiny", "/big", "/small", "/small", "/big"} {
		event := `{"httpMethod":"GET","path":"` + path + `","multiValueHeaders":{"host":["proxy"]}}`
		out, err := fn.Invoke(context.Background(), []byte(event))
		if err != nil {
			t.Fatal(err)
		}
		want := invoke(t, h, event) // a fresh Function's answer
		var got albhttp.Response
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("answer %d (%s) is not JSON: %v", i, path, err)
		}
		if !bytes.Equal(decodedBody(t, got), bodies[path]) || got.StatusCode != want.resp.StatusCode {
			t.Fatalf("answer %d (%s) is not its own body", i, path)
		}
		fn.Release(out)
	}
}
