package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// invokeRun is one run of the CLI with stdin.
type invokeRun struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args []string, env map[string]string, stdin string) invokeRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := runIO(ctx, args, cliIO{getenv: func(k string) string { return env[k] }, stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr})
	return invokeRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// albResponse is what the function answers, as the ALB reads it.
type albResponse struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// fakeS3 answers every request with a small object, as S3 would a ranged
// GET of it, and counts the requests.
type fakeS3 struct {
	calls atomic.Int32
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	w.Header().Set("ETag", `"5d41402abc4b2a76b9719d911017c592"`)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Range", "bytes 0-4/5")
	w.WriteHeader(http.StatusPartialContent)
	_, _ = w.Write([]byte("hello"))
}

// writeEnvVars writes a `sam local invoke --env-vars` file for the
// deployment events/README.md describes, with upstream as its S3.
func writeEnvVars(t *testing.T, upstream string) string {
	t.Helper()
	vars := map[string]map[string]any{
		"Parameters": {"AWS_REGION": "us-east-1", "S3PROXY_LOG_LEVEL": "info"},
		"ProxyFunction": {
			"S3PROXY_BUCKET":          "demo",
			"S3PROXY_REGION":          "us-east-1",
			"S3PROXY_SIGNED_HOST":     "demo.s3.amazonaws.com",
			"S3PROXY_UPSTREAM_URL":    upstream,
			"S3PROXY_ENDPOINT_URL":    "https://bucket.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.us-east-1.vpce.amazonaws.com",
			"S3PROXY_KEY_PREFIXES":    "shotgrid/",
			"S3PROXY_ALLOWED_ORIGINS": "https://studio.shotgrid.autodesk.com",
			"AWS_ACCESS_KEY_ID":       "AKIAINVOKETEST000001",
			"AWS_SECRET_ACCESS_KEY":   "invokeSecret/For+Tests000000000000000000",
		},
	}
	b, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "env.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// invokeWant is what invoking a checked-in sample, as it is on disk, gives.
// The signed samples carry dates long past, so the function refuses them
// itself, without calling S3: exactly what `sam local invoke` shows for
// them. A file in events/ without an entry here fails the test.
var invokeWant = map[string]struct {
	status   int
	decision string
}{
	"ping.json":                   {200, "ping"},
	"preflight.json":              {200, "preflight"},
	"get-presigned.json":          {403, "denied"},
	"get-range.json":              {403, "denied"},
	"get-redirect.json":           {403, "denied"},
	"head-presigned.json":         {403, "denied"},
	"put-small.json":              {403, "denied"},
	"get-unsigned.json":           {403, "denied"},
	"get-expired.json":            {403, "denied"},
	"get-signature-mismatch.json": {403, "denied"},
	"patch.json":                  {405, "error"},
	"get-sigv2.json":              {403, "denied"},
}

// lambdaModes returns the --lambda flags of each mode; process mode needs
// the bootstrap and the emulator (skipped without them, failed under
// S3PROXY_REQUIRE_PEERS=1).
func lambdaModes(t *testing.T) map[string][]string {
	t.Helper()
	modes := map[string][]string{"inprocess": {"--lambda", "inprocess"}}
	t.Run("process binaries", func(t *testing.T) {
		rie := peertest.Binary(t, "aws-lambda-rie")
		modes["process"] = []string{"--lambda=process", "--rie", rie, "--bootstrap", peertest.Bootstrap(t)}
	})
	return modes
}

// Every sample in events/, in both modes, answers as the table says, with
// a response the ALB accepts, on stdout as one JSON document.
func TestInvokeEverySample(t *testing.T) {
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	s3 := &fakeS3{}
	up := httptest.NewServer(s3)
	defer up.Close()
	envVars := writeEnvVars(t, up.URL)
	for mode, flags := range lambdaModes(t) {
		for _, file := range files {
			name := filepath.Base(file)
			t.Run(mode+"/"+name, func(t *testing.T) {
				want, ok := invokeWant[name]
				if !ok {
					t.Fatalf("%s has no entry in invokeWant", name)
				}
				before := s3.calls.Load()
				r := runCLI(t, append([]string{"invoke", "-e", file, "--env-vars", envVars}, flags...), nil, "")
				if r.code != 0 {
					t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
				}
				var resp albResponse
				if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
					t.Fatalf("stdout is not one JSON response: %v\n%s", err, r.stdout)
				}
				if resp.StatusCode != want.status || resp.MultiValueHeaders == nil || resp.Body == nil {
					t.Errorf("status %d, headers %v, body nil %v; want %d with headers and a body", resp.StatusCode, resp.MultiValueHeaders, resp.Body == nil, want.status)
				}
				if !strings.Contains(r.stderr, fmt.Sprintf(`"decision":%q`, want.decision)) {
					t.Errorf("log has no decision %q:\n%s", want.decision, r.stderr)
				}
				if got := s3.calls.Load() - before; got != 0 {
					t.Errorf("%d calls to S3, want 0", got)
				}
				if strings.Contains(r.stderr, "S3PROXY_ENDPOINT_URL is not set") {
					t.Errorf("warned about the endpoint, which is set:\n%s", r.stderr)
				}
			})
		}
	}
}

