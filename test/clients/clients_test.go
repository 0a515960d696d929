// Package clients_test is the client compatibility matrix: the HTTP clients
// ShotGrid's users actually run — Python urllib in the shapes shotgun_api3
// sends, URLs presigned by boto3, curl, and Go's net/http — each pointed at
// the local twin (emulated ALB, in-process function, upload passthrough) in
// front of versitygw, which verifies every SigV4 signature itself.
//
// URLs are minted as a ShotGrid site mints them: presigned for
// <bucket>.s3.amazonaws.com, with scheme and host swapped for the proxy's.
// The inline limit is small (256 KiB), so the ~2 MB object is answered with
// a 307 to the endpoint and the 40 KB one inline.
//
// Every cell is a subtest of TestClientMatrix with a row in docs/clients.md;
// a full run fails when the two differ. The
// fixture is started once, by the one top-level test: peertest needs a
// testing.TB to own the gateway's cleanup, which TestMain does not have.
package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	bucket      = "shotgrid-media"
	signedHost  = bucket + ".s3.amazonaws.com"
	region      = "us-east-1"
	inlineMax   = 256 << 10
	redirectTTL = 5 * time.Minute
	clientTTL   = time.Hour
	// sgChunk is shotgun_api3's _MULTIPART_UPLOAD_CHUNK_SIZE: the largest
	// single PUT, and the size of every multipart part but the last.
	sgChunk = 20_000_000
	// cmdTimeout bounds one client process.
	cmdTimeout = 90 * time.Second

	smallKey  = "shots/010/thumb.jpg"
	smallSize = 40_000
	largeKey  = "shots/010/plate v001.mov"
	largeSize = 2_345_678
)

// matrix is the fixture: versitygw, the twin in front of it, and the objects
// every cell reads.
type matrix struct {
	gw        *peertest.S3
	base      string // the twin, http://127.0.0.1:PORT
	signer    *sgurl.Signer
	dir       string // generated bodies, shared by the cells
	env       []string
	small     []byte
	large     []byte
	smallETag string
	largeETag string
}

func TestClientMatrix(t *testing.T) {
	m := newMatrix(t)
	t.Run("urllib", m.testURLLib)
	t.Run("boto3", m.testBoto3)
	t.Run("curl", m.testCurl)
	t.Run("nethttp", m.testNetHTTP)
	checkDocumented(t)
}

// ran holds the full name of every cell that ran, to hold docs/clients.md
// to the tests.
var ran sync.Map

// cell runs one cell of the matrix as a subtest.
func cell(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		ran.Store(t.Name(), true)
		f(t)
	})
}

// checkDocumented fails when the table in docs/clients.md and the cells
// that ran differ. It only judges a full run: -run may select fewer.
func checkDocumented(t *testing.T) {
	if f := flag.Lookup("test.run"); f == nil || f.Value.String() != "" {
		return
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "clients.md"))
	if err != nil {
		t.Errorf("the matrix's documentation: %v", err)
		return
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		cols := strings.Split(strings.TrimSpace(line), "|")
		if len(cols) < 3 {
			continue
		}
		last := strings.TrimSpace(cols[len(cols)-2])
		if name, ok := strings.CutPrefix(last, "`"); ok && strings.HasSuffix(name, "`") && strings.Contains(name, "/") {
			documented[t.Name()+"/"+strings.TrimSuffix(name, "`")] = true
		}
	}
	ran.Range(func(k, _ any) bool {
		if name := k.(string); !documented[name] {
			t.Errorf("%s ran but has no row in docs/clients.md", name)
		}
		return true
	})
	for name := range documented {
		if _, ok := ran.Load(name); !ok {
			t.Errorf("docs/clients.md names %s, which did not run", name)
		}
	}
}

