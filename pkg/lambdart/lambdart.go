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
// path's CPU"). It reads the API's answers with a parser of its own, which
// keeps only the headers it uses (answer.go). Like AWS's own runtime
// clients since 2026, it echoes the invocation ID the API sends with each
// invocation, and an answer the API refuses as too late (410) ends that
// invocation, not the process.
package lambdart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	answerReader
	head []byte // request head scratch
	// iov and bufs hand the head and body to one writev without a new
	// slice on each request.
	iov  [2][]byte
	bufs net.Buffers
}

// readBufSize is the connection's read buffer: more than any head the
// runtime API sends (maxHead), and a small event whole.
const readBufSize = 64 << 10

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
	c.conn, c.br = conn, bufio.NewReaderSize(conn, readBufSize)
	return nil
}

func (c *client) reset() {
	if c.conn != nil {
		_ = c.conn.Close()
	}
	c.conn, c.br = nil, nil
}

// roundTrip sends one request (head, then body) and reads the answer into
// a, its body into the client's buffer. invocationID, when not empty, is
// sent as Lambda-Runtime-Invocation-Id.
func (c *client) roundTrip(a *answer, method, path string, body []byte, contentType, invocationID string) error {
	for attempt := 0; ; attempt++ {
		if err := c.dial(); err != nil {
			return err
		}
		h := append(c.head[:0], method...)
		h = append(h, ' ')
		h = append(h, path...)
		h = append(h, " HTTP/1.1\r\nHost: "...)
		h = append(h, c.addr...)
		h = append(h, "\r\nUser-Agent: s3proxy\r\n"...)
		if invocationID != "" {
			h = append(h, "Lambda-Runtime-Invocation-Id: "...)
			h = append(h, invocationID...)
			h = append(h, "\r\n"...)
		}
		if body != nil {
			h = append(h, "Content-Type: "...)
			h = append(h, contentType...)
			h = append(h, "\r\nContent-Length: "...)
			h = strconv.AppendInt(h, int64(len(body)), 10)
			h = append(h, "\r\n"...)
		}
		h = append(h, "\r\n"...)
		c.head = h
		c.iov = [2][]byte{h, body}
		c.bufs = c.iov[:1]
		if len(body) > 0 {
			c.bufs = c.iov[:2]
		}
		_, err := c.bufs.WriteTo(c.conn)
		if err == nil {
			err = c.read(a)
		}
		if err != nil {
			c.reset()
			// A kept-alive connection the API closed fails before any
			// status line; the next invocation can be asked for again.
			if attempt == 0 && method == http.MethodGet && a.status == 0 &&
				!errors.Is(err, errMalformed) && !errors.Is(err, errRefused) {
				continue
			}
			return err
		}
		if a.close {
			c.reset()
		}
		return nil
	}
}

const api = "/2018-06-01/runtime/invocation/"

func (c *client) serveOne(h Handler) error {
	var a answer
	if err := c.roundTrip(&a, http.MethodGet, api+"next", nil, "", ""); err != nil {
		return fmt.Errorf("lambdart: getting the next invocation: %w", err)
	}
	if a.status != http.StatusOK {
		return fmt.Errorf("lambdart: the next invocation: %s", statusError(&a))
	}
	id := a.requestID
	if a.deadlineMs < 0 {
		return fmt.Errorf("lambdart: invocation %s has no deadline", id)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.UnixMilli(a.deadlineMs))
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       id,
		InvokedFunctionArn: a.functionARN,
	})
	// Set on every invocation, empty too, so that no invocation carries
	// the one before's trace.
	_ = os.Setenv("_X_AMZN_TRACE_ID", a.traceID)
	out, herr, panicked := invoke(ctx, h, a.body)
	path, body, ct := api+id+"/response", out, "application/octet-stream"
	if herr != nil {
		path, ct = api+id+"/error", "application/json"
		body, _ = json.Marshal(map[string]string{"errorMessage": herr.Error(), "errorType": errorType(herr, panicked)})
	}
	if body == nil {
		body = []byte{}
	}
	// The invocation ID is echoed, when the API sent one, so that the API
	// can tell this answer from one to an earlier invocation that timed out
	// under the same request ID, as AWS's own runtime clients do
	// (aws/aws-lambda-python-runtime-interface-client 4.0.2,
	// aws/aws-lambda-dotnet#2508). The header's value passed the answer
	// parser's field check: no control bytes, so nothing can be injected.
	err := c.roundTrip(&a, http.MethodPost, path, body, ct, a.invocationID)
	if rel, ok := h.(Releaser); ok && herr == nil {
		rel.Release(out)
	}
	if err != nil {
		return fmt.Errorf("lambdart: posting invocation %s: %w", id, err)
	}
	switch {
	case a.status == http.StatusGone && !panicked:
		// The invocation had already timed out, and the API no longer
		// takes its answer; the next one can still be served (AWS's .NET
		// runtime client does the same since aws/aws-lambda-dotnet#2508).
		fmt.Fprintf(os.Stderr, "lambdart: invocation %s had timed out: its answer was refused (%s)\n", id, statusError(&a))
		return nil
	case a.status != http.StatusAccepted:
		return fmt.Errorf("lambdart: posting invocation %s: %s", id, statusError(&a))
	}
	if panicked {
		return fmt.Errorf("lambdart: the handler panicked: %w", herr)
	}
	return nil
}

// statusError describes an answer with an unexpected status: its code and
// the start of its body, where the runtime API names the error
// (errorMessage, errorType).
func statusError(a *answer) string {
	s := strconv.Itoa(a.status) + " " + http.StatusText(a.status)
	if b := bytes.TrimSpace(a.body); len(b) > 0 {
		s += ": " + strconv.Quote(string(b[:min(len(b), 200)]))
	}
	return s
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
