package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A read-only function refuses every write that reaches it, before
// anything goes upstream, and still serves reads.
func TestReadOnlyRefusesWrites(t *testing.T) {
	for _, tc := range []struct {
		name, method, target string
	}{
		{"PUT", "PUT", "/shotgun/new.mov?" + presigned()},
		{"part", "PUT", "/shotgun/new.mov?partNumber=1&uploadId=u&" + presigned()},
		{"create multipart", "POST", "/shotgun/new.mov?uploads&" + presigned()},
		{"DELETE", "DELETE", "/shotgun/small.mov?" + presigned()},
		{"unsigned PUT", "PUT", "/shotgun/new.mov"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, env{"S3PROXY_READ_ONLY": "true"})
			resp := f.do(tc.method, tc.target, nil, []byte("hello"))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) || !bytes.Contains(body, []byte("read-only")) {
				t.Errorf("status %d, body %s; want 403 AccessDenied saying read-only", resp.StatusCode, body)
			}
			if n := f.up.count(); n != 0 {
				t.Errorf("%d upstream requests; a read-only proxy sends no write to S3", n)
			}
			if !strings.Contains(f.logs.String(), `"decision":"denied"`) {
				t.Errorf("log lacks the denial: %s", f.logs)
			}
		})
	}
	t.Run("writable still relays", func(t *testing.T) {
		f := newFixture(t, env{"S3PROXY_READ_ONLY": "false"})
		if resp := f.do("PUT", "/shotgun/new.mov?"+presigned(), nil, []byte("hello")); resp.StatusCode != http.StatusOK || f.up.count() != 1 {
			t.Errorf("status %d, %d upstream requests; want the relay", resp.StatusCode, f.up.count())
		}
	})
	t.Run("reads still served", func(t *testing.T) {
		f := newFixture(t, env{"S3PROXY_READ_ONLY": "true"})
		if resp := f.do("GET", "/shotgun/small.mov?"+presigned(), nil, nil); resp.StatusCode != http.StatusOK || f.up.count() != 1 {
			t.Errorf("GET: status %d, %d upstream requests", resp.StatusCode, f.up.count())
		}
	})
}