func newMatrix(t *testing.T) *matrix {
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{
		Buckets: []string{bucket}, Region: region, VirtualDomain: "s3.amazonaws.com",
	})
	env := map[string]string{
		"S3PROXY_BUCKET":           bucket,
		"S3PROXY_REGION":           region,
		"S3PROXY_SIGNED_HOST":      signedHost,
		"S3PROXY_UPSTREAM_URL":     gw.URL,
		"S3PROXY_ENDPOINT_URL":     gw.URL,
		"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(inlineMax),
		"S3PROXY_REDIRECT_TTL":     redirectTTL.String(),
	}
	logger := lambdalog.New(t.Output(), slog.LevelWarn)
	cfg, invoker := peertest.Function(t, env, gw, logger)
	alb := twin.New(twin.Options{
		Config: cfg, Passthrough: true, Logger: logger, FunctionTimeout: 30 * time.Second,
		Invoker: invoker,
	})
	srv := httptest.NewServer(alb)
	t.Cleanup(srv.Close)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	m := &matrix{
		gw: gw, base: srv.URL, dir: t.TempDir(),
		signer: sgurl.NewSigner(gw.Credentials, region, bucket, signedHost),
		small:  peertest.Bytes(smallSize, 1),
		large:  peertest.Bytes(largeSize, 2),
	}
	m.env = childEnv(m.dir)
	m.smallETag = m.seed(t, smallKey, m.small, "image/jpeg")
	m.largeETag = m.seed(t, largeKey, m.large, "video/quicktime")
	return m
}

// childEnv is the environment for client processes: no HTTP proxy (every
// request must reach 127.0.0.1 directly), no AWS settings from the shell or
// from ~/.aws, no ~/.curlrc (curl is also run with -q).
func childEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		lk := strings.ToLower(k)
		if strings.HasSuffix(lk, "_proxy") || strings.HasPrefix(k, "AWS_") || k == "CURL_HOME" || strings.HasPrefix(k, "PYTHON") {
			continue
		}
		env = append(env, kv)
	}
	none := filepath.Join(dir, "no-such-aws-file")
	return append(env,
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
}

// ---- URLs, objects and bodies ----------------------------------------------

func (m *matrix) through(t *testing.T, signed string, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	u, err := sgurl.Through(m.base, signed)
	if err != nil {
		t.Fatalf("sgurl.Through: %v", err)
	}
	return u
}

func (m *matrix) getURL(t *testing.T, key string) string {
	t.Helper()
	signed, err := m.signer.Get(context.Background(), key, clientTTL)
	return m.through(t, signed, err)
}

func (m *matrix) headURL(t *testing.T, key string) string {
	t.Helper()
	signed, err := m.signer.Head(context.Background(), key, clientTTL)
	return m.through(t, signed, err)
}

func (m *matrix) putURL(t *testing.T, key string) string {
	t.Helper()
	signed, err := m.signer.Put(context.Background(), key, clientTTL)
	return m.through(t, signed, err)
}

func (m *matrix) partURL(t *testing.T, key, uploadID string, part int32) string {
	t.Helper()
	signed, err := m.signer.UploadPart(context.Background(), key, uploadID, part, clientTTL)
	return m.through(t, signed, err)
}

// seed stores an object directly in the gateway and returns its ETag.
func (m *matrix) seed(t *testing.T, key string, body []byte, contentType string) string {
	t.Helper()
	return m.gw.Seed(t, bucket, key, body, contentType)
}

// checkStored reads key back from the gateway, bypassing the proxy, and
// compares its bytes, and its Content-Type and ETag when those are given.
func (m *matrix) checkStored(t *testing.T, key string, body []byte, contentType, etag string) {
	t.Helper()
	out, err := m.gw.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Errorf("GetObject %q from the gateway: %v", key, err)
		return
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil {
		t.Errorf("GetObject %q: %v", key, err)
		return
	}
	equalBytes(t, "stored object "+key, got, body)
	if ct := aws.ToString(out.ContentType); contentType != "" && ct != contentType {
		t.Errorf("stored Content-Type = %q, want %q", ct, contentType)
	}
	if e := aws.ToString(out.ETag); etag != "" && e != etag {
		t.Errorf("stored ETag = %q, want %q", e, etag)
	}
}

func (m *matrix) wantAbsent(t *testing.T, key string) {
	t.Helper()
	_, err := m.gw.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		t.Errorf("object %q exists; nothing should have stored it", key)
	}
}

