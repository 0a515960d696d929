package lambdart

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// nextHead is the head of a "next" answer with every header the runtime
// API documents for it
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), in the
// order and case the emulator writes them.
const nextHead = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: application/json\r\n" +
	"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n" +
	"Lambda-Runtime-Deadline-Ms: 1542409706888\r\n" +
	"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n" +
	"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n" +
	"Lambda-Runtime-Client-Context: eyJjdXN0b20iOnt9fQ==\r\n" +
	"Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"\",\"cognitoIdentityPoolId\":\"\"}\r\n" +
	"Lambda-Runtime-Invocation-Id: 3f1c2a5e-0b7d-4e8f-9a61-5c2d7e9f0a14\r\n" +
	"Date: Wed, 02 Dec 2026 04:37:31 GMT\r\n"

const event = `{"httpMethod":"GET","path":"/ping"}`

// want is an answer as a test expects it.
type want struct {
	status                          int
	requestID, functionARN, traceID string
	deadlineMs                      int64
	close                           bool
	body                            string
	invocationID                    string
}

var nextWant = want{
	status:      200,
	requestID:   "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
	functionARN: "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",
	traceID:     "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
	deadlineMs:  1542409706888,
	body:        event,
	// Sent by the runtime API since 2026, to be echoed on the answer.
	invocationID: "3f1c2a5e-0b7d-4e8f-9a61-5c2d7e9f0a14",
}

