package twin_test

// The mint invariant against a server that checks SigV4 itself: each case
// is a way a client holding a URL that grants a little could get a minted
// URL that grants more, and each failed before grant.go existed. versitygw
// (and SeaweedFS in the reference run) judges both the client's signature
// and the minted one; the IAM case needs versitygw's users and bucket
// policies, so it runs against versitygw only.

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// presignRaw signs any request for the signed host as a client would, for
// operations the SDK has no presigner for (?tagging), and returns the URL
// pointed at the twin.
func presignRaw(t *testing.T, st *vgwStack, creds aws.CredentialsProvider, method, pathAndQuery string) string {
	t.Helper()
	c, err := creds.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, "https://"+vgwSignedHost+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "3600")
	req.URL.RawQuery = q.Encode()
	signed, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(context.Background(), c, req, "UNSIGNED-PAYLOAD", "s3", vgwRegion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return st.through(t, signed)
}

func TestVersityGWMintKeepsSignedHeaders(t *testing.T) {
	gw := startVGW(t)
	const key = "shots/030/plate_v001.exr"
	obj := peertest.Bytes(2<<20, 30)
	etag := vgwPut(t, gw, key, obj, "image/x-exr")
	st := newVGWStack(t, gw, vgwOptions{})

	t.Run("a signed Range stays signed", func(t *testing.T) {
		const rng = "bytes=0-999999"
		u := st.getURL(t, key, vgwClientTTL, func(in *s3.GetObjectInput) { in.Range = aws.String(rng) })
		if !strings.Contains(u, "X-Amz-SignedHeaders=host%3Brange") {
			t.Fatalf("the client's URL does not sign range: %s", vgwRedact(u))
		}
		r := vgwDo(t, vgwStop, http.MethodGet, u, http.Header{"Range": {rng}}, nil)
		if r.status != http.StatusTemporaryRedirect {
			t.Fatalf("status %d, want 307; body %.300s", r.status, r.body)
		}
		loc := r.header.Get("Location")
		if q, _ := url.Parse(loc); q.Query().Get("X-Amz-SignedHeaders") != "host;range" {
			t.Errorf("minted X-Amz-SignedHeaders = %q, want host;range", q.Query().Get("X-Amz-SignedHeaders"))
		}
		// Without the Range, S3 refuses the minted URL: it grants no more
		// than the client's did.
		whole := vgwDo(t, vgwStop, http.MethodGet, loc, nil, nil)
		if whole.status != http.StatusForbidden || len(whole.body) >= len(obj) {
			t.Errorf("minted URL without the signed Range: status %d, %d bytes; want 403", whole.status, len(whole.body))
		}
		other := vgwDo(t, vgwStop, http.MethodGet, loc, http.Header{"Range": {"bytes=0-"}}, nil)
		if other.status != http.StatusForbidden {
			t.Errorf("minted URL with a wider Range: status %d, want 403", other.status)
		}
		// A client following the redirect resends its Range and gets
		// exactly what its own URL granted.
		f := vgwDo(t, vgwFollow, http.MethodGet, u, http.Header{"Range": {rng}}, nil)
		if f.status != http.StatusPartialContent {
			t.Fatalf("followed: status %d, want 206", f.status)
		}
		vgwEqualBytes(t, "followed range", f.body, obj[:1000000])
	})

	t.Run("a signed If-Match stays signed", func(t *testing.T) {
		u := st.getURL(t, key, vgwClientTTL, func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) })
		r := vgwDo(t, vgwStop, http.MethodGet, u, http.Header{"If-Match": {etag}}, nil)
		if r.status != http.StatusTemporaryRedirect {
			t.Fatalf("status %d, want 307; body %.300s", r.status, r.body)
		}
		loc := r.header.Get("Location")
		if bare := vgwDo(t, vgwStop, http.MethodGet, loc, nil, nil); bare.status != http.StatusForbidden {
			t.Errorf("minted URL without the signed If-Match: status %d, want 403", bare.status)
		}
		f := vgwDo(t, vgwFollow, http.MethodGet, u, http.Header{"If-Match": {etag}}, nil)
		if f.status != http.StatusOK {
			t.Fatalf("followed: status %d, want 200", f.status)
		}
		vgwEqualBytes(t, "followed body", f.body, obj)
	})
}

