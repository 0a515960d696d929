package lambdart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"slices"
	"strings"
)

// Limits on one answer from the runtime API. Its heads are a few hundred
// bytes, and a synchronous invocation's payload is at most 6 MB
// (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html).
const (
	maxHead = 64 << 10 // status line, headers and any trailers
	maxBody = 64 << 20
)

var (
	// errMalformed is an answer that breaks HTTP/1.1.
	errMalformed = errors.New("malformed answer")
	// errRefused is an answer that may be valid HTTP but is nothing the
	// runtime API sends, and that this client will not guess at.
	errRefused = errors.New("answer not taken")
)

// answer is what the client keeps of one runtime API answer.
type answer struct {
	status      int
	requestID   string // Lambda-Runtime-Aws-Request-Id
	functionARN string // Lambda-Runtime-Invoked-Function-Arn
	traceID     string // Lambda-Runtime-Trace-Id
	// invocationID (Lambda-Runtime-Invocation-Id) is unique to one
	// invocation, unlike the request ID; echoed on the answer's POST, it
	// lets the API refuse an answer to an invocation that timed out.
	invocationID string
	deadlineMs   int64  // Lambda-Runtime-Deadline-Ms; -1 if absent or not a decimal number
	close        bool   // the API closes the connection after this answer
	body         []byte // in the reader's buffer, valid until the next read
}

// answerReader reads the runtime API's answers off one connection. It
// stands in for http.ReadResponse, which on the real bootstrap took about
// half the CPU of an invocation that does nothing else, most of it building
// and canonicalising a header map of which the client reads four values.
type answerReader struct {
	br   *bufio.Reader
	buf  []byte // the body, reused
	vals []byte // the kept header values, reused
}

// read reads one answer into a. On an error the connection is no longer
// usable: the caller must close it.
func (r *answerReader) read(a *answer) error {
	*a = answer{deadlineMs: -1}
	head := 0
	line, err := r.line(&head)
	if err != nil {
		return err
	}
	if a.status, err = parseStatusLine(line); err != nil {
		return err
	}
	if a.status < 200 {
		return fmt.Errorf("%w: status %d, below 200", errRefused, a.status)
	}
	var (
		length                   int64 = -1
		lengthDigits             int
		chunked, teSeen          bool
		id, arn, trace, inv      [2]int // offsets into r.vals, set when seen
		idOK, arnOK, trOK, invOK bool
	)
	r.vals = r.vals[:0]
	keep := func(v []byte) [2]int {
		start := len(r.vals)
		r.vals = append(r.vals, v...)
		return [2]int{start, len(r.vals)}
	}
	// A header line that does not parse may be the first half of a folded
	// one (obsolete line folding, RFC 9112 §5.2), which net/http would join:
	// that answer is refused as folded, not misread as malformed.
	err = func() error {
		for {
			line, err := r.line(&head)
			if err != nil {
				return err
			}
			if len(line) == 0 {
				break
			}
			key, val, err := splitField(line)
			if err != nil {
				return err
			}
			// The names kept differ in length: one comparison per line.
			switch {
			case len(key) == 14 && equalFold(key, "Content-Length"):
				n, ok := parseDigits(val)
				switch {
				case !ok && allDigits(val) && len(val) > 0:
					return fmt.Errorf("%w: a Content-Length of %d digits", errRefused, len(val))
				case !ok:
					return fmt.Errorf("%w: Content-Length %.40q", errMalformed, val)
				}
				if length >= 0 && (n != length || len(val) != lengthDigits) {
					return fmt.Errorf("%w: two different Content-Lengths", errMalformed)
				}
				length, lengthDigits = n, len(val)
			case len(key) == 17 && equalFold(key, "Transfer-Encoding"):
				if teSeen {
					return fmt.Errorf("%w: more than one Transfer-Encoding", errMalformed)
				}
				teSeen = true
				if !equalFold(val, "chunked") {
					return fmt.Errorf("%w: Transfer-Encoding %q", errMalformed, val)
				}
				chunked = true
			case len(key) == 10 && equalFold(key, "Connection"):
				if hasToken(val, "close") {
					a.close = true
				}
			case len(key) == 29 && equalFold(key, "Lambda-Runtime-Aws-Request-Id"):
				if !idOK {
					id, idOK = keep(val), true
				}
			case len(key) == 35 && equalFold(key, "Lambda-Runtime-Invoked-Function-Arn"):
				if !arnOK {
					arn, arnOK = keep(val), true
				}
			case len(key) == 23 && equalFold(key, "Lambda-Runtime-Trace-Id"):
				if !trOK {
					trace, trOK = keep(val), true
				}
			case len(key) == 28 && equalFold(key, "Lambda-Runtime-Invocation-Id"):
				if !invOK {
					inv, invOK = keep(val), true
				}
			case len(key) == 26 && equalFold(key, "Lambda-Runtime-Deadline-Ms"):
				if a.deadlineMs == -1 {
					if n, ok := parseDigits(val); ok {
						a.deadlineMs = n
					} else {
						a.deadlineMs = -2 // seen, not a number: later ones do not count
					}
				}
			}
		}
		return nil
	}()
	if err != nil {
		if errors.Is(err, errMalformed) && r.foldFollows() {
			return fmt.Errorf("%w: a folded header line", errRefused)
		}
		return err
	}
	if a.deadlineMs < 0 {
		a.deadlineMs = -1
	}
	if len(r.vals) > 0 {
		s := string(r.vals) // one allocation for every kept value
		a.requestID, a.functionARN, a.traceID = s[id[0]:id[1]], s[arn[0]:arn[1]], s[trace[0]:trace[1]]
		a.invocationID = s[inv[0]:inv[1]]
	}
	switch {
	case a.status == 204 || a.status == 304:
		a.body = r.buf[:0]
		return nil
	case chunked:
		err = r.readAll(httputil.NewChunkedReader(r.br))
		if err == nil {
			err = r.endChunked()
		}
	case length >= 0:
		if length > maxBody {
			return fmt.Errorf("%w: a body of %d bytes", errRefused, length)
		}
		if int64(cap(r.buf)) < length {
			r.buf = make([]byte, length)
		}
		r.buf = r.buf[:length]
		_, err = io.ReadFull(r.br, r.buf)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	default:
		// No length given: the body runs to the end of the connection.
		a.close = true
		err = r.readAll(r.br)
	}
	a.body = r.buf
	return err
}

