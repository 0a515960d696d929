package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/mediaisolation/s3proxy/pkg/config"
)

// FuzzMintInvariant is the property behind every redirect: for any request
// S3 accepts (generated query parameters, signed-header sets and their
// values, ranges, versions, SigV4 or SigV2), whenever the handler answers
// 307 the Location grants no more than the request S3 checked did. The
// check, mintViolation, is written apart from grant.go and trusts nothing of
// it: it reads the Location as S3 would, and compares it with the upstream
// request the fake S3 received (not the client's, which is what the code
// under test is tempted to trust), recomputing the minted signature over
// that request's header values, so a URL signed over any other value fails.
//
// Header values are generated empty, blank, repeated and in other case:
// flags bit 4 sends Range even when empty, bit 5 sends it twice (the second
// upper-cased), bit 6 sends If-Match even when empty, bit 7 upper-cases the
// values sent.
func FuzzMintInvariant(f *testing.F) {
	f.Add("shotgun/a.mov", "", "", "", "", byte(0), uint16(3000))
	f.Add("shotgun/a.mov", "versionId=v1&response-content-disposition=attachment", "", "", "", byte(0), uint16(3000))
	f.Add("shotgun/a.mov", "", "range", "bytes=0-999999", "", byte(0), uint16(3000))
	f.Add("shotgun/a.mov", "tagging=", "", "", "", byte(0), uint16(3000))
	f.Add("shotgun/a.mov", "partNumber=2&x-id=GetObject", "if-match", "", `"etag"`, byte(1), uint16(10))
	f.Add("shotgun/a b+c.mov", "uploadId=x", "x-amz-server-side-encryption-customer-key", "", "", byte(2), uint16(3000))
	f.Add("shotgun/a.mov", "response-expires=Thu%2C%2001%20Dec%202026%2016%3A00%3A00%20GMT", "x-amz-checksum-mode;range", "bytes=5-", "", byte(4), uint16(60))
	f.Add("shotgun/a.mov", "", "", "", "", byte(8), uint16(3000)) // SigV2
	f.Add("shotgun/a.mov", "acl", "", "", "", byte(8|2), uint16(3000))
	f.Add("shotgun/a.mov", "", "range", "", "", byte(16), uint16(3000))             // empty Range, signed
	f.Add("shotgun/a.mov", "", "range", " ", "", byte(16), uint16(3000))            // blank Range, signed
	f.Add("shotgun/a.mov", "", "range", "bytes=0-9", "", byte(16|32), uint16(3000)) // Range twice
	f.Add("shotgun/a.mov", "", "if-match", "", "", byte(64), uint16(3000))          // empty If-Match, signed
	f.Add("shotgun/a.mov", "", "range;if-match", "bytes=0-9", `"e"`, byte(128), uint16(3000))
	f.Fuzz(func(t *testing.T, key, extraQuery, signedExtra, rng, ifMatch string, flags byte, left uint16) {
		cfg := fuzzConfigs()[flags&3]
		if key == "" || strings.ContainsAny(key, "?#%\x00") {
			return
		}
		now := fuzzNow
		hdr := http.Header{}
		set := func(k, v string, always bool) {
			if flags&128 != 0 {
				v = strings.ToUpper(v)
			}
			if v != "" || always {
				hdr[k] = []string{v}
			}
		}
		set("Range", rng, flags&16 != 0)
		if flags&32 != 0 {
			hdr["Range"] = append(hdr["Range"], strings.ToUpper(rng))
		}
		set("If-Match", ifMatch, flags&64 != 0)
		if flags&4 != 0 {
			hdr.Set("X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256")
			hdr.Set("X-Amz-Server-Side-Encryption-Customer-Key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
			hdr.Set("X-Amz-Server-Side-Encryption-Customer-Key-Md5", "zZ5FnqcIqUjVwvWmyog4zw==")
			hdr.Set("X-Amz-Checksum-Mode", "ENABLED")
		}
		var query string
		var signed []string
		expiry := now.Add(time.Duration(left) * time.Second)
		v2 := flags&8 != 0
		if !v2 {
			signed = []string{"host"}
			for _, h := range strings.Split(strings.ToLower(signedExtra), ";") {
				if h != "" && h != "host" && !slices.Contains(signed, h) {
					signed = append(signed, h)
				}
			}
			slices.Sort(signed)
			signedAt := now.Add(-5 * time.Minute)
			expires := int(expiry.Sub(signedAt) / time.Second)
			query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIACLIENT%2F" + signedAt.Format("20060102") + "%2Fus-east-1%2Fs3%2Faws4_request" +
				"&X-Amz-Date=" + signedAt.Format("20060102T150405Z") + "&X-Amz-Expires=" + strconv.Itoa(expires) +
				"&X-Amz-SignedHeaders=" + url.QueryEscape(strings.Join(signed, ";")) + "&X-Amz-Signature=" + strings.Repeat("ab", 32)
		} else {
			query = "AWSAccessKeyId=AKIACLIENT&Expires=" + strconv.FormatInt(expiry.Unix(), 10) + "&Signature=c2lnbmF0dXJl"
		}
		if extraQuery != "" {
			query += "&" + extraQuery
		}
		path := "/" + escapeKey(key)
		if !cfg.VirtualHosted {
			path = "/media" + path
		}

		s3 := &acceptAll{}
		h := New(cfg, Deps{Upstream: s3, Signer: fuzzSigner(), Now: func() time.Time { return now }})
		r := httptest.NewRequest(http.MethodGet, "http://proxy.test/", nil)
		r.RequestURI = path + "?" + query
		r.URL = &url.URL{Path: key, RawPath: path, RawQuery: query}
		r.Header = hdr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusTemporaryRedirect {
			return
		}
		if s3.got == nil {
			t.Fatalf("307 without an upstream request S3 accepted")
		}
		upSigned := signed
		if v2 {
			// SigV2 signs every x-amz-* header S3 received.
			upSigned = nil
			for k := range s3.got.Header {
				if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
					upSigned = append(upSigned, lk)
				}
			}
		}
		if err := mintViolation(cfg, key, s3.got.URL.RawQuery, upSigned, s3.got.Header, expiry, w.Header().Get("Location")); err != nil {
			t.Fatalf("307 grants more than the request S3 checked: %v\nclient %s %q\nupstream %q\nLocation %s",
				err, r.RequestURI, hdr, s3.got.Header, w.Header().Get("Location"))
		}
	})
}

