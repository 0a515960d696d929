package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mediaisolation/s3proxy/pkg/emf"
	"github.com/mediaisolation/s3proxy/pkg/routes"
	"github.com/mediaisolation/s3proxy/pkg/s3error"
)

type fakeMetrics struct {
	samples []emf.Sample
	lines   []string
}

func (m *fakeMetrics) Record(line []byte, s emf.Sample) error {
	m.samples = append(m.samples, s)
	m.lines = append(m.lines, string(line))
	return nil
}

func TestMetricsPerRequest(t *testing.T) {
	tests := []struct {
		name, method, target string
		want                 emf.Sample
	}{
		{"ping", "GET", "/ping", emf.Sample{Decision: "ping"}},
		{"inline", "GET", "/shotgun/small.mov?" + presigned(), emf.Sample{Decision: "inline", InlineBytes: 600, UpstreamStatus: 206, Upstream: true, UpstreamAttempts: 1}},
		{"redirect", "GET", "/shotgun/large.mov?" + presigned(), emf.Sample{Decision: "redirect", UpstreamStatus: 206, Upstream: true, UpstreamAttempts: 1}},
		{"denied early", "GET", "/shotgun/small.mov", emf.Sample{Decision: "denied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			m := &fakeMetrics{}
			f.h.metrics = m
			f.do(tc.method, tc.target, http.Header{}, nil)
			if len(m.samples) != 1 {
				t.Fatalf("%d samples, want 1", len(m.samples))
			}
			got := m.samples[0]
			got.UpstreamLatency = 0 // the fake clock stands still
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// What the ALB adapter refuses is logged and counted like any answer.
func TestRefusedIsRecorded(t *testing.T) {
	f := newFixture(t, nil)
	m := &fakeMetrics{}
	f.h.metrics = m
	w := httptest.NewRecorder()
	f.h.Refused(w, httptest.NewRequest("GET", "/", nil), s3error.ErrBadURI, 0)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "<Code>InvalidURI</Code>") || w.Header().Get("Content-Security-Policy") != routes.ContentSecurityPolicy {
		t.Errorf("answer %d %v %s", w.Code, w.Header(), w.Body)
	}
	logs := f.logs.String()
	for _, want := range []string{`"msg":"request"`, `"method":"GET"`, `"decision":"error"`, `"status":400`, `"errorCode":"InvalidURI"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s: %s", want, logs)
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n != 1 {
		t.Errorf("%d request lines, want 1", n)
	}
	if len(m.samples) != 1 || m.samples[0] != (emf.Sample{Decision: "error"}) {
		t.Errorf("samples %+v, want one error sample", m.samples)
	}
}
