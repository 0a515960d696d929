package lambdart

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rawAPI is a runtime API over loopback that answers every "next" with the
// same bytes, and every post with the emulator's 202. Written by hand, with
// no header map of its own, so that the benchmarks measure the client.
type rawAPI struct {
	ln       net.Listener
	next     []byte
	accepted []byte
	mu       sync.Mutex
	conns    []net.Conn
	posts    int
}

const acceptedAnswer = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n" +
	"Date: Wed, 02 Dec 2026 04:37:31 GMT\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"

func startRawAPI(tb testing.TB, next, accepted string) *rawAPI {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &rawAPI{ln: ln, next: []byte(next), accepted: []byte(accepted)}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, conn)
			f.mu.Unlock()
			go f.serve(conn)
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			_ = c.Close()
		}
	})
	return f
}

func (f *rawAPI) addr() string { return f.ln.Addr().String() }

func (f *rawAPI) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		get := bytes.HasPrefix(line, []byte("GET "))
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
			if len(bytes.TrimSpace(line)) == 0 {
				break
			}
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		answer := f.next
		if !get {
			answer = f.accepted
			f.mu.Lock()
			f.posts++
			f.mu.Unlock()
		}
		if _, err := conn.Write(answer); err != nil {
			return
		}
	}
}

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
		api := startRawAPI(b, ev.next, acceptedAnswer)
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