// acceptAll is S3 accepting every signature and holding a 5000-byte object,
// the case in which the handler mints: the bound on what it may mint is the
// request S3 received, which it keeps.
type acceptAll struct{ got *http.Request }

func (a *acceptAll) Do(r *http.Request) (*http.Response, error) {
	a.got = r
	const size = 5000
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, ContentLength: size, Request: r,
		Body: io.NopCloser(bytes.NewReader(make([]byte, size)))}
	if rng := r.Header.Get("Range"); rng != "" {
		resp.StatusCode = http.StatusPartialContent
		resp.Header.Set("Content-Range", "bytes 0-4998/10000")
		resp.ContentLength = size - 1
		resp.Body = io.NopCloser(bytes.NewReader(make([]byte, size-1)))
	}
	return resp, nil
}

// mintViolation reports how location exceeds the request S3 received
// (upQuery, the headers its signature covers, upHdr), or nil.
func mintViolation(cfg *config.Config, key, upQuery string, upSigned []string, upHdr http.Header, clientExpiry time.Time, location string) error {
	selecting := map[string]bool{"versionId": true, "partNumber": true, "response-cache-control": true, "response-content-disposition": true,
		"response-content-encoding": true, "response-content-language": true, "response-content-type": true, "response-expires": true}
	auth := map[string]bool{"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
		"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
		"AWSAccessKeyId": true, "Expires": true, "Signature": true}

	// The request S3 received must have been a plain GetObject.
	client := map[string][]string{}
	for _, part := range strings.Split(upQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("minted for an unparsable query")
		}
		client[dk] = append(client[dk], dv)
	}
	for k, vs := range client {
		switch {
		case len(vs) != 1:
			return fmt.Errorf("minted for a repeated parameter %q", k)
		case auth[k], selecting[k], k == "x-id" && vs[0] == "GetObject":
		default:
			return fmt.Errorf("minted for a request with parameter %q: not a plain GetObject", k)
		}
	}

	u, err := url.Parse(location)
	if err != nil {
		return err
	}
	if u.Scheme+"://"+u.Host != cfg.EndpointURL.String() {
		return fmt.Errorf("host %q is not the endpoint", u.Host)
	}
	if p, err := url.PathUnescape(u.EscapedPath()); err != nil || p != "/"+cfg.Bucket+"/"+key {
		return fmt.Errorf("path %q names another object", u.EscapedPath())
	}
	lq, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return err
	}
	hoisted := map[string]bool{}
	for k, vs := range lq {
		lk := strings.ToLower(k)
		switch {
		case len(vs) != 1:
			return fmt.Errorf("repeated parameter %q", k)
		case auth[k] && strings.HasPrefix(k, "X-Amz-"):
		case k == "x-id" && vs[0] == "GetObject":
		case selecting[k]:
			if cv, ok := client[k]; !ok || cv[0] != vs[0] {
				return fmt.Errorf("parameter %q=%q differs from the client's %q", k, vs[0], cv)
			}
		case strings.HasPrefix(lk, "x-amz-") && slices.Contains(upSigned, lk) && len(upHdr.Values(k)) == 1 && upHdr.Get(k) == vs[0]:
			hoisted[lk] = true
		default:
			return fmt.Errorf("parameter %q the client's URL did not have", k)
		}
	}
	for k, vs := range client {
		if selecting[k] && lq.Get(k) != vs[0] {
			return fmt.Errorf("parameter %q dropped", k)
		}
	}
	minted := strings.Split(lq.Get("X-Amz-SignedHeaders"), ";")
	if !slices.Contains(minted, "host") {
		return fmt.Errorf("host not signed")
	}
	for _, h := range minted {
		if h != "host" && !slices.Contains(upSigned, h) {
			return fmt.Errorf("signs %q, which the client's URL did not", h)
		}
	}
	for _, h := range upSigned {
		if h != "host" && !slices.Contains(minted, h) && !hoisted[h] {
			return fmt.Errorf("drops the client's signed header %q", h)
		}
	}
	for _, h := range upSigned {
		// What S3 received once, with a value: an empty or blank one is
		// no constraint S3 enforces, and a repeated one no single value.
		if vs := upHdr.Values(h); h != "host" && (len(vs) != 1 || strings.TrimSpace(vs[0]) == "") {
			return fmt.Errorf("minted for signed header %q sent upstream as %q", h, vs)
		}
	}
	at, err := time.Parse("20060102T150405Z", lq.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	secs, err := strconv.Atoi(lq.Get("X-Amz-Expires"))
	if err != nil || at.Add(time.Duration(secs)*time.Second).After(clientExpiry) {
		return fmt.Errorf("expires after the client's URL (%s + %ss > %s)", at, lq.Get("X-Amz-Expires"), clientExpiry)
	}

	// Recompute the signature over the values S3 received: a URL signed
	// over any other value does not reproduce it.
	bare := *u
	q := url.Values{}
	for k, vs := range lq {
		if k == "X-Amz-Expires" || !auth[k] {
			q[k] = vs
		}
	}
	bare.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodGet, bare.String(), nil)
	for _, h := range minted {
		if h != "host" {
			req.Header.Set(h, upHdr.Get(h))
		}
	}
	creds, _ := fuzzCreds.Retrieve(context.Background())
	again, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", cfg.Region, at)
	if err != nil {
		return err
	}
	au, _ := url.Parse(again)
	if got, want := au.Query().Get("X-Amz-Signature"), lq.Get("X-Amz-Signature"); got != want {
		return fmt.Errorf("the minted signature does not cover the values S3 received for %v", minted)
	}
	return nil
}
