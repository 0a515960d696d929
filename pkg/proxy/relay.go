package proxy

import (
	"net/http"
)

// relay forwards a write that reached the function (passthrough off, body
// within the ALB's 1 MB) with its body and the client's own signature; S3
// answers it and its ETag comes back untouched.
func (x *exchange) relay() {
	x.o.decision = Relay
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
	if err := x.send(body, x.r.ContentLength, nil); err != nil {
		x.fail(err)
		return
	}
	x.pass()
}