func TestVersityGWRefusalKeepsItsStatus(t *testing.T) {
	gw := startVGW(t)
	const key = "shots/031/small.jpg"
	vgwPut(t, gw, key, peertest.Bytes(50, 31), "image/jpeg")
	// Below the size of S3's SignatureDoesNotMatch body.
	st := newVGWStack(t, gw, vgwOptions{inlineMax: 100})
	bad, _ := url.Parse(st.getURL(t, key, vgwClientTTL))
	q := bad.Query()
	sig := []byte(q.Get("X-Amz-Signature"))
	sig[0] = "01"[sig[0]&1^1]
	q.Set("X-Amz-Signature", string(sig))
	bad.RawQuery = q.Encode()
	r := vgwDo(t, vgwStop, http.MethodGet, bad.String(), nil, nil)
	if r.status != http.StatusForbidden || vgwErrorCode(r.body) != "SignatureDoesNotMatch" {
		t.Errorf("tampered URL: status %d, code %q; want S3's 403 SignatureDoesNotMatch", r.status, vgwErrorCode(r.body))
	}
	vgwWantNoLocation(t, r)
	missing := vgwDo(t, vgwStop, http.MethodGet, st.getURL(t, "shots/031/none.jpg", vgwClientTTL), nil, nil)
	if missing.status != http.StatusNotFound || vgwErrorCode(missing.body) != "NoSuchKey" {
		t.Errorf("missing key: status %d, code %q; want 404 NoSuchKey", missing.status, vgwErrorCode(missing.body))
	}
}

func TestVersityGWDirectCarriesReadsOnly(t *testing.T) {
	gw := startVGW(t)
	const key = "shotgun/shots/032/a.mov"
	vgwPut(t, gw, key, peertest.Bytes(3*vgwInlineMax, 32), "video/quicktime")
	vgwPut(t, gw, "private/secret.mov", peertest.Bytes(3*vgwInlineMax, 33), "video/quicktime")
	st := newVGWStack(t, gw, vgwOptions{via: "proxy", keyPrefixes: "shotgun/"})
	gwURL, _ := url.Parse(gw.URL)
	// A caller holding bucket credentials signs requests for the endpoint
	// host and sends them through the proxy's /_direct route.
	endpointSigner := s3.NewPresignClient(s3.New(s3.Options{
		Region: vgwRegion, Credentials: gw.Credentials, BaseEndpoint: aws.String(gw.URL), UsePathStyle: true,
	}))
	direct := func(u string) string {
		t.Helper()
		p, _ := url.Parse(u)
		if p.Host != gwURL.Host {
			t.Fatalf("signed for %s, want the endpoint %s", p.Host, gwURL.Host)
		}
		return st.base + "/_direct" + p.RequestURI()
	}
	ctx := context.Background()

	put, err := endpointSigner.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String("shotgun/planted.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if r := vgwDo(t, vgwStop, http.MethodPut, direct(put.URL), nil, []byte("planted")); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT through /_direct: status %d, want 405", r.status)
	}
	if _, err := gw.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String("shotgun/planted.txt")}); err == nil {
		t.Error("PUT through /_direct reached S3: the object exists")
	}
	del, err := endpointSigner.PresignDeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if r := vgwDo(t, vgwStop, http.MethodDelete, direct(del.URL), nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE through /_direct: status %d, want 405", r.status)
	}
	if _, err := gw.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String(key)}); err != nil {
		t.Errorf("DELETE through /_direct reached S3: %v", err)
	}
	list, err := s3.NewPresignClient(s3.New(s3.Options{Region: vgwRegion, Credentials: gw.Credentials, BaseEndpoint: aws.String(gw.URL), UsePathStyle: true})).
		PresignHeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(vgwBucket)})
	if err != nil {
		t.Fatal(err)
	}
	listURL := strings.Replace(direct(list.URL), "/"+vgwBucket+"?", "/"+vgwBucket+"/?list-type=2&", 1)
	if r := vgwDo(t, vgwStop, http.MethodGet, listURL, nil, nil); r.status != http.StatusForbidden || strings.Contains(string(r.body), "ListBucketResult") {
		t.Errorf("listing through /_direct: status %d, want 403", r.status)
	}
	secret, err := endpointSigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(vgwBucket), Key: aws.String("private/secret.mov")})
	if err != nil {
		t.Fatal(err)
	}
	if r := vgwDo(t, vgwStop, http.MethodGet, direct(secret.URL), nil, nil); r.status != http.StatusForbidden {
		t.Errorf("GET outside the key prefixes through /_direct: status %d, want 403", r.status)
	}

	// What the route is for still works, and the Location names the
	// configured proxy, whatever Host the client sent.
	req, _ := http.NewRequest(http.MethodGet, st.getURL(t, key, vgwClientTTL), nil)
	req.Host = "evil.example"
	resp, err := vgwStop.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, st.base+"/_direct/") {
		t.Fatalf("status %d, Location %q; want 307 to %s/_direct/", resp.StatusCode, vgwRedact(loc), st.base)
	}
	if f := vgwDo(t, vgwStop, http.MethodGet, loc, nil, nil); f.status != http.StatusOK {
		t.Errorf("following the minted URL through /_direct: status %d, want 200", f.status)
	}
}

