package proxy

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mediaisolation/s3proxy/pkg/s3auth"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// signedRequest is a request that passed the cheap checks.
type signedRequest struct {
	key   string
	auth  *s3auth.Auth
	query url.Values
	// rawQuery is the query as the client sent it, which the signature
	// covers byte for byte.
	rawQuery string
	// plusInPath marks a raw path with a literal '+', which S3 may read as
	// a space (see grantFor).
	plusInPath bool
}

// authorize runs every check that needs no S3 call. It cannot prove the
// signature — only S3 can — but it turns away URLs S3 would refuse anyway, and
// keys outside the allowed prefixes, without spending an upstream request.
// The key is recorded for the log as soon as it is known.
func (x *exchange) authorize() error {
	cfg := x.h.cfg
	rawPath, rawQuery := rawTarget(x.r)
	key, err := objectKey(rawPath, cfg.Bucket, cfg.VirtualHosted)
	if err != nil {
		return err
	}
	x.o.key = key
	q, err := s3auth.ParseQuery(rawQuery)
	if err != nil {
		return err
	}
	auth, err := s3auth.Parse(q)
	if err != nil {
		return err
	}
	if err := auth.Check(x.h.now(), cfg.Region); err != nil {
		return err
	}
	if !x.h.servesKey(key) {
		return s3error.ErrKeyNotAllowed
	}
	x.sr = &signedRequest{key: key, auth: auth, query: q.Values, rawQuery: rawQuery, plusInPath: strings.Contains(rawPath, "+")}
	return nil
}

// servesKey is the key policy: a key under the allowed prefixes, and with
// prefixes configured, no dot segment.
func (h *Handler) servesKey(key string) bool {
	return h.cfg.AllowsKey(key) && (len(h.cfg.KeyPrefixes) == 0 || !dotSegment(key))
}