// file writes body to the fixture's directory once per name.
func (m *matrix) file(t *testing.T, name string, body []byte) string {
	t.Helper()
	p := filepath.Join(m.dir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// onGateway reports whether a final URL is on the endpoint (path-style, as
// the function mints them): proof that the client followed a 307.
func (m *matrix) onGateway(u string) bool {
	return strings.HasPrefix(u, m.gw.URL+"/"+bucket+"/")
}

func (m *matrix) onTwin(u string) bool { return strings.HasPrefix(u, m.base+"/") }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// equalBytes reports a mismatch without dumping megabytes.
func equalBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

// redact drops a URL's query (it holds a signature) for messages.
func redact(u string) string {
	p, _, _ := strings.Cut(u, "?")
	return p
}

// ---- client processes ------------------------------------------------------

// need skips the test, or fails it under S3PROXY_REQUIRE_PEERS=1, as
// peertest.Binary does for a missing binary.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(peertest.EnvRequirePeers) == "1" {
		t.Fatalf("%s and %s=1", msg, peertest.EnvRequirePeers)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, peertest.EnvRequirePeers)
}

// run runs a client process to completion with the matrix's environment.
func (m *matrix) run(t *testing.T, stdin []byte, name string, args ...string) (stdout []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = m.env
	cmd.Dir = m.dir
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// pythonChecked caches, per module, whether python3 imports it.
var pythonChecked sync.Map // module → error

// python returns python3's path, skipping or failing the test when it, or
// module (unless ""), is missing.
func python(t *testing.T, m *matrix, module string) string {
	t.Helper()
	bin := peertest.Binary(t, "python3")
	v, ok := pythonChecked.Load(module)
	if !ok {
		var err error
		if module != "" {
			_, err = m.run(t, nil, bin, "-c", "import "+module)
		}
		v, _ = pythonChecked.LoadOrStore(module, err)
	}
	if err, _ := v.(error); err != nil {
		need(t, "python3 cannot import %s: %v", module, err)
	}
	return bin
}

// script runs testdata/<script> with python3, spec as JSON on stdin, and
// decodes its JSON result into out.
func (m *matrix) script(t *testing.T, module, script string, args []string, spec, out any) {
	t.Helper()
	bin := python(t, m, module)
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := m.run(t, in, bin, append([]string{path}, args...)...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s: result is not JSON (%v): %.500s", script, err, stdout)
	}
}

// pyResponse is what the scripts report for one request.
type pyResponse struct {
	Status  int               `json:"status"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	SHA256  string            `json:"sha256"`
	Length  int               `json:"length"`
	Error   *pyError          `json:"error"`
	// sgapi.py put
	ETag        string `json:"etag"`
	Attempts    int    `json:"attempts"`
	ContentType string `json:"content_type"`
	// boto3_presign.py
	SignedHost    string `json:"signed_host"`
	SignedHeaders string `json:"signed_headers"`
}

type pyError struct {
	Type    string            `json:"type"`
	Code    int               `json:"code"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
}

func (e *pyError) String() string {
	if e == nil {
		return "no error"
	}
	return fmt.Sprintf("%s %d: %.300s", e.Type, e.Code, e.Body)
}

// header looks a header up case-insensitively, as clients do.
func (r *pyResponse) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// wantOK fails unless the request succeeded with status.
func (r *pyResponse) wantOK(t *testing.T, status int) {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("the client raised %s, want status %d", r.Error, status)
	}
	if r.Status != status {
		t.Fatalf("status %d, want %d", r.Status, status)
	}
}

// ---- Python urllib, shotgun_api3's shapes ------------------------------------

func (m *matrix) sgapi(t *testing.T, op string, spec any) *pyResponse {
	t.Helper()
	var r pyResponse
	m.script(t, "", "sgapi.py", []string{op}, spec, &r)
	return &r
}