// line returns the next line without its end (CRLF, or a bare LF, which
// RFC 9112 lets a recipient accept), counting it against the head's limit.
func (r *answerReader) line(head *int) ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	*head += len(line)
	switch {
	case err == bufio.ErrBufferFull || *head > maxHead:
		return nil, fmt.Errorf("%w: a head over %d bytes", errRefused, maxHead)
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// foldFollows reports whether the next line continues the last one.
func (r *answerReader) foldFollows() bool {
	b, err := r.br.Peek(1)
	return err == nil && (b[0] == ' ' || b[0] == '\t')
}

// readAll reads src to its end into r.buf.
func (r *answerReader) readAll(src io.Reader) error {
	b := r.buf[:0]
	for {
		if len(b) > maxBody {
			r.buf = b
			return fmt.Errorf("%w: a body over %d bytes", errRefused, maxBody)
		}
		if len(b) == cap(b) {
			b = slices.Grow(b, max(len(b), 4<<10))
		}
		// Never more than one byte past the limit, so the limit is exact.
		n, err := src.Read(b[len(b):min(cap(b), maxBody+1)])
		b = b[:len(b)+n]
		if err == io.EOF {
			r.buf = b
			return nil
		}
		if err != nil {
			r.buf = b
			return err
		}
	}
}

// endChunked reads what follows a chunked body's last chunk: the empty
// line that ends the message. The runtime API sends no trailers, so none
// are taken.
func (r *answerReader) endChunked() error {
	p, err := r.br.Peek(2)
	switch {
	case bytes.Equal(p, []byte("\r\n")):
		_, _ = r.br.Discard(2)
		return nil
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: trailers after a chunked body", errRefused)
}

// parseStatusLine returns the status code of an HTTP/1.1 status line.
func parseStatusLine(line []byte) (int, error) {
	const proto = "HTTP/1.1 "
	if len(line) < len(proto) || string(line[:len(proto)]) != proto {
		if p, _, ok := bytes.Cut(line, []byte(" ")); ok && bytes.HasPrefix(p, []byte("HTTP/")) {
			return 0, fmt.Errorf("%w: protocol %.16q, not HTTP/1.1", errRefused, p)
		}
		return 0, fmt.Errorf("%w: status line %.40q", errMalformed, line)
	}
	rest := bytes.TrimLeft(line[len(proto):], " ")
	code, _, _ := bytes.Cut(rest, []byte(" "))
	if len(code) != 3 {
		return 0, fmt.Errorf("%w: status code %.16q", errMalformed, code)
	}
	n, ok := parseDigits(code)
	if !ok {
		return 0, fmt.Errorf("%w: status code %q is not three digits", errRefused, code)
	}
	return int(n), nil
}

// splitField splits a header line into its name and its value, trimmed.
func splitField(line []byte) (key, val []byte, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, fmt.Errorf("%w: a folded header line", errRefused)
	}
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, fmt.Errorf("%w: header line %.40q", errMalformed, line)
	}
	key, val = line[:i], line[i+1:]
	for _, c := range key {
		if !tchar[c] {
			if c == ' ' {
				return nil, nil, fmt.Errorf("%w: a space in header name %.40q", errRefused, key)
			}
			return nil, nil, fmt.Errorf("%w: header name %.40q", errMalformed, key)
		}
	}
	for _, c := range val {
		if !fieldByte[c] {
			return nil, nil, fmt.Errorf("%w: a control byte in header %.40q", errMalformed, key)
		}
	}
	return key, trimOWS(val), nil
}

// tchar holds the bytes a header name may have (RFC 9110 section 5.6.2),
// fieldByte those its value may have (section 5.5: visible, space, tab and
// obs-text).
var tchar, fieldByte = func() (t, v [256]bool) {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		t[c] = alnum || c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
		v[c] = c >= ' ' && c != 0x7f || c == '\t'
	}
	return t, v
}()

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b is s, ignoring ASCII case (header names are
// case-insensitive, RFC 9110 section 5.1). s is letters and hyphens, and b
// comes from a checked header line, so holds no control byte: then OR-ing
// 0x20 into both sides folds letters and maps nothing else onto them or
// onto the hyphen.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i]|0x20 {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token t.
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, []byte(","))
		if equalFold(trimOWS(item), t) {
			return true
		}
	}
	return false
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseDigits parses a non-empty string of at most 18 decimal digits.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