// A user who may read an object's tags, and not the object, must not get
// the object through the proxy however small the inline limit.
func TestMintRefusesSubresourceIAM(t *testing.T) {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{
		Buckets: []string{vgwBucket}, Region: vgwRegion, VirtualDomain: "s3.amazonaws.com", IAM: true,
	})
	const key = "shots/033/tagged.mov"
	obj := peertest.Bytes(3*vgwInlineMax, 34)
	vgwPut(t, gw, key, obj, "video/quicktime")
	if _, err := gw.Client.PutObjectTagging(context.Background(), &s3.PutObjectTaggingInput{
		Bucket: aws.String(vgwBucket), Key: aws.String(key),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("dept"), Value: aws.String("comp")}}},
	}); err != nil {
		t.Fatal(err)
	}
	access, secret := gw.CreateUser(t, peertest.RoleUser)
	gw.PutBucketPolicy(t, vgwBucket, peertest.AllowPolicy(access, []string{"s3:GetObjectTagging"}, peertest.ARN(vgwBucket, key)))
	user := credentials.NewStaticCredentialsProvider(access, secret, "")

	// The tagging XML is about 200 bytes: over this limit.
	st := newVGWStack(t, gw, vgwOptions{inlineMax: 64})
	tagging := presignRaw(t, st, user, http.MethodGet, "/"+vgwEscapeKey(key)+"?tagging=")
	r := vgwDo(t, vgwStop, http.MethodGet, tagging, nil, nil)
	vgwWantNoLocation(t, r)
	if r.status != http.StatusNotImplemented || vgwErrorCode(r.body) != "NotImplemented" {
		t.Errorf("?tagging over the inline limit: status %d, code %q; want 501 NotImplemented", r.status, vgwErrorCode(r.body))
	}
	if f := vgwDo(t, vgwFollow, http.MethodGet, tagging, nil, nil); len(f.body) >= len(obj) {
		t.Errorf("following ?tagging returned %d bytes: the object", len(f.body))
	}
	// The user's own GetObject is refused by S3, and by the proxy with S3's
	// status: the policy is what it seems.
	get := presignRaw(t, st, user, http.MethodGet, "/"+vgwEscapeKey(key))
	if g := vgwDo(t, vgwStop, http.MethodGet, get, nil, nil); g.status != http.StatusForbidden {
		t.Errorf("the user's GetObject: status %d, want 403", g.status)
	}
	// Under a limit the XML fits, the proxy answers it inline.
	wide := newVGWStack(t, gw, vgwOptions{})
	in := vgwDo(t, vgwStop, http.MethodGet, presignRaw(t, wide, user, http.MethodGet, "/"+vgwEscapeKey(key)+"?tagging="), nil, nil)
	if in.status != http.StatusOK || !strings.Contains(string(in.body), "<Key>dept</Key>") {
		t.Errorf("?tagging inline: status %d, body %.200s", in.status, in.body)
	}
}

// A part of a multipart object is minted as that part: partNumber is
// carried, and no probe Range is sent with it (S3 refuses the two together).
func TestVersityGWMintPart(t *testing.T) {
	gw := startVGW(t)
	const key = "shots/034/multipart.mov"
	ctx := context.Background()
	part1, part2 := peertest.Bytes(5<<20, 35), peertest.Bytes(3*vgwInlineMax, 36)
	up, err := gw.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(vgwBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var parts []s3types.CompletedPart
	for i, b := range [][]byte{part1, part2} {
		n := int32(i + 1)
		out, err := gw.Client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(vgwBucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(b)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := gw.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(vgwBucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	st := newVGWStack(t, gw, vgwOptions{})
	u := st.getURL(t, key, vgwClientTTL, func(in *s3.GetObjectInput) { in.PartNumber = aws.Int32(2) })
	r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
	if r.status != http.StatusTemporaryRedirect {
		t.Fatalf("status %d, want 307; body %.300s", r.status, r.body)
	}
	if loc, _ := url.Parse(r.header.Get("Location")); loc.Query().Get("partNumber") != "2" {
		t.Errorf("minted partNumber = %q, want 2", loc.Query().Get("partNumber"))
	}
	f := vgwDo(t, vgwFollow, http.MethodGet, u, nil, nil)
	if f.status != http.StatusPartialContent && f.status != http.StatusOK {
		t.Fatalf("followed: status %d", f.status)
	}
	vgwEqualBytes(t, "part 2", f.body, part2)
}