func withLength(head, body string) string {
	return head + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func got(a *answer) want {
	return want{a.status, a.requestID, a.functionARN, a.traceID, a.deadlineMs, a.close, string(a.body), a.invocationID}
}

func TestReadAnswer(t *testing.T) {
	big := strings.Repeat("h", maxHead)
	withStatus := func(status int, w want) want { w.status = status; return w }
	closing := func(w want) want { w.close = true; return w }
	for _, tc := range []struct {
		name string
		raw  string
		want want
		err  error // errMalformed, errRefused, io.ErrUnexpectedEOF or nil
		rest string
	}{
		{name: "next answer", raw: withLength(nextHead, event), want: nextWant},
		{name: "next answer then the next bytes", raw: withLength(nextHead, event) + "HTTP/1.1 202", want: nextWant, rest: "HTTP/1.1 202"},
		{name: "lower-case names", raw: withLength(nextHead[:17]+strings.ToLower(nextHead[17:]), event),
			want: want{status: 200, requestID: nextWant.requestID, functionARN: strings.ToLower(nextWant.functionARN),
				traceID: strings.ToLower(nextWant.traceID), deadlineMs: nextWant.deadlineMs, body: event, invocationID: nextWant.invocationID}},
		{name: "mixed-case names", raw: "HTTP/1.1 200 OK\r\nlambda-RUNTIME-aws-request-ID: id\r\nLAMBDA-RUNTIME-DEADLINE-MS: 7\r\n" +
			"lambda-runtime-invoked-function-arn: arn\r\nLambda-Runtime-Trace-ID: t\r\ncontent-LENGTH: 2\r\n\r\n{}",
			want: want{status: 200, requestID: "id", functionARN: "arn", traceID: "t", deadlineMs: 7, body: "{}"}},
		{name: "bare LF line ends", raw: strings.ReplaceAll(withLength(nextHead, event), "\r\n", "\n"), want: nextWant},
		{name: "values trimmed", raw: "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id:\t id \t\r\nContent-Length:  2 \r\n\r\n{}",
			want: want{status: 200, requestID: "id", deadlineMs: -1, body: "{}"}},
		{name: "first of two request ids", raw: "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Aws-Request-Id: b\r\nContent-Length: 0\r\n\r\n",
			want: want{status: 200, requestID: "a", deadlineMs: -1}},
		{name: "deadline not a number", raw: "HTTP/1.1 200 OK\r\nLambda-Runtime-Deadline-Ms: 12s\r\nLambda-Runtime-Deadline-Ms: 12\r\nContent-Length: 0\r\n\r\n",
			want: want{status: 200, deadlineMs: -1}},
		{name: "chunked as the emulator sends a large event",
			raw: nextHead + "Transfer-Encoding: chunked\r\n\r\n" + "4\r\n{\"a\"\r\n5;ext=1\r\n:\"bc\"\r\n1\r\n}\r\n0\r\n\r\nnext",
			want: withStatus(200, want{requestID: nextWant.requestID, functionARN: nextWant.functionARN, traceID: nextWant.traceID,
				deadlineMs: nextWant.deadlineMs, body: `{"a":"bc"}`, invocationID: nextWant.invocationID}), rest: "next"},
		{name: "chunked overrides Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
			want: want{status: 200, deadlineMs: -1, body: "{}"}},
		{name: "chunked, truncated", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{}", err: io.ErrUnexpectedEOF},
		{name: "chunked, no final CRLF", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n", err: io.ErrUnexpectedEOF},
		{name: "chunked, bad size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", err: errAny},
		{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n", err: errRefused},
		{name: "Connection: close", raw: withLength(nextHead+"Connection: close\r\n", event), want: closing(nextWant)},
		{name: "Connection list with close", raw: withLength(nextHead+"Connection: keep-alive, CLOSE\r\n", event), want: closing(nextWant)},
		{name: "Connection: keep-alive", raw: withLength(nextHead+"Connection: keep-alive\r\n", event), want: nextWant},
		{name: "missing Content-Length reads to the end and closes", raw: nextHead + "\r\n" + event, want: closing(nextWant)},
		{name: "same Content-Length twice", raw: "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
			want: want{status: 202, deadlineMs: -1, body: "{}"}},
		{name: "two different Content-Lengths", raw: "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\n{}", err: errMalformed},
		{name: "negative Content-Length", raw: "HTTP/1.1 202 Accepted\r\nContent-Length: -1\r\n\r\n{}", err: errMalformed},
		{name: "empty Content-Length", raw: "HTTP/1.1 202 Accepted\r\nContent-Length:\r\n\r\n{}", err: errMalformed},
		{name: "Content-Length over the limit", raw: "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(maxBody+1) + "\r\n\r\n", err: errRefused},
		{name: "body shorter than its Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", err: io.ErrUnexpectedEOF},
		{name: "other transfer encoding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: errMalformed},
		{name: "two transfer encodings", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: errMalformed},
		{name: "malformed status line", raw: "HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n", err: errMalformed},
		{name: "status code not a number", raw: "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", err: errRefused},
		{name: "not HTTP", raw: "SSH-2.0-OpenSSH_9.6\r\n\r\n", err: errMalformed},
		{name: "HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", err: errRefused},
		{name: "informational status", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", err: errRefused},
		{name: "truncated head", raw: nextHead[:60], err: io.ErrUnexpectedEOF},
		{name: "head without its blank line", raw: nextHead, err: io.ErrUnexpectedEOF},
		{name: "nothing at all", raw: "", err: io.ErrUnexpectedEOF},
		{name: "oversize head", raw: "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 0\r\n\r\n", err: errRefused},
		{name: "oversize head in many lines", raw: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: "+big[:1000]+"\r\n", 70) + "\r\n", err: errRefused},
		{name: "folded header line", raw: "HTTP/1.1 200 OK\r\nLambda-Runtime-Trace-Id: a\r\n b\r\nContent-Length: 0\r\n\r\n", err: errRefused},
		{name: "folded after a line that alone is malformed", raw: "HTTP/1.1 200 OK\r\nContent-Length:\r\n 0\r\n\r\n", err: errRefused},
		{name: "space before the colon", raw: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n{}", err: errRefused},
		{name: "no colon", raw: "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n{}", err: errMalformed},
		{name: "control byte in a value", raw: "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\x00b\r\nContent-Length: 0\r\n\r\n", err: errMalformed},
		{name: "CR in a value", raw: "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\rb\r\nContent-Length: 0\r\n\r\n", err: errMalformed},
		{name: "204 has no body", raw: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\nrest", want: want{status: 204, deadlineMs: -1}, rest: "rest"},
		{name: "202 from the response post", raw: "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nDate: Wed, 02 Dec 2026 04:37:31 GMT\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n",
			want: want{status: 202, deadlineMs: -1, body: "{\"status\":\"OK\"}\n"}},
		{name: "400 from the API", raw: withLength("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n", `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`),
			want: want{status: 400, deadlineMs: -1, body: `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`}},
		{name: "500 from the API", raw: withLength("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n", `{"errorMessage":"boom","errorType":"Runtime.Unknown"}`),
			want: want{status: 500, deadlineMs: -1, body: `{"errorMessage":"boom","errorType":"Runtime.Unknown"}`}},
		{name: "410 without a body", raw: "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", want: want{status: 410, deadlineMs: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.raw), readBufSize)
			r := answerReader{br: br}
			var a answer
			err := r.read(&a)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("read: %v", err)
			case tc.err == errAny && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("read: error %v, want %v", err, tc.err)
			case tc.err == nil:
				if g := got(&a); g != tc.want {
					t.Errorf("read\n got %+v\nwant %+v", g, tc.want)
				}
				if rest, _ := io.ReadAll(br); string(rest) != tc.rest {
					t.Errorf("left %q unread, want %q", rest, tc.rest)
				}
			}
			checkAgainstNetHTTP(t, []byte(tc.raw))
		})
	}
}

// errAny stands for an error of any kind in a test case.
var errAny = errors.New("any error")

func TestReadAnswerReusesItsBuffers(t *testing.T) {
	one, two := withLength(nextHead, event), withLength("HTTP/1.1 202 Accepted\r\n", "{}")
	br := bufio.NewReaderSize(strings.NewReader(one+two+one), readBufSize)
	r := answerReader{br: br}
	var a answer
	for i, w := range []want{nextWant, {status: 202, deadlineMs: -1, body: "{}"}, nextWant} {
		if err := r.read(&a); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if g := got(&a); g != w {
			t.Fatalf("answer %d\n got %+v\nwant %+v", i, g, w)
		}
	}
	src := strings.NewReader(one)
	if allocs := testing.AllocsPerRun(100, func() {
		src.Reset(one)
		br.Reset(src)
		_ = r.read(&a)
	}); allocs > 1 { // the one string of the kept values
		t.Errorf("%v allocations per answer", allocs)
	}
}

// checkAgainstNetHTTP holds readAnswer to http.ReadResponse on the same
// bytes: where it reads an answer, net/http reads the same status, kept
// headers and body and leaves the same bytes unread; where it fails with
// anything but a refusal, net/http fails too.
func checkAgainstNetHTTP(t *testing.T, raw []byte) {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(raw), readBufSize)
	r := answerReader{br: br}
	var a answer
	err := r.read(&a)
	var rest []byte
	if err == nil {
		rest, _ = io.ReadAll(br)
	}
	w, wrest, werr := readNetHTTP(raw)
	switch {
	case err == nil && werr != nil:
		t.Fatalf("read %q as %+v; net/http: %v", raw, got(&a), werr)
	case err == nil:
		if g := got(&a); g != w {
			t.Fatalf("read %q\n     got %+v\nnet/http %+v", raw, g, w)
		}
		if !bytes.Equal(rest, wrest) {
			t.Fatalf("read %q, leaving %q; net/http leaves %q", raw, rest, wrest)
		}
	case errors.Is(err, errRefused):
	case werr == nil:
		t.Fatalf("read %q: %v; net/http read %+v", raw, err, w)
	}
}

func readNetHTTP(raw []byte) (want, []byte, error) {
	br := bufio.NewReaderSize(bytes.NewReader(raw), readBufSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return want{}, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return want{}, nil, err
	}
	rest, _ := io.ReadAll(br)
	w := want{
		status:       resp.StatusCode,
		requestID:    resp.Header.Get("Lambda-Runtime-Aws-Request-Id"),
		functionARN:  resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
		traceID:      resp.Header.Get("Lambda-Runtime-Trace-Id"),
		deadlineMs:   -1,
		invocationID: resp.Header.Get("Lambda-Runtime-Invocation-Id"),
		close:        resp.Close,
		body:         string(body),
	}
	// The client takes a deadline written as plain decimal digits.
	if d := resp.Header.Get("Lambda-Runtime-Deadline-Ms"); d != "" && len(d) <= 18 && strings.Trim(d, "0123456789") == "" {
		w.deadlineMs, _ = strconv.ParseInt(d, 10, 64)
	}
	return w, rest, nil
}

func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte(withLength(nextHead, event)))
	f.Add([]byte(withLength(nextHead+"Connection: close\r\n", event) + "HTTP/1.1 202 Accepted\r\n"))
	f.Add([]byte(nextHead + "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n5;x=1\r\n:\"bc\"\r\n0\r\n\r\n"))
	f.Add([]byte(withLength("HTTP/1.1 400 Bad Request\r\n", `{"errorMessage":"Invalid request ID"}`)))
	f.Add([]byte("HTTP/1.1 204 No Content\r\ncontent-length: 3\r\n\r\nabc"))
	f.Add([]byte(nextHead + "\r\n" + event))
	f.Add([]byte("HTTP/1.1 200 OK\nLambda-Runtime-Deadline-Ms: 1\nContent-Length: 1\nContent-Length: 1\n\nx"))
	f.Add([]byte(withLength(nextHead+"lambda-runtime-invocation-id: 4b1d\r\nLambda-Runtime-Invocation-Id: second\r\n", event)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkAgainstNetHTTP(t, raw)
	})
}

// A body of no stated length is refused one byte past maxBody, whatever
// capacity the buffer was left with by an earlier answer.
func TestReadAllLimitIsExact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		spare  int // the buffer's capacity from an earlier answer
		refuse bool
	}{
		{"at the limit", maxBody, 0, false},
		{"one byte over", maxBody + 1, 0, true},
		{"one byte over, after a large answer", maxBody + 1, 40 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := answerReader{buf: make([]byte, 0, tc.spare)}
			err := r.readAll(io.LimitReader(zeros{}, int64(tc.n)))
			if tc.refuse != errors.Is(err, errRefused) || !tc.refuse && (err != nil || len(r.buf) != tc.n) {
				t.Fatalf("%d bytes: err %v, %d read", tc.n, err, len(r.buf))
			}
			if len(r.buf) > maxBody+1 {
				t.Fatalf("read %d bytes, past the limit's one byte", len(r.buf))
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
