package proxy

import (
	"net/http"
	"net/url"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

// relay forwards a write that reached the function (passthrough off, body
// within the ALB's 1 MB) with its body and the client's own signature; S3
// answers it and its ETag comes back untouched. Only the writes ShotGrid's
// clients make are carried (objectWrite): the function's path to S3 is the
// VPC's gateway endpoint, which in an existing VPC admits every S3 call, so
// a subresource write signed by a principal that may make it (an object's
// ACL, tags, retention, a restore) would otherwise pass through the proxy.
// A read-only proxy refuses every write before anything is sent: its load
// balancer forwards none, so one that arrives came some other way.
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
	if !objectWrite(x.r.Method, x.sr.query, x.r.Header) {
		x.fail(s3error.ErrObjectWritesOnly)
		return
	}
	x.forward()
}

// objectWrite reports whether a write is one of the object calls the proxy
// carries: PutObject and UploadPart (PUT), CreateMultipartUpload and
// CompleteMultipartUpload (POST), DeleteObject and AbortMultipartUpload
// (DELETE). Any other parameter names a subresource, and a copy
// (x-amz-copy-source) would read a source the key policy never saw.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
func objectWrite(method string, q url.Values, h http.Header) bool {
	if len(h.Values("X-Amz-Copy-Source")) > 0 {
		// Any value, an empty one too: every value goes to S3.
		return false
	}
	has := map[string]bool{}
	for k, vs := range q {
		if len(vs) != 1 {
			return false
		}
		switch {
		case authParams[k]:
		case k == "x-id":
		default:
			has[k] = true
		}
	}
	only := func(names ...string) bool {
		if len(has) != len(names) {
			return false
		}
		for _, n := range names {
			if !has[n] {
				return false
			}
		}
		return true
	}
	switch method {
	case http.MethodPut:
		return only() || only("partNumber", "uploadId")
	case http.MethodPost:
		return (only("uploads") && q.Get("uploads") == "") || only("uploadId")
	case http.MethodDelete:
		return only() || only("versionId") || only("uploadId")
	}
	return false
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