func (m *matrix) testURLLib(t *testing.T) {
	cell(t, "put-single-20000000-bytes", func(t *testing.T) {
		const key = "uploads/sgapi/plate_v001.mov"
		body := peertest.Bytes(sgChunk, 10)
		r := m.sgapi(t, "put", map[string]string{
			"url": m.putURL(t, key), "file": m.file(t, "single.bin", body), "filename": "plate_v001.mov",
		})
		r.wantOK(t, http.StatusOK)
		if r.ETag != peertest.MD5ETag(body) {
			t.Errorf(`result.info()["Etag"] = %q, want %q`, r.ETag, peertest.MD5ETag(body))
		}
		if r.Attempts != 1 {
			t.Errorf("%d attempts, want 1", r.Attempts)
		}
		if r.ContentType != "video/quicktime" {
			t.Fatalf("the script guessed Content-Type %q for a .mov, want video/quicktime", r.ContentType)
		}
		m.checkStored(t, key, body, "video/quicktime", peertest.MD5ETag(body))
	})

	cell(t, "put-multipart-20000000-byte-parts", func(t *testing.T) {
		const key = "uploads/sgapi/comp_v002.mov"
		const last = 1_234_567
		body := peertest.Bytes(2*sgChunk+last, 11)
		path := m.file(t, "multipart.bin", body)
		ctx := context.Background()
		// ShotGrid's server creates and completes the upload; the client
		// only PUTs parts to the URLs it is given.
		created, err := m.gw.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("video/quicktime"),
		})
		if err != nil {
			t.Fatalf("CreateMultipartUpload: %v", err)
		}
		id := aws.ToString(created.UploadId)
		var urls []string
		for n := int32(1); n <= 3; n++ {
			urls = append(urls, m.partURL(t, key, id, n))
		}
		var res struct {
			Parts []struct {
				Part int `json:"part"`
				Size int `json:"size"`
				pyResponse
			} `json:"parts"`
		}
		m.script(t, "", "sgapi.py", []string{"multipart"}, map[string]any{"urls": urls, "file": path, "filename": "comp_v002.mov"}, &res)
		for _, p := range res.Parts {
			if p.Error != nil {
				t.Fatalf("part %d: the client raised %s", p.Part, p.Error)
			}
		}
		if len(res.Parts) != 3 {
			t.Fatalf("%d parts sent, want 3", len(res.Parts))
		}
		var completed []types.CompletedPart
		for i, p := range res.Parts {
			want := body[i*sgChunk : min((i+1)*sgChunk, len(body))]
			if p.Part != i+1 || p.Size != len(want) {
				t.Errorf("part %d: number %d, %d bytes; want %d bytes", i+1, p.Part, p.Size, len(want))
			}
			p.wantOK(t, http.StatusOK)
			if p.ETag != peertest.MD5ETag(want) {
				t.Errorf(`part %d: result.info()["Etag"] = %q, want %q`, i+1, p.ETag, peertest.MD5ETag(want))
			}
			completed = append(completed, types.CompletedPart{ETag: aws.String(p.ETag), PartNumber: aws.Int32(int32(i + 1))})
		}
		// Completed with the ETags the client read, as ShotGrid's
		// api_complete_multipart_upload does with the comma-joined list.
		done, err := m.gw.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload with the client's ETags: %v", err)
		}
		if e := strings.Trim(aws.ToString(done.ETag), `"`); !strings.HasSuffix(e, "-3") {
			t.Errorf("multipart ETag = %q, want <md5>-3", e)
		}
		m.checkStored(t, key, body, "video/quicktime", "")
	})

	cell(t, "get-inline", func(t *testing.T) {
		r := m.sgapi(t, "get", map[string]string{"url": m.getURL(t, smallKey)})
		r.wantOK(t, http.StatusOK)
		if !m.onTwin(r.URL) {
			t.Errorf("final URL %s, want the proxy's own (answered inline)", redact(r.URL))
		}
		if r.SHA256 != sha256Hex(m.small) || r.Length != len(m.small) {
			t.Errorf("body: %d bytes sha256 %s, want %d bytes sha256 %s", r.Length, r.SHA256, len(m.small), sha256Hex(m.small))
		}
		if got := r.header("ETag"); got != m.smallETag {
			t.Errorf("ETag = %q, want %q", got, m.smallETag)
		}
	})

	cell(t, "get-follows-307", func(t *testing.T) {
		r := m.sgapi(t, "get", map[string]string{"url": m.getURL(t, largeKey)})
		r.wantOK(t, http.StatusOK)
		if !m.onGateway(r.URL) {
			t.Errorf("final URL %s, want the endpoint %s/%s/… (the 307 followed)", redact(r.URL), m.gw.URL, bucket)
		}
		if r.SHA256 != sha256Hex(m.large) || r.Length != len(m.large) {
			t.Errorf("body: %d bytes sha256 %s, want %d bytes sha256 %s", r.Length, r.SHA256, len(m.large), sha256Hex(m.large))
		}
		if got := r.header("ETag"); got != m.largeETag {
			t.Errorf("ETag = %q, want %q", got, m.largeETag)
		}
	})

	cell(t, "head", func(t *testing.T) {
		r := m.sgapi(t, "head", map[string]string{"url": m.headURL(t, largeKey)})
		r.wantOK(t, http.StatusOK)
		if !m.onTwin(r.URL) {
			t.Errorf("final URL %s, want the proxy's own", redact(r.URL))
		}
		if got := r.header("Content-Length"); got != strconv.Itoa(largeSize) {
			t.Errorf("Content-Length = %q, want %d", got, largeSize)
		}
		if got := r.header("ETag"); got != m.largeETag {
			t.Errorf("ETag = %q, want %q", got, m.largeETag)
		}
		if r.Length != 0 {
			t.Errorf("HEAD answered with %d body bytes", r.Length)
		}
	})

	cell(t, "put-redirected-raises", func(t *testing.T) {
		// Why uploads go from the ALB straight to S3 and are never
		// redirected: the API's PUT fails on a 307 even when the Location
		// would have accepted it.
		const key = "uploads/sgapi/redirected.jpg"
		target := m.putURL(t, key)
		var mu sync.Mutex
		var seen []string
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Method)
			mu.Unlock()
			w.Header().Set("Location", target)
			w.WriteHeader(http.StatusTemporaryRedirect)
		}))
		defer redirector.Close()
		body := peertest.Bytes(1000, 12)
		path := m.file(t, "redirected.jpg", body)

		r := m.sgapi(t, "put", map[string]string{"url": redirector.URL + "/" + key, "file": path, "filename": "redirected.jpg"})
		if r.Error == nil || r.Error.Type != "HTTPError" || r.Error.Code != http.StatusTemporaryRedirect {
			t.Fatalf("PUT answered with 307: status %d, error %s; want urllib to raise HTTPError 307", r.Status, r.Error)
		}
		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		if len(got) != 1 || got[0] != http.MethodPut {
			t.Errorf("the redirecting server saw %v, want one PUT (no retry on a 3xx)", got)
		}
		m.wantAbsent(t, key)

		// The same PUT straight to the Location succeeds: the redirect,
		// not the URL, is what fails.
		d := m.sgapi(t, "put", map[string]string{"url": target, "file": path, "filename": "redirected.jpg"})
		d.wantOK(t, http.StatusOK)
		m.checkStored(t, key, body, "image/jpeg", peertest.MD5ETag(body))
	})
}

