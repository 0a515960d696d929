package lambdart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// netHTTPClient is the client as it was before answerReader: the same
// requests, the answers read by http.ReadResponse. It is kept as the
// benchmarks' baseline.
type netHTTPClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
	head []byte
}

func (c *netHTTPClient) dial() error {
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

func (c *netHTTPClient) reset() {
	if c.conn != nil {
		_ = c.conn.Close()
	}
	c.conn, c.br = nil, nil
}

func (c *netHTTPClient) roundTrip(method, path string, body []byte, contentType string) (*http.Response, []byte, error) {
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
				continue
			}
			return nil, nil, err
		}
		payload, err := netHTTPReadBody(resp, &c.buf)
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

func netHTTPReadBody(resp *http.Response, buf *[]byte) ([]byte, error) {
	defer resp.Body.Close()
	if n := resp.ContentLength; n >= 0 && n <= 64<<20 {
		if int64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		*buf = (*buf)[:n]
		_, err := io.ReadFull(resp.Body, *buf)
		return *buf, err
	}
	b := bytes.NewBuffer((*buf)[:0])
	_, err := b.ReadFrom(resp.Body)
	*buf = b.Bytes()
	return *buf, err
}

func (c *netHTTPClient) serveOne(h Handler) error {
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
