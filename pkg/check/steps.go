package check

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/s3error"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// 1. /ping, answered by the function with no S3 call.
func (r *runner) ping(ctx context.Context) stepreport.Result {
	resp, err := r.do(ctx, r.stop, http.MethodGet, r.o.URL+"/ping", nil, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if resp.status != http.StatusOK {
		return stepreport.Failed(pingStatusHint(resp.status, resp.header.Get("Location"), r.o.URL), "GET /ping answered %s", resp.describe())
	}
	return stepreport.Passed("200 %s", resp.header.Get("Content-Type"))
}

// 2. A single PUT of a small object, as shotgun_api3 and the web app upload
// anything under their part size.
func (r *runner) putSmall(ctx context.Context) stepreport.Result {
	u, err := r.through(func() (string, error) { return r.signer.Put(ctx, r.smallKey, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodPut, u, http.Header{"Content-Type": {"application/octet-stream"}}, r.small)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if r.o.ReadOnly {
		if res, refused := writeRefused(resp, fmt.Sprintf("PUT of %d bytes", len(r.small))); !refused {
			// An upload the stack took is still the check's to remove.
			r.smallStored = resp.status == http.StatusOK
			return res
		}
		if _, err := r.putDirect(ctx, r.smallKey, r.small); err != nil {
			return stepreport.Failed(s3Hint(err, "s3:PutObject"), "the proxy refused the PUT (%s), as a read-only stack must; then PutObject directly on S3: %v", resp.describe(), err)
		}
		r.smallStored = true
		return stepreport.Passed("PUT through the proxy refused (%s), as a read-only stack must; the %d bytes written directly to S3", resp.describe(), len(r.small))
	}
	if resp.status != http.StatusOK {
		r.putSmallHint = uploadHint(resp)
		return stepreport.Failed(r.putSmallHint, "PUT of %d bytes answered %s", len(r.small), resp.describe())
	}
	etag := resp.header.Get("ETag")
	if etag == "" {
		return stepreport.Failed(noETagHint, "PUT answered 200 with no ETag header")
	}
	r.smallStored = true
	return stepreport.Passed("%d bytes, ETag %s", len(r.small), etag)
}

// 3a. CreateMultipartUpload, directly against S3 as ShotGrid's server does.
func (r *runner) create(ctx context.Context) stepreport.Result {
	out, err := r.o.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(r.o.Bucket), Key: aws.String(r.largeKey), ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		return stepreport.Failed(s3Hint(err, "s3:PutObject"), "CreateMultipartUpload: %v", err)
	}
	r.uploadID = aws.ToString(out.UploadId)
	return stepreport.Passed("upload created directly on S3")
}

// 3b. The parts, each PUT through the proxy to its own presigned URL, with
// the ETag read from the response as shotgun_api3 does.
func (r *runner) parts(ctx context.Context) stepreport.Result {
	if r.uploadID == "" {
		return stepreport.Skipped("", "no multipart upload was created")
	}
	if r.o.ReadOnly {
		return r.partsReadOnly(ctx)
	}
	var etags []string
	r.large = make([]byte, 0, r.o.Parts*r.o.PartSize)
	for n := 1; n <= r.o.Parts; n++ {
		part := randomBytes(r.o.PartSize)
		u, err := r.through(func() (string, error) {
			return r.signer.UploadPart(ctx, r.largeKey, r.uploadID, int32(n), URLTTL)
		})
		if err != nil {
			return stepreport.Failed(presignHint, "part %d: %v", n, err)
		}
		fmt.Fprintf(r.o.Progress, "  %s: part %d/%d (%s) …\n", StepParts, n, r.o.Parts, mib(len(part)))
		start := time.Now()
		resp, err := r.do(ctx, r.stop, http.MethodPut, u, nil, part)
		if err != nil {
			return stepreport.Failed(r.partHint(proxyNetHint(err, r.proxyHost())), "part %d: %v", n, err)
		}
		fmt.Fprintf(r.o.Progress, "  %s: part %d/%d answered %d in %s\n", StepParts, n, r.o.Parts, resp.status, time.Since(start).Round(time.Millisecond))
		if resp.status != http.StatusOK {
			h := uploadHint(resp)
			if resp.status >= 500 {
				h = r.partHint(h)
			}
			return stepreport.Failed(h, "UploadPart %d (%s) answered %s", n, mib(len(part)), resp.describe())
		}
		etag := resp.header.Get("ETag")
		if etag == "" {
			return stepreport.Failed(noETagHint, "UploadPart %d answered 200 with no ETag header", n)
		}
		etags = append(etags, etag)
		r.large = append(r.large, part...)
	}
	r.partETags = etags
	return stepreport.Passed("%d parts of %s, ETags returned", r.o.Parts, mib(r.o.PartSize))
}

// partHint is h, unless the small PUT was refused already: S3 refuses a
// large upload before reading its body and drops the connection, which
// reaches the client as a reset or the load balancer's 502, so the small
// PUT's refusal is the better clue.
func (r *runner) partHint(h string) string {
	if r.putSmallHint == "" {
		return h
	}
	return "put-small was refused too, and a refused large upload often ends in a dropped connection or a 502: " + r.putSmallHint
}

// partsReadOnly is the parts step on a read-only stack: the first part
// through the proxy must be refused; the large object is then written
// directly to S3, whole, for the read steps.
func (r *runner) partsReadOnly(ctx context.Context) stepreport.Result {
	u, err := r.through(func() (string, error) { return r.signer.UploadPart(ctx, r.largeKey, r.uploadID, 1, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "part 1: %v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodPut, u, nil, randomBytes(r.o.PartSize))
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "part 1: %v", err)
	}
	if res, refused := writeRefused(resp, "UploadPart 1 ("+mib(r.o.PartSize)+")"); !refused {
		return res
	}
	large := randomBytes(r.o.Parts * r.o.PartSize)
	out, err := r.putDirect(ctx, r.largeKey, large)
	if err != nil {
		return stepreport.Failed(s3Hint(err, "s3:PutObject"), "the proxy refused the part (%s), as a read-only stack must; then PutObject directly on S3: %v", resp.describe(), err)
	}
	r.large, r.largeStored, r.largeETag = large, true, aws.ToString(out.ETag)
	return stepreport.Passed("UploadPart through the proxy refused (%s), as a read-only stack must; the %s object written directly to S3", resp.describe(), mib(len(large)))
}

// writeRefused reports whether a read-only stack refused an upload, as it
// must (403); otherwise res says what it did instead.
func writeRefused(resp *response, what string) (res stepreport.Result, refused bool) {
	switch {
	case resp.status == http.StatusForbidden && readOnlyRefusal(resp):
		return stepreport.Result{}, true
	case resp.status == http.StatusForbidden:
		return stepreport.Failed(readOnlyS3Hint, "%s answered %s, not the proxy's read-only refusal", what, resp.describe()), false
	case resp.status >= 200 && resp.status <= 299:
		return stepreport.Failed(readOnlyAcceptedHint, "%s answered %s: the stack took an upload", what, resp.describe()), false
	}
	return stepreport.Failed(fmt.Sprintf("a read-only stack answers an upload 403; this one answered %d", resp.status), "%s answered %s", what, resp.describe()), false
}

// uploadHint explains an upload through the proxy that was not taken.
func uploadHint(resp *response) string {
	if readOnlyRefusal(resp) {
		return readOnlyStackHint
	}
	return putHint(resp.status, resp.code())
}

// readOnlyRefusal reports whether a 403 is the read-only proxy's own, from
// the load balancer's rule or the function: its message says so.
func readOnlyRefusal(resp *response) bool {
	return resp.code() == s3error.ErrReadOnly.Code && bytes.Contains(resp.body, []byte(s3error.ErrReadOnly.Message))
}

// putDirect writes an object straight to S3, as the check's own set-up.
func (r *runner) putDirect(ctx context.Context, key string, body []byte) (*s3.PutObjectOutput, error) {
	return r.o.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(r.o.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/octet-stream"),
	})
}

// 3c. CompleteMultipartUpload with the ETags the proxy returned.
func (r *runner) complete(ctx context.Context) stepreport.Result {
	if r.o.ReadOnly {
		if r.uploadID == "" {
			return stepreport.Skipped("", "no multipart upload was created")
		}
		// Nothing was uploaded to it: a read-only stack takes no part.
		if _, err := r.o.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(r.o.Bucket), Key: aws.String(r.largeKey), UploadId: aws.String(r.uploadID),
		}); err != nil {
			return stepreport.Failed(s3Hint(err, "s3:AbortMultipartUpload"), "AbortMultipartUpload: %v", err)
		}
		r.uploadID = ""
		return stepreport.Passed("read-only: the multipart upload aborted directly on S3, unused")
	}
	if r.uploadID == "" || len(r.partETags) != r.o.Parts {
		return stepreport.Skipped("", "the parts were not all uploaded")
	}
	parts := make([]types.CompletedPart, len(r.partETags))
	for i, e := range r.partETags {
		parts[i] = types.CompletedPart{ETag: aws.String(e), PartNumber: aws.Int32(int32(i + 1))}
	}
	out, err := r.o.S3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(r.o.Bucket), Key: aws.String(r.largeKey), UploadId: aws.String(r.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return stepreport.Failed(completeHint(err), "CompleteMultipartUpload: %v", err)
	}
	r.largeStored = true
	r.largeETag = aws.ToString(out.ETag)
	return stepreport.Passed("%s object, ETag %s", mib(len(r.large)), r.largeETag)
}