// ---- boto3-presigned URLs --------------------------------------------------

func (m *matrix) testBoto3(t *testing.T) {
	python(t, m, "boto3")
	ctx := context.Background()
	const (
		cdInline   = `attachment; filename="thumb 010 (v1).jpg"`
		cdRedirect = `attachment; filename="plate v001.mov"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%20plate%20v001.mov`
		putKey     = "uploads/boto3/contact sheet.png"
		partKey    = "uploads/boto3/part upload.mov"
	)
	body := peertest.Bytes(3_000_000, 20)
	path := m.file(t, "boto3.bin", body)
	created, err := m.gw.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(partKey), ContentType: aws.String("video/quicktime"),
	})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	uploadID := aws.ToString(created.UploadId)

	type op struct {
		Name         string         `json:"name"`
		ClientMethod string         `json:"client_method"`
		Params       map[string]any `json:"params"`
		HTTPMethod   string         `json:"http_method"`
		File         string         `json:"file,omitempty"`
		ContentType  string         `json:"content_type,omitempty"`
	}
	ops := []op{
		{"get-inline-content-disposition", "get_object", map[string]any{"Key": smallKey, "ResponseContentDisposition": cdInline}, "GET", "", ""},
		{"get-redirected-content-disposition", "get_object", map[string]any{"Key": largeKey, "ResponseContentDisposition": cdRedirect}, "GET", "", ""},
		{"head", "head_object", map[string]any{"Key": largeKey}, "HEAD", "", ""},
		{"put", "put_object", map[string]any{"Key": putKey}, "PUT", path, "image/png"},
		{"upload-part", "upload_part", map[string]any{"Key": partKey, "UploadId": uploadID, "PartNumber": 1}, "PUT", path, ""},
	}
	creds, err := m.gw.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Results map[string]*pyResponse `json:"results"`
	}
	// One process for every cell: importing boto3 costs about a second.
	m.script(t, "boto3", "boto3_presign.py", nil, map[string]any{
		"access_key": creds.AccessKeyID, "secret_key": creds.SecretAccessKey, "region": region, "bucket": bucket,
		"proxy": m.base, "ops": ops,
	}, &res)

	result := func(t *testing.T, name string) *pyResponse {
		t.Helper()
		r := res.Results[name]
		if r == nil {
			t.Fatalf("no result for %s", name)
		}
		if r.SignedHost != signedHost || r.SignedHeaders != "host" {
			t.Errorf("botocore signed for host %q with SignedHeaders %q, want %q and host", r.SignedHost, r.SignedHeaders, signedHost)
		}
		return r
	}

	cell(t, "get-inline-content-disposition", func(t *testing.T) {
		r := result(t, "get-inline-content-disposition")
		r.wantOK(t, http.StatusOK)
		if !m.onTwin(r.URL) {
			t.Errorf("final URL %s, want the proxy's own (answered inline)", redact(r.URL))
		}
		if r.SHA256 != sha256Hex(m.small) {
			t.Errorf("body: %d bytes, not the object's %d", r.Length, len(m.small))
		}
		if got := r.header("Content-Disposition"); got != cdInline {
			t.Errorf("Content-Disposition = %q, want %q", got, cdInline)
		}
	})

	cell(t, "get-redirected-content-disposition", func(t *testing.T) {
		r := result(t, "get-redirected-content-disposition")
		r.wantOK(t, http.StatusOK)
		if !m.onGateway(r.URL) {
			t.Errorf("final URL %s, want the endpoint (the 307 followed)", redact(r.URL))
		}
		if r.SHA256 != sha256Hex(m.large) {
			t.Errorf("body: %d bytes, not the object's %d", r.Length, len(m.large))
		}
		if got := r.header("Content-Disposition"); got != cdRedirect {
			t.Errorf("Content-Disposition = %q, want %q", got, cdRedirect)
		}
	})

	cell(t, "head", func(t *testing.T) {
		r := result(t, "head")
		r.wantOK(t, http.StatusOK)
		if got := r.header("Content-Length"); got != strconv.Itoa(largeSize) {
			t.Errorf("Content-Length = %q, want %d", got, largeSize)
		}
		if got := r.header("ETag"); got != m.largeETag {
			t.Errorf("ETag = %q, want %q", got, m.largeETag)
		}
	})

	cell(t, "put", func(t *testing.T) {
		r := result(t, "put")
		r.wantOK(t, http.StatusOK)
		if got := r.header("ETag"); got != peertest.MD5ETag(body) {
			t.Errorf("ETag = %q, want %q", got, peertest.MD5ETag(body))
		}
		m.checkStored(t, putKey, body, "image/png", peertest.MD5ETag(body))
	})

	cell(t, "upload-part", func(t *testing.T) {
		r := result(t, "upload-part")
		r.wantOK(t, http.StatusOK)
		etag := r.header("ETag")
		if etag != peertest.MD5ETag(body) {
			t.Errorf("ETag = %q, want %q", etag, peertest.MD5ETag(body))
		}
		_, err := m.gw.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(partKey), UploadId: aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: aws.String(etag), PartNumber: aws.Int32(1)}}},
		})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload with the client's ETag: %v", err)
		}
		m.checkStored(t, partKey, body, "video/quicktime", "")
	})
}