// dotSegment reports a "." or ".." path segment. S3 keeps such keys
// literally, so "shotgun/../x" is a key under shotgun/; but a store or
// client that resolves them would reach outside the prefix, so where
// prefixes are the guard they are refused.
func dotSegment(key string) bool {
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// probeBytes bounds the proxy's own first Range: what S3 sends before the
// function knows whether it answers inline or redirects. A redirect throws
// away at most this much; an object no larger is answered from this one
// request, and one between it and the inline limit takes a second request
// for the rest (see rest).
const probeBytes = 64 << 10

// read answers GET and HEAD with one upstream request (sent again only
// when S3 failed transiently; see send), or two for an object fetched in two
// parts (see rest).
func (x *exchange) read() {
	if err := x.authorize(); err != nil {
		x.fail(err)
		return
	}
	// A Range header the client sent, even empty or malformed, is its
	// request: it goes to S3 as it is, so what S3 checks the signature
	// against is exactly what the client sent.
	requested := len(x.r.Header.Values("Range")) > 0
	var probe http.Header
	if x.r.Method == http.MethodGet && !requested && !slices.Contains(x.sr.auth.SignedHeaders, "range") &&
		plainGetObject(x.sr.query) && !x.sr.query.Has("partNumber") {
		// The client sent no Range and its signature covers none: the proxy
		// may ask for just enough to decide between answering inline and
		// redirecting. A subresource is not an object read and gets no
		// probe, and S3 refuses a Range together with partNumber: the part
		// is read up to the inline limit instead, and the rest left unread.
		// A signature that covers a Range it did not send is S3's to
		// refuse, as it would be without the proxy.
		probe = http.Header{"Range": {"bytes=0-" + strconv.FormatInt(x.probeSize()-1, 10)}}
	}
	for round := 1; ; round++ {
		if err := x.send(nil, 0, probe); err != nil {
			x.fail(err)
			return
		}
		if x.r.Method == http.MethodHead {
			x.o.decision = Relay
			x.pass()
			return
		}
		x.o.decision = Inline
		switch x.resp.StatusCode {
		case http.StatusOK, http.StatusPartialContent:
			if x.object(requested, round) {
				continue
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if !requested {
				// A range starting at byte 0 is satisfiable on any object
				// with a byte in it, so S3 refusing the probe means the
				// object is empty; the client asked for the whole of it,
				// which is nothing. (S3 may or may not send "bytes */0".)
				x.inline(x.resp.Header, http.StatusOK, nil, true)
				return
			}
			x.pass()
		default:
			x.pass()
		}
		return
	}
}

// probeSize is the probe's length: probeBytes, or the inline limit where
// that is smaller.
func (x *exchange) probeSize() int64 { return min(x.h.probeMax, x.h.cfg.InlineMax) }

// object decides between inline and redirect once S3 has accepted the
// client's signature and started sending the object. It reports true when
// the read must start again (see rest).
func (x *exchange) object(requested bool, round int) (again bool) {
	resp, max := x.resp, x.h.cfg.InlineMax
	status := resp.StatusCode
	fits := resp.ContentLength >= 0 && resp.ContentLength <= max
	probed := false
	if status == http.StatusPartialContent && !requested {
		// Our own probe range: inline if it covered the whole object, in
		// two parts if the object is larger but fits the inline limit.
		first, last, total, ok := contentRange(resp.Header.Get("Content-Range"))
		fits = ok && first == 0 && total >= 0 && last == total-1 && total <= max
		if !fits && ok && first == 0 && last == x.probeSize()-1 && total > last+1 && total <= max &&
			resp.ContentLength == last+1 && resp.Header.Get("ETag") != "" {
			return x.rest(total, round)
		}
		status, probed = http.StatusOK, true
	}
	if resp.ContentLength < 0 || fits {
		body, complete, err := x.readUpTo(resp.Body, max, resp.ContentLength)
		if err != nil {
			x.fail(s3error.Upstream(err))
			return false
		}
		if complete && (fits || resp.ContentLength < 0) {
			x.inline(resp.Header, status, body, probed)
			return false
		}
	}
	x.redirect()
	return false
}

// rest reads an object that is larger than the probe but fits the inline
// limit: the probe's bytes, then a second request for the rest
// (bytes=<probe>-<total-1>), answered inline as one 200 with the first
// answer's headers. The client's URL signs no Range (the proxy probed), so
// S3 accepts the second Range under the same signature.
//
// The two parts must be of one version of the object. The second request
// carries If-Match with the first answer's ETag (unless the client sent an
// If-Match of its own, which S3 applies to both), and its answer must name
// the same ETag and exactly the range asked for. When the object changed in
// between (S3's 412, or another ETag or range), the read starts again from
// the probe, once; a second change is answered 503, never a splice.
func (x *exchange) rest(total int64, round int) (again bool) {
	first := x.resp
	// One buffer for the whole object: each part is read into its place.
	body := x.buffer(total)
	n := first.ContentLength
	if err := readExactly(first.Body, body[:n]); err != nil {
		x.fail(s3error.Upstream(err))
		return false
	}
	etag := first.Header.Get("ETag")
	set := http.Header{"Range": {"bytes=" + strconv.FormatInt(n, 10) + "-" + strconv.FormatInt(total-1, 10)}}
	if len(x.r.Header.Values("If-Match")) == 0 && !slices.Contains(x.sr.auth.SignedHeaders, "if-match") && !strings.HasPrefix(etag, "W/") {
		set["If-Match"] = []string{etag}
	}
	// send closes the first answer; its headers stay readable.
	if err := x.send(nil, 0, set); err != nil {
		x.fail(err)
		return false
	}
	resp := x.resp
	wantRange := "bytes " + strconv.FormatInt(n, 10) + "-" + strconv.FormatInt(total-1, 10) + "/" + strconv.FormatInt(total, 10)
	switch {
	case resp.StatusCode == http.StatusPartialContent && resp.Header.Get("ETag") == etag &&
		resp.Header.Get("Content-Range") == wantRange && resp.ContentLength == total-n:
		if err := readExactly(resp.Body, body[n:]); err != nil {
			x.fail(s3error.Upstream(err))
			return false
		}
		x.inline(first.Header, http.StatusOK, body, true)
		return false
	case resp.StatusCode == http.StatusPartialContent || (resp.StatusCode == http.StatusPreconditionFailed && set.Get("If-Match") != ""):
		// Another version answered, or S3 refused ours: the object changed.
		if round < 2 {
			return true
		}
		x.fail(s3error.ErrObjectChanged)
		return false
	default:
		// S3's own answer to the client's signature (a 403 as the URL
		// expired in between, a 304 or 412 from the client's conditions,
		// or a 200 from a store that ignored the Range): passed on as is.
		x.pass()
		return false
	}
}

// inline answers with src's headers (S3's) and the bytes read. probed marks
// an answer to the proxy's own probe Range, whose Content-Range the client
// never asked for.
func (x *exchange) inline(src http.Header, status int, body []byte, probed bool) {
	hdr := x.w.Header()
	copyResponseHeaders(hdr, src, x.h.corsConfigured())
	if probed {
		hdr.Del("Content-Range")
	}
	if status != x.resp.StatusCode && x.resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		hdr.Del("Content-Type")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	if status < http.StatusMultipleChoices {
		// inlineBytes counts object bytes served inline; an error body
		// passed on is not one.
		x.o.inlineBytes = len(body)
	}
	x.respond(status, body)
}

// pass returns S3's answer as it is: status, headers and (bounded) body.
// S3 errors keep their status and XML, so clients parse 403s as they would
// from S3 itself.
func (x *exchange) pass() {
	resp := x.resp
	if x.r.Method == http.MethodHead || !bodyAllowed(resp.StatusCode) {
		hdr := x.w.Header()
		copyResponseHeaders(hdr, resp.Header, x.h.corsConfigured())
		if cl := resp.Header.Get("Content-Length"); cl != "" && x.r.Method == http.MethodHead {
			hdr.Set("Content-Length", cl)
		}
		x.respond(resp.StatusCode, nil)
		return
	}
	body, complete, err := x.readUpTo(resp.Body, x.h.cfg.InlineMax, resp.ContentLength)
	if err != nil {
		x.fail(s3error.Upstream(err))
		return
	}
	if !complete {
		if resp.StatusCode >= http.StatusMultipleChoices {
			// S3's refusal keeps its status and code whatever the inline
			// limit; only the body is rewritten to fit. The code comes
			// early in S3's XML: a few KiB more always hold it.
			head, _ := io.ReadAll(io.LimitReader(resp.Body, errorHeadBytes))
			x.fail(s3error.Cut(resp.StatusCode, append(body, head...)))
			return
		}
		x.fail(s3error.ErrTooLarge)
		return
	}
	x.inline(resp.Header, resp.StatusCode, body, false)
}

// errorHeadBytes bounds what is read of an S3 error body too large to pass
// on, to find its code.
const errorHeadBytes = 4 << 10

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// readExactly fills buf from r, which must then be at its end. Reading
// to the end also lets the connection be reused.
func readExactly(r io.Reader, buf []byte) error {
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	// A server sending more than it declared is broken; S3 is not.
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// readUpTo reads at most max bytes; complete is false when there was more,
// and body then holds what was read (max+1 bytes).
// A declared length is read into the exchange's buffer.
func (x *exchange) readUpTo(r io.Reader, max, declared int64) (body []byte, complete bool, err error) {
	if declared >= 0 && declared <= max {
		body = x.buffer(declared)
		if err := readExactly(r, body); err != nil {
			return nil, false, err
		}
		return body, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(body)) > max {
		return body, false, nil
	}
	return body, true, nil
}

// contentRange parses "bytes first-last/total"; total is -1 for "*".
func contentRange(v string) (first, last, total int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, size, found := strings.Cut(spec, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	if !digits(a) || !digits(b) || (size != "*" && !digits(size)) {
		// RFC 9110 §14.4: plain digits only; ParseInt would take signs.
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total = -1
	if size != "*" {
		total, err3 = strconv.ParseInt(size, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || (total >= 0 && last >= total) {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

func digits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
