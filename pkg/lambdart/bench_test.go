package lambdart

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// pingEvent is the ALB health check's event, as events/ping.json has it.
const pingEvent = `{"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s3proxy-proxy/6d0ecf831eec9f09"}},` +
	`"httpMethod":"GET","path":"/ping","multiValueQueryStringParameters":{},"multiValueHeaders":{"accept":["*/*"],` +
	`"host":["s3-proxy.studio.example.com"],"user-agent":["ELB-HealthChecker/2.0"],"x-amzn-trace-id":["Root=1-6740e1a3-0c8f1e2d3a4b5c6d7e8f9a0b"],` +
	`"x-forwarded-for":["10.0.1.25"],"x-forwarded-port":["443"],"x-forwarded-proto":["https"]},"body":"","isBase64Encoded":false}`

// chunked writes body as one chunk, as the emulator does for an event over
// the 2 KiB net/http buffers without a length.
func chunked(head, body string) string {
	return head + "Transfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(body)), 16) + "\r\n" + body + "\r\n0\r\n\r\n"
}

var pingAnswer = []byte(`{"statusCode":200,"statusDescription":"200 OK","headers":{"content-type":"text/plain"},"body":"ok","isBase64Encoded":false}`)

type fixedHandler struct{ n int }

func (h *fixedHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h.n += len(payload)
	return pingAnswer, nil
}

type serveOner interface{ serveOne(Handler) error }

// BenchmarkServeOne serves invocations from a runtime API over loopback,
// with the answers read by answerReader and, as the baseline in the same
// run, by http.ReadResponse.
func BenchmarkServeOne(b *testing.B) {
	bigEvent := `{"body":"` + strings.Repeat("x", 8<<10) + `"}`
	for _, ev := range []struct{ name, next string }{
		{"ping", withLength(nextHead, pingEvent)},
		{"chunked-8KiB", chunked(nextHead, bigEvent)},
	} {
		api := startRawAPI(b, ev.next, acceptedAnswer, false)
		for _, p := range []struct {
			name string
			c    serveOner
		}{
			{"parser=own", &client{addr: api.addr()}},
			{"parser=net-http", &netHTTPClient{addr: api.addr()}},
		} {
			b.Run(ev.name+"/"+p.name, func(b *testing.B) {
				h := &fixedHandler{}
				b.ReportAllocs()
				for b.Loop() {
					if err := p.c.serveOne(h); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	_ = os.Unsetenv("_X_AMZN_TRACE_ID")
}

// BenchmarkReadAnswer parses the same "next" answer from memory with
// answerReader and with http.ReadResponse, the body read as the client
// reads it.
func BenchmarkReadAnswer(b *testing.B) {
	raw := []byte(withLength(nextHead, pingEvent))
	src := bytes.NewReader(raw)
	br := bufio.NewReaderSize(src, readBufSize)
	b.Run("parser=own", func(b *testing.B) {
		r := answerReader{br: br}
		var a answer
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(raw)
			br.Reset(src)
			if err := r.read(&a); err != nil || a.requestID == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("parser=net-http", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(raw)
			br.Reset(src)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := netHTTPReadBody(resp, &buf); err != nil || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") == "" {
				b.Fatal(err)
			}
			_, _ = resp.Header.Get("Lambda-Runtime-Deadline-Ms"), resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn")
			_ = resp.Header.Get("Lambda-Runtime-Trace-Id")
		}
	})
}