// ---- curl ------------------------------------------------------------------

type curlResult struct {
	status    int
	redirects int
	effective string
	header    http.Header // of the last response
	body      []byte
}

var curlChecked sync.Map // path → error

func (m *matrix) curl(t *testing.T, args ...string) curlResult {
	t.Helper()
	bin := peertest.Binary(t, "curl")
	v, ok := curlChecked.Load(bin)
	if !ok {
		_, err := m.run(t, nil, bin, "--version")
		v, _ = curlChecked.LoadOrStore(bin, err)
	}
	if err, _ := v.(error); err != nil {
		need(t, "curl --version: %v", err)
	}
	dir := t.TempDir()
	hdr, body := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	full := append([]string{"-q", "-sS", "--noproxy", "*", "--max-time", "60",
		"-D", hdr, "-o", body, "-w", `%{http_code}\n%{num_redirects}\n%{url_effective}\n`}, args...)
	out, err := m.run(t, nil, bin, full...)
	if err != nil {
		t.Fatalf("%s", redactArgs(err.Error()))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("curl -w output %q", out)
	}
	var r curlResult
	r.status, _ = strconv.Atoi(lines[0])
	r.redirects, _ = strconv.Atoi(lines[1])
	r.effective = lines[2]
	if r.body, err = os.ReadFile(body); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(hdr)
	if err != nil {
		t.Fatal(err)
	}
	// -D holds every response's headers when -L follows; keep the last.
	blocks := strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n")
	last := ""
	for _, b := range blocks {
		if strings.HasPrefix(b, "HTTP/") {
			last = b
		}
	}
	_, rest, _ := strings.Cut(last, "\n")
	mh, err := textproto.NewReader(bufio.NewReader(strings.NewReader(rest + "\n\n"))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("curl headers %q: %v", last, err)
	}
	r.header = http.Header(mh)
	return r
}

