// Package locals3 is the embedded, in-memory S3 server that `s3proxy serve`
// starts when no real bucket is configured, so that `make run` shows the whole
// product on one machine.
//
// Storage and the S3 data path (GET with Range, HEAD, PUT, DELETE, multipart
// uploads, conditional GETs, ETags) come from gofakes3 with its s3mem
// backend. gofakes3 performs no authentication at all, so this package puts
// its own AWS Signature Version 4 verifier in front of it: a tampered,
// foreign, expired or unsigned request gets the same 4xx status and error
// code that Amazon S3 would return, which is what the demo and the proxy's
// tests rely on.
//
// # Differences from Amazon S3
//
// The server is a demo twin, not a full S3. Known differences:
//
//   - One set of credentials and one region. Every bucket shares one CORS
//     rule (Options.CORSOrigins) and there are no bucket policies, ACLs or
//     public buckets: every request except a CORS preflight must be signed.
//   - X-Amz-Security-Token is accepted (and covered by the signature) but
//     its value is not checked, because there is no STS behind this server.
//   - Only AWS4-HMAC-SHA256 is accepted. Signature Version 2 and SigV4a get
//     400 InvalidRequest. Signed streaming uploads
//     (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) get 501 NotImplemented;
//     UNSIGNED-PAYLOAD, a hex SHA-256 and STREAMING-UNSIGNED-PAYLOAD-TRAILER
//     (aws-chunked, what the Go SDK v2 sends over HTTPS) are supported.
//   - A wrong region, service, terminal or date in the credential scope gets
//     400 AuthorizationQueryParametersError (presigned) or 400
//     AuthorizationHeaderMalformed (header auth), the codes S3 uses for
//     these; the check happens before the access key is looked up.
//   - Presigned URLs are checked for expiry before their signature, so an
//     expired URL with a bad signature reports "Request has expired". A
//     presigned date more than 15 minutes ahead gets 403 AccessDenied
//     "Request is not valid yet"; header auth outside ±15 minutes gets 403
//     RequestTimeTooSkewed.
//   - Any x-amz-* request header not listed in the signed headers gets 403
//     AccessDenied ("There were headers present in the request which were
//     not signed"), for presigned and header auth alike.
//   - Browser POST uploads (POST policy) are not supported: an unsigned POST
//     gets 403 AccessDenied like any other unsigned request.
//   - x-amz-checksum-* values (header or aws-chunked trailer; CRC32, CRC32C,
//     CRC64NVME, SHA1, SHA256, SHA512) are verified on upload (400
//     BadDigest) but not stored, so GET and HEAD never return them; an
//     unknown checksum algorithm gets 400 InvalidRequest.
//   - Request bodies that need verification (a hex x-amz-content-sha256, a
//     checksum, aws-chunked encoding) are buffered in memory, up to 5 GiB.
//   - SignatureDoesNotMatch errors carry the StringToSign and
//     CanonicalRequest, as S3's do, but never the signature provided.
//   - Everything else (status codes of the data path, listing, ETag formats,
//     error bodies of the data path, which carry no RequestId) is whatever
//     gofakes3 v1.2.0 does; its XML bodies are labelled application/xml.
//
// Specifications followed:
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html.
package locals3
