package proxy

import (
	"net/http"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// relay forwards a write that reached the function (passthrough off, body
// within the ALB's 1 MB) with its body and the client's own signature; S3
// answers it and its ETag comes back untouched.
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, o *outcome) {
	o.decision = Relay
	sr, err := h.authorize(r)
	if sr != nil {
		o.key = sr.key
	}
	if err != nil {
		h.fail(w, r, o, err)
		return
	}
	h.forward(w, r, o)
}

// forward sends r upstream unchanged and passes the answer back.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, o *outcome) {
	ctx, cancel := h.upstreamContext(r.Context())
	defer cancel()
	var body = r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	req, err := h.upstreamRequest(ctx, r, body, r.ContentLength)
	if err != nil {
		h.fail(w, r, o, err)
		return
	}
	resp, err := h.roundTrip(req, o)
	if err != nil {
		h.fail(w, r, o, s3error.Upstream(err))
		return
	}
	defer resp.Body.Close()
	o.upstreamStatus = resp.StatusCode
	if resp.StatusCode == http.StatusForbidden && o.decision == Relay {
		o.decision = Denied
	}
	h.pass(w, r, o, resp)
}