// redactArgs drops signatures from a failed command line.
func redactArgs(s string) string {
	var out []string
	for _, f := range strings.Split(s, " ") {
		if strings.HasPrefix(f, "http") {
			f = redact(f)
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

func (m *matrix) testCurl(t *testing.T) {
	large := m.getURL(t, largeKey)
	n := len(m.large)
	ranges := []struct {
		name, rng, contentRange string
		want                    []byte
	}{
		{"range-first-bytes", "0-1023", "bytes 0-1023/" + strconv.Itoa(n), m.large[:1024]},
		{"range-middle", "1000000-1065535", "bytes 1000000-1065535/" + strconv.Itoa(n), m.large[1000000:1065536]},
		{"range-suffix", "-500", fmt.Sprintf("bytes %d-%d/%d", n-500, n-1, n), m.large[n-500:]},
	}
	for _, tc := range ranges {
		cell(t, tc.name, func(t *testing.T) {
			// A range that fits the inline limit is answered inline even
			// though the object does not: -L is given, and must not be used.
			r := m.curl(t, "-L", "-r", tc.rng, large)
			if r.status != http.StatusPartialContent {
				t.Fatalf("-r %s: status %d, want 206", tc.rng, r.status)
			}
			if r.redirects != 0 {
				t.Errorf("-r %s: %d redirects, want the range answered inline", tc.rng, r.redirects)
			}
			if got := r.header.Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range = %q, want %q", got, tc.contentRange)
			}
			equalBytes(t, "body", r.body, tc.want)
		})
	}

	cell(t, "range-above-inline-follows-307", func(t *testing.T) {
		r := m.curl(t, "-L", "-r", "0-999999", large)
		if r.status != http.StatusPartialContent {
			t.Fatalf("status %d, want 206", r.status)
		}
		if r.redirects != 1 || !m.onGateway(r.effective) {
			t.Errorf("%d redirects ending at %s, want 1 to the endpoint", r.redirects, redact(r.effective))
		}
		if got, want := r.header.Get("Content-Range"), "bytes 0-999999/"+strconv.Itoa(n); got != want {
			t.Errorf("Content-Range = %q, want %q", got, want)
		}
		equalBytes(t, "body", r.body, m.large[:1000000])
	})

	cell(t, "range-unsatisfiable-416", func(t *testing.T) {
		r := m.curl(t, "-L", "-r", "5000000-5000999", large)
		if r.status != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("status %d, want 416; body %.300s", r.status, r.body)
		}
		if r.redirects != 0 || r.header.Get("Location") != "" {
			t.Errorf("%d redirects, Location %q; want S3's 416 passed through", r.redirects, redact(r.header.Get("Location")))
		}
	})

	cell(t, "head-I", func(t *testing.T) {
		r := m.curl(t, "-I", m.headURL(t, largeKey))
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200", r.status)
		}
		if got := r.header.Get("Content-Length"); got != strconv.Itoa(n) {
			t.Errorf("Content-Length = %q, want %d", got, n)
		}
		if got := r.header.Get("ETag"); got != m.largeETag {
			t.Errorf("ETag = %q, want %q", got, m.largeETag)
		}
		if r.header.Get("Location") != "" {
			t.Error("HEAD answered with a Location")
		}
	})

	cell(t, "L-large-object", func(t *testing.T) {
		r := m.curl(t, "-L", large)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200", r.status)
		}
		if r.redirects != 1 || !m.onGateway(r.effective) {
			t.Errorf("%d redirects ending at %s, want 1 to the endpoint", r.redirects, redact(r.effective))
		}
		if got := sha256Hex(r.body); got != sha256Hex(m.large) {
			t.Errorf("-o file: %d bytes sha256 %s, want %d bytes sha256 %s", len(r.body), got, n, sha256Hex(m.large))
		}
		if got := r.header.Get("ETag"); got != m.largeETag {
			t.Errorf("ETag = %q, want %q", got, m.largeETag)
		}
	})

	for _, tc := range []struct{ name, key, etag string }{
		{"if-none-match-304", smallKey, m.smallETag},
		{"if-none-match-304-large", largeKey, m.largeETag},
	} {
		cell(t, tc.name, func(t *testing.T) {
			r := m.curl(t, "-L", "-H", "If-None-Match: "+tc.etag, m.getURL(t, tc.key))
			if r.status != http.StatusNotModified {
				t.Fatalf("status %d, want 304; body %.300s", r.status, r.body)
			}
			if r.redirects != 0 || len(r.body) != 0 {
				t.Errorf("%d redirects, %d body bytes; want a bare 304 from the proxy", r.redirects, len(r.body))
			}
		})
	}
}

