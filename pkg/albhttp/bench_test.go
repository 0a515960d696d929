package albhttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
)

var benchEvent = events.ALBTargetGroupRequest{
	HTTPMethod: "GET",
	Path:       "/shotgun/versions/0001/%E6%97%A5%E6%9C%AC%20movie.mov",
	MultiValueQueryStringParameters: map[string][]string{
		"X-Amz-Algorithm":              {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential":             {"ASIAEXAMPLE%2F20261127%2Fus-east-1%2Fs3%2Faws4_request"},
		"X-Amz-Date":                   {"20261127T100000Z"},
		"X-Amz-Expires":                {"3600"},
		"X-Amz-SignedHeaders":          {"host"},
		"X-Amz-Security-Token":         {"FwoGZXIvYXdzEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaDKexampletoken"},
		"X-Amz-Signature":              {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		"response-content-disposition": {"attachment%3B%20filename%3D%22movie.mov%22"},
	},
	MultiValueHeaders: map[string][]string{
		"host": {"s3-proxy.studio.test"}, "range": {"bytes=0-1023"}, "user-agent": {"Python-urllib/3.11"},
		"x-forwarded-for": {"10.1.2.3"}, "x-forwarded-proto": {"https"}, "x-forwarded-port": {"443"},
		"x-amzn-trace-id": {"Root=1-67890abc-0123456789abcdef01234567"},
	},
}

// BenchmarkDecode is the request half of the boundary: raw event JSON to the
// *http.Request the handler sees.
func BenchmarkDecode(b *testing.B) {
	payload, _ := json.Marshal(benchEvent)
	b.ReportAllocs()
	for b.Loop() {
		var ev events.ALBTargetGroupRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			b.Fatal(err)
		}
		if _, err := albhttp.NewRequest(context.Background(), &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode is the response half: a handler's answer to the response
// JSON the runtime returns, for an empty redirect and a full inline body.
func BenchmarkEncode(b *testing.B) {
	for _, size := range []int{0, 100 << 10, 700 << 10} {
		body := make([]byte, size)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/quicktime")
			w.Header().Set("ETag", `"0123456789abcdef"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		})
		fn := albhttp.NewFunction(h)
		payload, _ := json.Marshal(benchEvent)
		for _, release := range []bool{false, true} {
			name := strconv.Itoa(size>>10) + "KiB"
			if release {
				// As the runtime client does once the answer is posted.
				name += "/released"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					out, err := fn.Invoke(context.Background(), payload)
					if err != nil || len(out) < size {
						b.Fatal(err)
					}
					if release {
						fn.Release(out)
					}
				}
			})
		}
	}
}