// freshen moves a sample's SigV4 signing time to now, as the twin's
// sample tests do, so the function sends it on to S3.
func freshen(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	s := regexp.MustCompile(`"\d{8}T\d{6}Z"`).ReplaceAllString(string(b), `"`+now.Format("20060102T150405Z")+`"`)
	s = regexp.MustCompile(`%2F\d{8}%2F`).ReplaceAllString(s, "%2F"+now.Format("20060102")+"%2F")
	return s
}

// A fresh event read from stdin reaches S3 once and comes back inline.
func TestInvokeStdinReachesS3(t *testing.T) {
	s3 := &fakeS3{}
	up := httptest.NewServer(s3)
	defer up.Close()
	envVars := writeEnvVars(t, up.URL)
	event := freshen(t, "../../events/get-presigned.json")
	for mode, flags := range lambdaModes(t) {
		t.Run(mode, func(t *testing.T) {
			before := s3.calls.Load()
			r := runCLI(t, append([]string{"invoke", "ProxyFunction", "-e", "-", "-n", envVars}, flags...), nil, event)
			var resp albResponse
			if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || r.code != 0 {
				t.Fatalf("exit %d, %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
			}
			if resp.StatusCode != 200 || !strings.Contains(r.stderr, `"decision":"inline"`) {
				t.Errorf("status %d, want 200 inline\n%s", resp.StatusCode, r.stderr)
			}
			if got := s3.calls.Load() - before; got != 1 {
				t.Errorf("%d calls to S3, want 1", got)
			}
		})
	}
}

func TestInvokeFailures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"ProxyFunction": {"S3PROXY_BUCKET": "demo", "S3PROXY_REGION": "us-east-1"}}`)
	noEndpoint := write("noendpoint.json", `{"Parameters": {"S3PROXY_BUCKET": "demo", "S3PROXY_REGION": "us-east-1", "S3PROXY_INLINE_MAX_BYTES": 1024}}`)
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr []string
	}{
		{"no event", []string{"invoke"}, "", 2, []string{"missing -e"}},
		{"other function", []string{"invoke", "EndpointTargetsFunction", "-e", "x.json"}, "", 2, []string{"only ProxyFunction"}},
		{"bad mode", []string{"invoke", "-e", "-", "--lambda", "thread"}, "{}", 2, []string{"--lambda must be inprocess or process"}},
		{"event missing", []string{"invoke", "-e", filepath.Join(dir, "none.json")}, "", 1, []string{"reading the event"}},
		{"event not JSON", []string{"invoke", "-e", "-"}, "GET /ping", 1, []string{"not JSON"}},
		{"env-vars not SAM's", []string{"invoke", "-e", "-", "--env-vars", write("flat.json", `["S3PROXY_BUCKET=demo"]`)}, "{}", 1, []string{"want {\"Parameters\""}},
		{"env-vars without the function", []string{"invoke", "-e", "-", "--env-vars", write("other.json", `{"Other": {"A": "b"}}`)}, "{}", 1, []string{`no "ProxyFunction"`}},
		{"env-vars with an object value", []string{"invoke", "-e", "-", "--env-vars", write("obj.json", `{"ProxyFunction": {"A": {"b": 1}}}`)}, "{}", 1, []string{"ProxyFunction.A must be a string"}},
		{"bad configuration", []string{"invoke", "-e", "-"}, "{}", 1, []string{"S3PROXY_BUCKET: is required", "--env-vars build/env.json"}},
		{"process without its binaries", []string{"invoke", "-e", "-", "--env-vars", good, "--lambda=process", "--bootstrap", filepath.Join(dir, "bootstrap"), "--rie", filepath.Join(dir, "rie")}, pingEvent, 1,
			[]string{"make build/native/bootstrap", "make rie"}},
		{"no endpoint warns", []string{"invoke", "-e", "-", "--env-vars", noEndpoint}, pingEvent, 0, []string{"warning: S3PROXY_ENDPOINT_URL is not set", "larger than 1024 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args, nil, tc.stdin)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, tc.code, r.stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

// A bootstrap that is no Lambda runtime fails the invocation, pointing at
// the emulator's log.
func TestInvokeProcessModeBrokenFunction(t *testing.T) {
	rie := peertest.Binary(t, "aws-lambda-rie")
	envVars := writeEnvVars(t, "http://127.0.0.1:1")
	r := runCLI(t, []string{"invoke", "-e", "../../events/ping.json", "--env-vars", envVars, "--lambda=process", "--rie", rie, "--bootstrap", "/bin/true", "--timeout", "3s"}, nil, "")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "the function /bin/true did not answer under the emulator (its log is above)") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestReadEnvVarsPrecedence(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env.json")
	text := `{"Parameters": {"A": "global", "B": "global", "N": 3, "T": true}, "ProxyFunction": {"B": "function"}, "Other": {"A": "other"}}`
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvVars(p, proxyFunction)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "global", "B": "function", "N": "3", "T": "true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