// ---- Go net/http -----------------------------------------------------------

func (m *matrix) testNetHTTP(t *testing.T) {
	cell(t, "get-follows-redirect", func(t *testing.T) {
		resp, err := http.Get(m.getURL(t, largeKey)) // the default client
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200; body %.300s", resp.StatusCode, b)
		}
		if final := resp.Request.URL.String(); !m.onGateway(final) {
			t.Errorf("final URL %s, want the endpoint (the 307 followed)", redact(final))
		}
		equalBytes(t, "body", b, m.large)
		if got := resp.Header.Get("ETag"); got != m.largeETag {
			t.Errorf("ETag = %q, want %q", got, m.largeETag)
		}
	})

	cell(t, "put-passthrough", func(t *testing.T) {
		// Above the ALB's 1 MB body limit: only the passthrough rule can
		// carry it.
		const key = "uploads/nethttp/review.mp4"
		body := peertest.Bytes(3_500_000, 30)
		req, err := http.NewRequest(http.MethodPut, m.putURL(t, key), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "video/mp4")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("PUT: %v", err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200; body %.300s", resp.StatusCode, rb)
		}
		if got := resp.Header.Get("ETag"); got != peertest.MD5ETag(body) {
			t.Errorf("ETag = %q, want %q", got, peertest.MD5ETag(body))
		}
		m.checkStored(t, key, body, "video/mp4", peertest.MD5ETag(body))
	})
}
