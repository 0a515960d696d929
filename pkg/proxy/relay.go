package proxy

import (
	"net/http"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// relay forwards a write that reached the function (passthrough off, body
// within the ALB's 1 MB) with its body and the client's own signature; S3
// answers it and its ETag comes back untouched. A read-only proxy refuses
// it before anything is sent: its load balancer forwards no write, so one
// that arrives came some other way.
func (x *exchange) relay() {
	x.o.decision = Relay
	if x.h.cfg.ReadOnly {
		rawPath, _ := rawTarget(x.r)
		x.o.key, _ = objectKey(rawPath, x.h.cfg.Bucket, x.h.cfg.VirtualHosted)
		x.fail(s3error.ErrReadOnly)
		return
	}
	if err := x.authorize(); err != nil {
		x.fail(err)
		return
	}
	x.forward()
}

// forward sends the client's request upstream unchanged, body and all, and
// passes the answer back.
func (x *exchange) forward() {
	var body = x.r.Body
	if x.r.ContentLength == 0 {
		body = http.NoBody
	}
	if err := x.send(body, x.r.ContentLength, ""); err != nil {
		x.fail(err)
		return
	}
	x.pass()
}
