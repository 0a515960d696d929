// Package proxy is the request-handling core of s3proxy: a plain
// http.Handler that answers ShotGrid's presigned S3 URLs the way the README's
// request table lays out. It knows nothing of Lambda or ALB events; package
// albhttp adapts it to the ALB target-group wire format, and the local twin
// serves it directly. docs/architecture.md describes its shape: one exchange
// per request, the grant, and the signer adapter.
//
// The core never signs anything S3 has not first accepted under the client's
// own signature: a GET is forwarded once (again only if S3 failed
// transiently), and only when S3 has answered it with the object does the
// handler either return the bytes inline or mint a short-lived URL for the
// VPC endpoint and redirect. What a minted URL may grant (no more than the
// request S3 accepted did) is stated and enforced in one place, grant.go.
package proxy
