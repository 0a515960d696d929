package twin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// A read-only twin (S3PROXY_READ_ONLY=true, the replica proxy) sends no
// write to S3 by any route, whatever UploadPassthrough says, and never
// invokes the function for one; reads still reach the function.
func TestALBReadOnlyWritesNeverReachS3(t *testing.T) {
	for _, passthrough := range []bool{true, false} {
		s := &albSetup{fn: &fakeInvoker{invoke: lambdaOK}, upstream: newTarget(t, "upstream"), endpoint: newTarget(t, "endpoint")}
		env := sampleEnv(s.upstream.URL)
		env["S3PROXY_ENDPOINT_URL"] = s.endpoint.URL
		env["S3PROXY_READ_ONLY"] = "true"
		cfg, err := config.FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		s.lb = twin.New(twin.Options{Config: cfg, Passthrough: passthrough, Invoker: s.fn, FunctionTimeout: 5 * time.Second})
		srv := httptest.NewServer(s.lb)
		t.Cleanup(srv.Close)
		for _, c := range []struct{ method, target string }{
			{"PUT", "/shotgun/new.mov?" + sig},
			{"PUT", "/shotgun/new.mov?partNumber=1&uploadId=u&" + sig},
			{"POST", "/shotgun/new.mov?uploads&" + sig},
			{"POST", "/shotgun/new.mov?uploadId=u&" + sig},
			{"DELETE", "/shotgun/small.mov?" + sig},
			{"DELETE", "/shotgun/new.mov?uploadId=u&" + sig},
			{"PUT", "/shotgun/new.mov"},
			{"PUT", "/_direct/media/shotgun/new.mov?" + sig},
		} {
			resp, body := rawRequest(t, srv, c.method, c.target, nil, []byte("payload"))
			if up, ep := s.upstream.recorded(), s.endpoint.recorded(); len(up)+len(ep) != 0 {
				t.Fatalf("passthrough %v: %s %s reached S3: %+v %+v", passthrough, c.method, c.target, up, ep)
			}
			want := http.StatusForbidden
			if strings.HasPrefix(c.target, "/_direct") {
				want = http.StatusMethodNotAllowed
			}
			if resp.StatusCode != want || resp.Header.Get("Server") != "awselb/2.0" {
				t.Errorf("passthrough %v: %s %s: %d from %q (%s), want the load balancer's %d", passthrough, c.method, c.target, resp.StatusCode, resp.Header.Get("Server"), body, want)
			}
		}
		if n := s.lb.Invocations(); n != 0 {
			t.Errorf("passthrough %v: the writes invoked the function %d times, want 0", passthrough, n)
		}
		if resp, _ := rawRequest(t, srv, "GET", "/shotgun/small.mov?"+sig, nil, nil); resp.StatusCode != http.StatusOK || s.lb.Invocations() != 1 {
			t.Errorf("passthrough %v: a signed read answered %d after %d invocations, want the function's 200", passthrough, resp.StatusCode, s.lb.Invocations())
		}
	}
}
