// Package lambdart is a Lambda runtime API client for one handler of raw
// payloads
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). It
// takes the place of aws-lambda-go's lambda.Start: it fetches each
// invocation and posts its answer itself, in the calling goroutine, on one
// kept-alive connection, with the answer's length declared and its head and
// body in one write. aws-lambda-go goes through net/http's client
// transport (two goroutines per connection, the answer chunked and copied
// 32 KiB at a time); on the real bootstrap that was about a third of the
// CPU of an invocation that does nothing else (BENCHMARKS.md, "The inline
// path's CPU").
package lambdart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Handler answers one invocation's payload.
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Releaser is a Handler that takes back each answer once it has been posted,
// to build later answers in its memory.
type Releaser interface {
	Release(out []byte)
}

// client talks HTTP/1.1 to the runtime API over one connection.
type client struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	buf  []byte // the last event's payload, reused
	head []byte // request head scratch
}

// Start serves invocations from the runtime API that Lambda names in
// AWS_LAMBDA_RUNTIME_API, one at a time, for as long as the process lives.
// It returns only when the API fails or the handler panics (after reporting
// the panic as the invocation's error, as aws-lambda-go does); the caller
// should then exit, so that Lambda starts a fresh environment.
func Start(h Handler) error {
	addr := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if addr == "" {
		return errors.New("lambdart: AWS_LAMBDA_RUNTIME_API is not set")
	}
	return Serve(addr, h)
}

// Serve is Start against the runtime API at addr (host:port).
func Serve(addr string, h Handler) error {
	c := &client{addr: addr}
	for {
		if err := c.serveOne(h); err != nil {
			return err
		}
	}
}

func (c *client) dial() error {
	if c.conn != nil {
		return nil
	}
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn, c.br = conn, bufio.NewReaderSize(conn, 64<<10)
	return nil
}

func (c *client) reset() {
	if c.conn != nil {
		_ = c.conn.Close()
	}
	c.conn, c.br = nil, nil
}

// roundTrip sends one request (head, then body) and reads the answer's
// status, headers and body into c.buf.
func (c *client) roundTrip(method, path string, body []byte, contentType string) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		if err := c.dial(); err != nil {
			return nil, nil, err
		}
		h := append(c.head[:0], method...)
		h = append(h, ' ')
		h = append(h, path...)
		h = append(h, " HTTP/1.1\r\nHost: "...)
		h = append(h, c.addr...)
		h = append(h, "\r\nUser-Agent: s3proxy\r\n"...)
		if body != nil {
			h = append(h, "Content-Type: "...)
			h = append(h, contentType...)
			h = append(h, "\r\nContent-Length: "...)
			h = strconv.AppendInt(h, int64(len(body)), 10)
			h = append(h, "\r\n"...)
		}
		h = append(h, "\r\n"...)
		c.head = h
		bufs := net.Buffers{h}
		if len(body) > 0 {
			bufs = append(bufs, body)
		}
		_, err := bufs.WriteTo(c.conn)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(c.br, nil)
		}
		if err != nil {
			c.reset()
			if attempt == 0 && method == http.MethodGet {
				continue // a kept-alive connection the API closed
			}
			return nil, nil, err
		}
		payload, err := c.readBody(resp)
		if err != nil {
			c.reset()
			return nil, nil, err
		}
		if resp.Close {
			c.reset()
		}
		return resp, payload, nil
	}
}

func (c *client) readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if n := resp.ContentLength; n >= 0 && n <= 64<<20 {
		if int64(cap(c.buf)) < n {
			c.buf = make([]byte, n)
		}
		c.buf = c.buf[:n]
		_, err := io.ReadFull(resp.Body, c.buf)
		return c.buf, err
	}
	b := bytes.NewBuffer(c.buf[:0])
	_, err := b.ReadFrom(resp.Body)
	c.buf = b.Bytes()
	return c.buf, err
}

const api = "/2018-06-01/runtime/invocation/"

func (c *client) serveOne(h Handler) error {
	resp, payload, err := c.roundTrip(http.MethodGet, api+"next", nil, "")
	if err != nil {
		return fmt.Errorf("lambdart: getting the next invocation: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lambdart: the next invocation: %s", resp.Status)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	deadline, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil {
		return fmt.Errorf("lambdart: invocation %s has no deadline", id)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.UnixMilli(deadline))
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       id,
		InvokedFunctionArn: resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
	})
	// Set on every invocation, empty too, so that no invocation carries
	// the one before's trace.
	_ = os.Setenv("_X_AMZN_TRACE_ID", resp.Header.Get("Lambda-Runtime-Trace-Id"))
	out, herr, panicked := invoke(ctx, h, payload)
	path, body, ct := api+id+"/response", out, "application/octet-stream"
	if herr != nil {
		path, ct = api+id+"/error", "application/json"
		body, _ = json.Marshal(map[string]string{"errorMessage": herr.Error(), "errorType": errorType(herr, panicked)})
	}
	if body == nil {
		body = []byte{}
	}
	resp, _, err = c.roundTrip(http.MethodPost, path, body, ct)
	if rel, ok := h.(Releaser); ok && herr == nil {
		rel.Release(out)
	}
	if err != nil {
		return fmt.Errorf("lambdart: posting invocation %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("lambdart: posting invocation %s: %s", id, resp.Status)
	}
	if panicked {
		return fmt.Errorf("lambdart: the handler panicked: %w", herr)
	}
	return nil
}

// errorType names the error as aws-lambda-go does: its type's name.
func errorType(err error, panicked bool) string {
	if panicked {
		return "Runtime.Panic"
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// invoke runs the handler, turning a panic into an error.
func invoke(ctx context.Context, h Handler, payload []byte) (out []byte, err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			out, err, panicked = nil, fmt.Errorf("%v", v), true
		}
	}()
	out, err = h.Invoke(ctx, payload)
	return out, err, false
}
