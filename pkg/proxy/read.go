package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
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
}

// authorize runs every check that needs no S3 call. It cannot prove the
// signature — only S3 can — but it turns away URLs S3 would refuse anyway, and
// keys outside the allowed prefixes, without spending an upstream request.
func (h *Handler) authorize(r *http.Request) (*signedRequest, error) {
	rawPath, rawQuery := rawTarget(r)
	key, err := objectKey(rawPath, h.cfg.Bucket, h.cfg.VirtualHosted)
	if err != nil {
		return nil, err
	}
	sr := &signedRequest{key: key}
	q, err := s3auth.ParseQuery(rawQuery)
	if err != nil {
		return sr, err
	}
	sr.query = q.Values
	if sr.auth, err = s3auth.Parse(q); err != nil {
		return sr, err
	}
	if err := sr.auth.Check(h.now(), h.cfg.Region); err != nil {
		return sr, err
	}
	if !h.cfg.AllowsKey(key) || (len(h.cfg.KeyPrefixes) > 0 && dotSegment(key)) {
		return sr, s3error.ErrKeyNotAllowed
	}
	return sr, nil
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

// read answers GET and HEAD with exactly one upstream request.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, o *outcome) {
	sr, err := h.authorize(r)
	if sr != nil {
		o.key = sr.key
	}
	if err != nil {
		h.fail(w, r, o, err)
		return
	}
	ctx, cancel := h.upstreamContext(r.Context())
	defer cancel()
	req, err := h.upstreamRequest(ctx, r, nil, 0)
	if err != nil {
		h.fail(w, r, o, err)
		return
	}
	requested := r.Header.Get("Range") != ""
	if r.Method == http.MethodGet && !requested && plainGetObject(sr.query) && !sr.query.Has("partNumber") {
		// The client sent no Range, so its signature cannot cover one (S3
		// would refuse it for a missing signed header): the proxy may ask for
		// just enough to decide between answering inline and redirecting.
		// A subresource is not an object read and gets no probe, and S3
		// refuses a Range together with partNumber: the part is read up to
		// the inline limit instead, and the rest left unread.
		req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", h.cfg.InlineMax-1))
	}
	resp, err := h.roundTrip(req, o)
	if err != nil {
		h.fail(w, r, o, s3error.Upstream(err))
		return
	}
	defer resp.Body.Close()
	o.upstreamStatus = resp.StatusCode

	if r.Method == http.MethodHead {
		o.decision = Relay
		h.pass(w, r, o, resp)
		return
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
		h.object(w, r, o, resp, sr, requested)
	case http.StatusRequestedRangeNotSatisfiable:
		if !requested {
			// A range starting at byte 0 is satisfiable on any object
			// with a byte in it, so S3 refusing the probe means the
			// object is empty; the client asked for the whole of it,
			// which is nothing. (S3 may or may not send "bytes */0".)
			o.decision = Inline
			h.inline(w, r, o, resp, http.StatusOK, nil, true)
			return
		}
		o.decision = Inline
		h.pass(w, r, o, resp)
	default:
		o.decision = Inline
		if resp.StatusCode == http.StatusForbidden {
			o.decision = Denied
		}
		h.pass(w, r, o, resp)
	}
}

// object decides between inline and redirect once S3 has accepted the
// client's signature and started sending the object.
func (h *Handler) object(w http.ResponseWriter, r *http.Request, o *outcome, resp *http.Response, sr *signedRequest, requested bool) {
	max := h.cfg.InlineMax
	status := resp.StatusCode
	fits := resp.ContentLength >= 0 && resp.ContentLength <= max
	dropRange := false
	if status == http.StatusPartialContent && !requested {
		// Our own probe range: inline only if it covered the whole object.
		first, last, total, ok := contentRange(resp.Header.Get("Content-Range"))
		fits = ok && first == 0 && total >= 0 && last == total-1 && total <= max
		status, dropRange = http.StatusOK, true
	}
	if resp.ContentLength < 0 || fits {
		body, complete, err := readUpTo(resp.Body, max, resp.ContentLength)
		if err != nil {
			h.fail(w, r, o, s3error.Upstream(err))
			return
		}
		if complete && (fits || resp.ContentLength < 0) {
			o.decision = Inline
			h.inline(w, r, o, resp, status, body, dropRange)
			return
		}
	}
	h.redirect(w, r, o, resp, sr)
}

// inline answers with S3's headers and the bytes read.
func (h *Handler) inline(w http.ResponseWriter, r *http.Request, o *outcome, resp *http.Response, status int, body []byte, dropRange bool) {
	hdr := w.Header()
	copyResponseHeaders(hdr, resp.Header, h.corsConfigured())
	if dropRange {
		hdr.Del("Content-Range")
	}
	if status != resp.StatusCode && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		hdr.Del("Content-Type")
	}
	h.setCORS(w, r)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	o.status = status
	if status < http.StatusMultipleChoices {
		// inlineBytes counts object bytes served inline; an error body
		// passed on is not one.
		o.inlineBytes = len(body)
	}
}

// pass returns S3's answer as it is: status, headers and (bounded) body.
// S3 errors keep their status and XML, so clients retry 500/503 and parse
// 403s as they would from S3 itself.
func (h *Handler) pass(w http.ResponseWriter, r *http.Request, o *outcome, resp *http.Response) {
	hdr := w.Header()
	if r.Method == http.MethodHead || !bodyAllowed(resp.StatusCode) {
		copyResponseHeaders(hdr, resp.Header, h.corsConfigured())
		if cl := resp.Header.Get("Content-Length"); cl != "" && r.Method == http.MethodHead {
			hdr.Set("Content-Length", cl)
		}
		h.setCORS(w, r)
		w.WriteHeader(resp.StatusCode)
		o.status = resp.StatusCode
		return
	}
	body, complete, err := readUpTo(resp.Body, h.cfg.InlineMax, resp.ContentLength)
	if err != nil {
		h.fail(w, r, o, s3error.Upstream(err))
		return
	}
	if !complete {
		if resp.StatusCode >= http.StatusMultipleChoices {
			// S3's refusal keeps its status and code whatever the inline
			// limit; only the body is rewritten to fit. The code comes
			// early in S3's XML: a few KiB more always hold it.
			head, _ := io.ReadAll(io.LimitReader(resp.Body, errorHeadBytes))
			h.fail(w, r, o, s3error.Cut(resp.StatusCode, append(body, head...)))
			return
		}
		h.fail(w, r, o, s3error.ErrTooLarge)
		return
	}
	h.inline(w, r, o, resp, resp.StatusCode, body, false)
}

// errorHeadBytes bounds what is read of an S3 error body too large to pass
// on, to find its code.
const errorHeadBytes = 4 << 10

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// readUpTo reads at most max bytes; complete is false when there was more,
// and body then holds what was read (max+1 bytes).
// A declared length sizes the buffer once.
func readUpTo(r io.Reader, max, declared int64) (body []byte, complete bool, err error) {
	if declared >= 0 && declared <= max {
		body = make([]byte, declared, declared+1)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, false, err
		}
		// A server sending more than it declared is broken; S3 is not.
		var extra [1]byte
		if n, _ := r.Read(extra[:]); n > 0 {
			return nil, false, io.ErrUnexpectedEOF
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
