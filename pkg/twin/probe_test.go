package twin_test

// The mint's URL rules and the two-part probe against servers that check
// SigV4 themselves: every key shape the mint escapes is minted, followed
// and served by versitygw (and SeaweedFS in the reference run), and an
// object between the probe and the inline limit is read in two requests
// that S3 accepts under the client's one signature.

import (
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// mintKeyShapes are the keys S3's escaping singles out, as the mint's unit
// table has them (pkg/proxy signer_test.go), less the ones a peer's file
// system cannot store (see TestVersityGWMintKeyShapes).
var mintKeyShapes = []string{
	"with space.mov",
	"plus+sign.mov",
	"percent%20literal.mov",
	"percent%.mov",
	"a~b.mov",
	"eq=uals.mov",
	"a&b.mov",
	"what?.mov",
	"take#2.mov",
	"at@sign.mov",
	"quote'paren(1).mov",
	"a!$*,;:b.mov",
	"日本/ファイル.mov",
	"Кириллица.txt",
	"a//b.mov",
	"tab\there.mov",
	"shotgrid/demo/attachments/0a/1b/shot 010_v001+final.mov",
	// Long, in segments a file system takes (255 bytes each).
	strings.Repeat(strings.Repeat("k", 50)+"/", 19) + "é.mov",
	"a/../b.mov",
}

// Every key shape is minted and the mint is honoured: the 307 names the
// key escaped once, signs exactly host (or host and range, for a URL that
// signs a Range), and the server, checking the minted signature itself,
// serves the object's bytes.
func TestVersityGWMintKeyShapes(t *testing.T) {
	gw := startVGW(t)
	st := newVGWStack(t, gw, vgwOptions{})
	keys := mintKeyShapes
	if os.Getenv(peertest.PeerEnv) == "seaweedfs" {
		// SeaweedFS refuses a key with a ".." segment (400 InvalidRequest).
		keys = keys[:len(keys)-1]
	}
	for i, key := range keys {
		key := "shapes/" + key
		obj := peertest.Bytes(2*vgwInlineMax, uint64(300+i))
		vgwPut(t, gw, key, obj, "application/octet-stream")
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			cases := []struct {
				name   string
				edit   func(*s3.GetObjectInput)
				header http.Header
				signs  string
				want   []byte
			}{
				{"host only, an override", func(in *s3.GetObjectInput) {
					in.ResponseContentDisposition = aws.String(`attachment; filename="a b.mov"`)
				}, nil, "host", obj},
				{"signed range", func(in *s3.GetObjectInput) { in.Range = aws.String("bytes=100-70000") },
					http.Header{"Range": {"bytes=100-70000"}}, "host;range", obj[100:70001]},
			}
			for _, tc := range cases {
				u := st.getURL(t, key, vgwClientTTL, tc.edit)
				r := vgwDo(t, vgwStop, http.MethodGet, u, tc.header, nil)
				if r.status != http.StatusTemporaryRedirect {
					t.Fatalf("%q %s: status %d, want 307; body %.300s", key, tc.name, r.status, r.body)
				}
				loc := r.header.Get("Location")
				p, _ := url.Parse(loc)
				if want := "/" + vgwBucket + "/" + vgwEscapeKey(key); p.EscapedPath() != want || !strings.HasPrefix(loc, gw.URL+want+"?") {
					t.Errorf("%q %s: Location path %q, want %q", key, tc.name, p.EscapedPath(), want)
				}
				if got := p.Query().Get("X-Amz-SignedHeaders"); got != tc.signs {
					t.Errorf("%q %s: minted X-Amz-SignedHeaders %q, want %q", key, tc.name, got, tc.signs)
				}
				f := vgwDo(t, vgwStop, http.MethodGet, loc, tc.header, nil)
				if f.status/100 != 2 {
					t.Fatalf("%q %s: following: status %d; body %.300s", key, tc.name, f.status, f.body)
				}
				vgwEqualBytes(t, key+" "+tc.name, f.body, tc.want)
				if tc.name == "host only, an override" && f.header.Get("Content-Disposition") != `attachment; filename="a b.mov"` {
					t.Errorf("%q: Content-Disposition %q, want the client's override", key, f.header.Get("Content-Disposition"))
				}
			}
		})
	}
}

// With the default inline limit, the probe asks for 64 KiB: an object that
// fits it is one request, one up to the limit is two (the second for the
// rest, with If-Match naming the first answer's ETag), both accepted under
// the client's host-only signature, and one over the limit is one request
// and a 307.
func TestVersityGWProbeSizeClasses(t *testing.T) {
	gw := startVGW(t)
	const inlineMax = 700 << 10
	st := newVGWStack(t, gw, vgwOptions{inlineMax: inlineMax})
	classes := []struct {
		size   int
		status int
		ranges []string
	}{
		{1000, 200, []string{"bytes=0-65535"}},
		{64 << 10, 200, []string{"bytes=0-65535"}},
		{64<<10 + 1, 200, []string{"bytes=0-65535", "bytes=65536-65536"}},
		{300 << 10, 200, []string{"bytes=0-65535", "bytes=65536-307199"}},
		{inlineMax, 200, []string{"bytes=0-65535", "bytes=65536-716799"}},
		{inlineMax + 1, 307, []string{"bytes=0-65535"}},
	}
	for i, c := range classes {
		key := "probe/" + strconv.Itoa(c.size) + ".bin"
		obj := peertest.Bytes(c.size, uint64(400+i))
		etag := vgwPut(t, gw, key, obj, "image/jpeg")
		t.Run(strconv.Itoa(c.size), func(t *testing.T) {
			u := st.getURL(t, key, vgwClientTTL)
			st.counter.take()
			r := vgwDo(t, vgwStop, http.MethodGet, u, nil, nil)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %.300s", r.status, c.status, r.body)
			}
			sent := st.counter.take()
			if len(sent) != len(c.ranges) {
				t.Fatalf("%d upstream requests, want %d: %v", len(sent), len(c.ranges), sent)
			}
			for j, s := range sent {
				if s.rng != c.ranges[j] {
					t.Errorf("request %d: Range %q, want %q", j+1, s.rng, c.ranges[j])
				}
				if want := map[bool]string{true: etag}[j == 1]; s.ifMatch != want {
					t.Errorf("request %d: If-Match %q, want %q", j+1, s.ifMatch, want)
				}
			}
			if c.status == 307 {
				return
			}
			vgwEqualBytes(t, "inline body", r.body, obj)
			for k, v := range map[string]string{"Content-Length": strconv.Itoa(c.size), "ETag": etag, "Content-Type": "image/jpeg", "Content-Range": ""} {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