// 4. GET of the small object: inline, not redirected, bytes equal.
func (r *runner) getSmall(ctx context.Context) stepreport.Result {
	if !r.smallStored {
		return stepreport.Skipped("", "the small object was not uploaded")
	}
	u, err := r.through(func() (string, error) { return r.signer.Get(ctx, r.smallKey, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, nil, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if isRedirect(resp.status) {
		return stepreport.Failed(smallRedirectHint(len(r.small)), "GET of the %d-byte object answered %d to %s", len(r.small), resp.status, hostOf(resp.header.Get("Location")))
	}
	if resp.status != http.StatusOK {
		return stepreport.Failed(readHint(resp.status, resp.code()), "GET answered %s", resp.describe())
	}
	if !bytes.Equal(resp.body, r.small) {
		return stepreport.Failed(bytesHint, "GET answered 200 with %d bytes, not the %d uploaded", len(resp.body), len(r.small))
	}
	return stepreport.Passed("200 inline, %d bytes equal", len(resp.body))
}

// 5. GET of the large object: a 307 to a URL that signs host only, then
// followed to the bytes.
func (r *runner) getLarge(ctx context.Context) stepreport.Result {
	if !r.largeStored {
		return stepreport.Skipped("", "the large object was not uploaded")
	}
	u, err := r.through(func() (string, error) { return r.signer.Get(ctx, r.largeKey, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, nil, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	switch {
	case resp.status == http.StatusOK:
		return stepreport.Failed(largeInlineHint, "GET of the %s object answered 200 itself, not 307", mib(len(r.large)))
	case resp.status != http.StatusTemporaryRedirect:
		return stepreport.Failed(largeStatusHint(resp.status, resp.code()), "GET of the %s object answered %s, not 307", mib(len(r.large)), resp.describe())
	}
	loc := resp.header.Get("Location")
	target, err := url.Parse(loc)
	if err != nil || !target.IsAbs() {
		return stepreport.Failed(locationHint, "307 with Location %q, not an absolute URL", Redact(loc))
	}
	q := target.Query()
	if got := q.Get("X-Amz-SignedHeaders"); got != "host" {
		return stepreport.Failed(signedHeadersHint, "the 307's URL signs %q, not host only", got)
	}
	if q.Get("X-Amz-Signature") == "" {
		return stepreport.Failed(locationHint, "the 307's URL to %s carries no X-Amz-Signature", target.Host)
	}
	start := time.Now()
	got, err := r.do(ctx, r.stop, http.MethodGet, loc, nil, nil)
	if err != nil {
		return stepreport.Failed(redirectNetHint(err, target.Host), "following the 307: %v", err)
	}
	if got.status != http.StatusOK {
		return stepreport.Failed(followHint(got.status, got.code(), got.body, target), "following the 307 to %s: %s", Redact(loc), got.describe())
	}
	if !bytes.Equal(got.body, r.large) {
		return stepreport.Failed(bytesHint, "the 307's URL answered %d bytes, not the %d uploaded", len(got.body), len(r.large))
	}
	r.largeS3ETag = got.header.Get("ETag")
	r.largeFollowed = true
	return stepreport.Passed("307 to %s, followed: %s equal in %s", target.Host, mib(len(got.body)), time.Since(start).Round(time.Millisecond))
}

// 6. A Range read inside the large object, as a video player seeks. Small
// ranges are answered inline; a 307 is followed with the Range, as browsers
// do.
func (r *runner) getRange(ctx context.Context) stepreport.Result {
	if !r.largeStored {
		return stepreport.Skipped("", "the large object was not uploaded")
	}
	u, err := r.through(func() (string, error) { return r.signer.Get(ctx, r.largeKey, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	first := len(r.large) / 3
	last := min(first+64<<10, len(r.large)) - 1
	rng := fmt.Sprintf("bytes=%d-%d", first, last)
	hdr := http.Header{"Range": {rng}}
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, hdr, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	via := "inline"
	if isRedirect(resp.status) {
		loc := resp.header.Get("Location")
		target, perr := url.Parse(loc)
		if perr != nil || !target.IsAbs() {
			return stepreport.Failed(locationHint, "Range GET answered %d with Location %q", resp.status, Redact(loc))
		}
		via = "via " + strconv.Itoa(resp.status) + " to " + target.Host
		if resp, err = r.do(ctx, r.stop, http.MethodGet, loc, hdr, nil); err != nil {
			return stepreport.Failed(redirectNetHint(err, target.Host), "following the Range GET's %d: %v", http.StatusTemporaryRedirect, err)
		}
	}
	if resp.status != http.StatusPartialContent {
		return stepreport.Failed(rangeHint(resp.status, resp.code()), "GET with Range %s answered %s (%s), not 206", rng, resp.describe(), via)
	}
	want := fmt.Sprintf("bytes %d-%d/%d", first, last, len(r.large))
	if cr := resp.header.Get("Content-Range"); cr != want {
		return stepreport.Failed(rangeHint(resp.status, ""), "Content-Range %q, want %q", cr, want)
	}
	if !bytes.Equal(resp.body, r.large[first:last+1]) {
		return stepreport.Failed(bytesHint, "the range's %d bytes differ from the uploaded ones", len(resp.body))
	}
	return stepreport.Passed("206 %s, %d bytes equal", via, len(resp.body))
}

// 6b. The mint invariant, as deployed: a URL that signs a Range beyond the
// inline limit gets a 307 whose URL signs that Range too, so S3 refuses it
// without the Range, and serves exactly that range with it. A build that
// mints host-only URLs would hand out the whole object.
func (r *runner) signedRange(ctx context.Context) stepreport.Result {
	if !r.largeFollowed {
		return stepreport.Skipped("", "get-large's redirect did not pass")
	}
	rng := fmt.Sprintf("bytes=1-%d", len(r.large)-1)
	u, err := r.through(func() (string, error) {
		return r.signer.Get(ctx, r.largeKey, URLTTL, func(in *s3.GetObjectInput) { in.Range = aws.String(rng) })
	})
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	hdr := http.Header{"Range": {rng}}
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, hdr, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if resp.status != http.StatusTemporaryRedirect {
		return stepreport.Failed(largeStatusHint(resp.status, resp.code()), "GET with a signed Range of %s answered %s, not 307", mib(len(r.large)-1), resp.describe())
	}
	loc := resp.header.Get("Location")
	target, err := url.Parse(loc)
	if err != nil || !target.IsAbs() {
		return stepreport.Failed(locationHint, "307 with Location %q, not an absolute URL", Redact(loc))
	}
	if got := target.Query().Get("X-Amz-SignedHeaders"); got != "host;range" {
		return stepreport.Failed(widerMintHint, "the 307's URL signs %q, not host;range: it drops the Range the client's URL signed", got)
	}
	bare, err := r.do(ctx, r.stop, http.MethodGet, loc, nil, nil)
	if err != nil {
		return stepreport.Failed(redirectNetHint(err, target.Host), "following the 307 without the Range: %v", err)
	}
	if bare.status != http.StatusForbidden {
		return stepreport.Failed(widerMintHint, "the 307's URL without the signed Range answered %s, not 403", bare.describe())
	}
	got, err := r.do(ctx, r.stop, http.MethodGet, loc, hdr, nil)
	if err != nil {
		return stepreport.Failed(redirectNetHint(err, target.Host), "following the 307: %v", err)
	}
	if got.status != http.StatusPartialContent {
		return stepreport.Failed(followHint(got.status, got.code(), got.body, target), "following the 307 with the Range: %s, not 206", got.describe())
	}
	if !bytes.Equal(got.body, r.large[1:]) {
		return stepreport.Failed(bytesHint, "the range's %d bytes differ from the uploaded ones", len(got.body))
	}
	return stepreport.Passed("307 signing host;range; refused without the Range, 206 with it, %s equal", mib(len(got.body)))
}

// 7. A HEAD of the large object: forwarded, with its length and ETag.
func (r *runner) head(ctx context.Context) stepreport.Result {
	if !r.largeStored {
		return stepreport.Skipped("", "the large object was not uploaded")
	}
	u, err := r.through(func() (string, error) { return r.signer.Head(ctx, r.largeKey, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodHead, u, nil, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if resp.status != http.StatusOK {
		return stepreport.Failed(readHint(resp.status, ""), "HEAD answered %d", resp.status)
	}
	if cl := resp.header.Get("Content-Length"); cl != strconv.Itoa(len(r.large)) {
		return stepreport.Failed(headHint, "HEAD Content-Length %q, want %d", cl, len(r.large))
	}
	// S3's own answer to the minted URL is the reference: S3 reports a
	// multipart object's ETag as CompleteMultipartUpload did, but not every
	// S3-compatible server does.
	etag := resp.header.Get("ETag")
	switch {
	case etag == "":
		return stepreport.Failed(headHint, "HEAD answered 200 with no ETag")
	case r.largeS3ETag != "" && etag != r.largeS3ETag:
		return stepreport.Failed(headHint, "HEAD ETag %s, but S3 itself answered %s", etag, r.largeS3ETag)
	}
	return stepreport.Passed("200, Content-Length %d, ETag %s", len(r.large), resp.header.Get("ETag"))
}

// preflight sends the browser's preflight for an upload PUT from origin to
// a presigned URL under the run's folder.
func (r *runner) preflight(ctx context.Context, origin string) (*response, error) {
	u, err := r.through(func() (string, error) { return r.signer.Put(ctx, r.corsKey, URLTTL) })
	if err != nil {
		return nil, err
	}
	return r.do(ctx, r.stop, http.MethodOptions, u, http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {http.MethodPut},
		"Access-Control-Request-Headers": {"content-type"},
	}, nil)
}

// allowed reports whether a preflight answer lets origin send a PUT.
func allowed(resp *response, origin string) bool {
	if resp.status < 200 || resp.status > 299 {
		return false
	}
	ao := resp.header.Get("Access-Control-Allow-Origin")
	if ao != origin && ao != "*" {
		return false
	}
	if m := resp.header.Get("Access-Control-Allow-Methods"); m != "" && !listHas(m, http.MethodPut) {
		return false
	}
	return true
}

func listHas(list, v string) bool {
	for _, e := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(e), v) {
			return true
		}
	}
	return false
}

// 8a. The ShotGrid site's preflight must be allowed.
func (r *runner) corsOrigin(ctx context.Context) stepreport.Result {
	if r.o.Origin == "" {
		return stepreport.Skipped("", "no origin given")
	}
	resp, err := r.preflight(ctx, r.o.Origin)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if isRedirect(resp.status) {
		return stepreport.Failed(preflightRedirectHint, "preflight answered %d", resp.status)
	}
	if !allowed(resp, r.o.Origin) {
		d := fmt.Sprintf("preflight for %s answered %s", r.o.Origin, resp.describe())
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods"} {
			if v := resp.header.Get(h); v != "" {
				d += fmt.Sprintf(", %s %s", h, v)
			}
		}
		return stepreport.Failed(originRefusedHint(r.o.Origin), "%s", d)
	}
	return stepreport.Passed("%d, Access-Control-Allow-Origin %s", resp.status, resp.header.Get("Access-Control-Allow-Origin"))
}

// 8b. A foreign origin's preflight must be refused.
func (r *runner) corsForeign(ctx context.Context) stepreport.Result {
	if r.o.Origin == "" {
		return stepreport.Skipped("", "no origin given")
	}
	resp, err := r.preflight(ctx, ForeignOrigin)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	if allowed(resp, ForeignOrigin) {
		return stepreport.Failed(foreignAllowedHint(resp.header.Get("Access-Control-Allow-Origin")), "preflight for %s answered %d with Access-Control-Allow-Origin %q",
			ForeignOrigin, resp.status, resp.header.Get("Access-Control-Allow-Origin"))
	}
	return stepreport.Passed("refused (%s)", resp.describe())
}

// 9a. A tampered signature: S3 refuses it, and the proxy must pass the 403
// on without a Location.
func (r *runner) tampered(ctx context.Context) stepreport.Result {
	key := r.readKey()
	u, err := r.through(func() (string, error) { return r.signer.Get(ctx, key, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	u, ok := tamper(u)
	if !ok {
		return stepreport.Failed(presignHint, "the minted URL has no X-Amz-Signature")
	}
	return r.refused(ctx, u, "tampered")
}

// 9b. A URL that expired before the run started.
func (r *runner) expiredURL(ctx context.Context) stepreport.Result {
	key := r.readKey()
	u, err := r.through(func() (string, error) {
		p, err := r.expired.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.o.Bucket), Key: aws.String(key)})
		if err != nil {
			return "", err
		}
		return p.URL, nil
	})
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	return r.refused(ctx, u, "expired")
}

// 9c. A signature from a principal the bucket policy does not list. The
// function cannot tell who signed a URL; S3 can, and with the recommended
// bucket policy it refuses the function's forwarded read of any principal
// but ShotGrid's, the proxy role and OtherReaderArns
// (DenyVpcReadsExceptListedPrincipals). So the answer is 403, and no
// redirect: the proxy role would otherwise mint its own URL for whoever
// signed.
func (r *runner) unlisted(ctx context.Context) stepreport.Result {
	if r.o.Unlisted == nil {
		return stepreport.Skipped("", "no --unlisted-profile given: the refusal of principals the bucket policy does not list is not checked")
	}
	if !r.smallStored && !r.largeStored {
		return stepreport.Skipped("", "nothing was uploaded to read")
	}
	mine, err := r.o.Credentials.Retrieve(ctx)
	if err != nil {
		return stepreport.Failed(presignHint, "the check's own credentials: %v", err)
	}
	theirs, err := r.o.Unlisted.Retrieve(ctx)
	if err != nil {
		return stepreport.Failed(unlistedCredentialsHint, "the unlisted principal's credentials: %v", err)
	}
	if theirs.AccessKeyID == mine.AccessKeyID {
		return stepreport.Failed(unlistedSameHint, "the unlisted principal signs with the check's own access key")
	}
	key := r.readKey()
	signer := sgurl.NewSigner(r.o.Unlisted, r.o.Region, r.o.Bucket, r.o.SignedHost)
	u, err := r.through(func() (string, error) { return signer.Get(ctx, key, URLTTL) })
	if err != nil {
		return stepreport.Failed(presignHint, "%v", err)
	}
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, nil, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	loc := resp.header.Get("Location")
	if resp.status != http.StatusForbidden || loc != "" {
		d := fmt.Sprintf("a URL signed by the unlisted principal got %s", resp.describe())
		if loc != "" {
			d += " with a Location to " + hostOf(loc)
		}
		return stepreport.Failed(unlistedHint(resp.status, loc != ""), "%s, want 403 with no Location", d)
	}
	return stepreport.Passed("403 %s for the unlisted principal's signature, no Location", resp.code())
}

func (r *runner) refused(ctx context.Context, u, what string) stepreport.Result {
	resp, err := r.do(ctx, r.stop, http.MethodGet, u, nil, nil)
	if err != nil {
		return stepreport.Failed(proxyNetHint(err, r.proxyHost()), "%v", err)
	}
	loc := resp.header.Get("Location")
	if resp.status != http.StatusForbidden || loc != "" {
		d := fmt.Sprintf("a %s URL got %s", what, resp.describe())
		if loc != "" {
			d += " with a Location to " + hostOf(loc)
		}
		return stepreport.Failed(notRefusedHint(resp.status, loc != ""), "%s, want 403 with no Location", d)
	}
	return stepreport.Passed("403 %s, no Location", resp.code())
}

// tamper changes the last hex digit of the signature.
func tamper(u string) (string, bool) {
	i := strings.Index(u, "X-Amz-Signature=")
	if i < 0 {
		return u, false
	}
	end := i + len("X-Amz-Signature=")
	for end < len(u) && u[end] != '&' {
		end++
	}
	if end == i+len("X-Amz-Signature=") {
		return u, false
	}
	c := byte('0')
	if u[end-1] == '0' {
		c = '1'
	}
	return u[:end-1] + string(c) + u[end:], true
}

// 10. Clean-up, directly on S3.
func (r *runner) cleanup(ctx context.Context) stepreport.Result {
	if r.o.Keep {
		return stepreport.Skipped("", "kept under %s (--keep)", r.folder)
	}
	var removed []string
	var problems []string
	if r.uploadID != "" && !r.largeStored {
		if _, err := r.o.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(r.o.Bucket), Key: aws.String(r.largeKey), UploadId: aws.String(r.uploadID),
		}); err != nil {
			problems = append(problems, "AbortMultipartUpload: "+err.Error())
		} else {
			removed = append(removed, "the unfinished upload")
		}
	}
	for _, k := range []struct {
		key    string
		stored bool
	}{{r.smallKey, r.smallStored}, {r.largeKey, r.largeStored}} {
		if !k.stored {
			continue
		}
		if _, err := r.o.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.o.Bucket), Key: aws.String(k.key)}); err != nil {
			problems = append(problems, "DeleteObject "+k.key+": "+err.Error())
		} else {
			removed = append(removed, k.key)
		}
	}
	if len(problems) > 0 {
		return stepreport.Failed(cleanupHint(r.folder), "%s", strings.Join(problems, "; "))
	}
	if len(removed) == 0 {
		return stepreport.Passed("nothing to remove")
	}
	return stepreport.Passed("removed %s", strings.Join(removed, ", "))
}

func isRedirect(status int) bool {
	return status >= 300 && status <= 399 && status != http.StatusNotModified
}

// hostOf is a URL's host, or the URL without its query.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return Redact(u)
}
