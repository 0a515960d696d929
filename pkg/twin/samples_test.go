package twin_test

// Shared by events_test.go (in-process adapter and handler) and
// emulator_test.go (the real bootstrap under aws-lambda-rie): the proxy
// configuration both run with, a fake S3 that records what reaches it, the
// loader that refreshes signing times, and the expectation for every
// events/*.json sample with the checks that apply it.

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

// The deployment every sample assumes (events/README.md says the same).
const (
	sampleBucket     = "demo"
	sampleSignedHost = "demo.s3.amazonaws.com"
	sampleRegion     = "us-east-1"
	sampleEndpoint   = "https://bucket.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.us-east-1.vpce.amazonaws.com"
	sampleOrigin     = "https://studio.shotgrid.autodesk.com"
	// sampleProbe is the function's first Range under the default
	// S3PROXY_INLINE_MAX_BYTES (700 KiB): 64 KiB.
	sampleProbe = "bytes=0-65535"
	// sampleTamperedSig is the X-Amz-Signature of
	// events/get-signature-mismatch.json; the fake S3 refuses it as S3
	// refuses a signature that does not match.
	sampleTamperedSig = "5d76a28be5052e629bffd4de4f525ba5985c7e5bb5acf2aa8a53013fc36a97a8"
)

// Raw (still-encoded) object paths of the samples; the signed host is
// virtual-hosted, so the path is the key.
const (
	sampleSmallPath  = "/shotgrid/demo/attachments/0a/1b/shot%20010_v001%2Bfinal.mov"
	sampleLargePath  = "/shotgrid/demo/versions/ab/cd/review%20%C3%A9dit.mp4"
	sampleLegacyPath = "/shotgrid/demo/attachments/legacy/notes.txt"
)

// sampleEnv is the S3PROXY_* contract the samples are written for.
func sampleEnv(upstreamURL string) map[string]string {
	return map[string]string{
		"AWS_REGION":              sampleRegion,
		"S3PROXY_BUCKET":          sampleBucket,
		"S3PROXY_SIGNED_HOST":     sampleSignedHost,
		"S3PROXY_UPSTREAM_URL":    upstreamURL,
		"S3PROXY_ENDPOINT_URL":    sampleEndpoint,
		"S3PROXY_ALLOWED_ORIGINS": sampleOrigin,
		"S3PROXY_KEY_PREFIXES":    "shotgrid/",
		"S3PROXY_REDIRECT_TTL":    "15m",
	}
}

// ---------------------------------------------------------------------------
// Fake S3

// sampleCall is one request as it reached S3.
type sampleCall struct {
	Method        string
	RequestURI    string // raw path and query, as on the wire
	Host          string
	Header        http.Header
	ContentLength int64
	Body          []byte
}

type sampleObject struct {
	contentType string
	body        []byte
}

func (o sampleObject) etag() string {
	sum := md5.Sum(o.body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// sampleS3 answers the samples' keys the way S3 would once it has accepted the
// signature (it checks none, except to refuse sampleTamperedSig), and records
// every request.
type sampleS3 struct {
	objects map[string]sampleObject // by raw path

	mu    sync.Mutex
	calls []sampleCall
}

func newSampleS3() *sampleS3 {
	return &sampleS3{objects: map[string]sampleObject{
		sampleSmallPath:  {"video/quicktime", samplePattern(2048, 7)},
		sampleLargePath:  {"video/mp4", samplePattern(5_000_000, 13)},
		sampleLegacyPath: {"text/plain", []byte("legacy attachment notes\n")},
	}}
}

// pattern is deterministic binary content (every byte value occurs).
func samplePattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed ^ byte(i>>8)
	}
	return b
}

func (f *sampleS3) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *sampleS3) recorded() []sampleCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *sampleS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, sampleCall{
		Method: r.Method, RequestURI: r.RequestURI, Host: r.Host,
		Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: body,
	})
	f.mu.Unlock()

	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	pairs := rawQueryPairs(rawQuery)
	if slices.Contains(pairs, "X-Amz-Signature="+sampleTamperedSig) {
		sampleS3Error(w, r, http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		obj, ok := f.objects[rawPath]
		if !ok {
			sampleS3Error(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		}
		h := w.Header()
		h.Set("Content-Type", obj.contentType)
		h.Set("ETag", obj.etag())
		h.Set("Last-Modified", "Wed, 18 Nov 2026 09:30:00 GMT")
		h.Set("Accept-Ranges", "bytes")
		h.Set("x-amz-request-id", "FAKES3REQUEST0001")
		for _, p := range pairs {
			k, v, _ := strings.Cut(p, "=")
			if k == "response-content-disposition" || k == "response-content-type" {
				dv, err := sampleUnescape(v)
				if err == nil {
					h.Set(strings.TrimPrefix(k, "response-"), dv)
				}
			}
		}
		size := int64(len(obj.body))
		first, last, ranged := sampleRange(r.Header.Get("Range"), size)
		status := http.StatusOK
		if ranged {
			if first >= size {
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				sampleS3Error(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
				return
			}
			status = http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
		} else {
			first, last = 0, size-1
		}
		h.Set("Content-Length", strconv.FormatInt(last-first+1, 10))
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			_, _ = w.Write(obj.body[first : last+1])
		}
	case http.MethodPut:
		obj := sampleObject{r.Header.Get("Content-Type"), body}
		f.mu.Lock()
		f.objects[rawPath] = obj
		f.mu.Unlock()
		w.Header().Set("ETag", obj.etag())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	default:
		sampleS3Error(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

func sampleS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code + "</Code><Message>" + msg + "</Message><RequestId>FAKES3REQUEST0001</RequestId></Error>"
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// sampleRange understands the single "bytes=a-b" / "bytes=a-" forms the
// samples and the proxy use.
func sampleRange(v string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	last = size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return first, min(last, size-1), true
}

func sampleUnescape(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) {
			n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String(), nil
}

// rawQueryPairs splits a raw query into its still-encoded "k=v" pairs.
func rawQueryPairs(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, "&") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// eventQueryPairs lists the event's query as the ALB delivered it, "k=v" with the
// encoding untouched.
func eventQueryPairs(ev *events.ALBTargetGroupRequest) []string {
	var out []string
	for k, vs := range ev.MultiValueQueryStringParameters {
		for _, v := range vs {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Samples

// sampleFiles globs events/*.json at the module root, so a new sample cannot
// be forgotten.
func sampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(peertest.ModuleRoot(t), "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no events/*.json samples found")
	}
	return files
}

// loadSample reads a sample. When fresh is set it re-dates the signature to
// now, because a SigV4 URL lives at most 604800 s and a checked-in sample
// signed in the past would always be refused as expired before any upstream
// call: X-Amz-Date and the credential scope's day for SigV4, Expires for
// SigV2. Only the query map is rewritten; every other byte of the event is
// sent as it is in the file.
func loadSample(t *testing.T, file string, fresh bool, now time.Time) ([]byte, *events.ALBTargetGroupRequest) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fresh {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatalf("%s: %v", filepath.Base(file), err)
		}
		var q map[string][]string
		if err := json.Unmarshal(raw["multiValueQueryStringParameters"], &q); err != nil {
			t.Fatalf("%s: multiValueQueryStringParameters: %v", filepath.Base(file), err)
		}
		now = now.UTC()
		if d := q["X-Amz-Date"]; len(d) == 1 && len(d[0]) == len("20060102T150405Z") {
			oldDay := d[0][:8]
			q["X-Amz-Date"] = []string{now.Format("20060102T150405Z")}
			for i, c := range q["X-Amz-Credential"] {
				q["X-Amz-Credential"][i] = strings.Replace(c, "%2F"+oldDay+"%2F", "%2F"+now.Format("20060102")+"%2F", 1)
			}
		} else if _, ok := q["Expires"]; ok {
			q["Expires"] = []string{strconv.FormatInt(now.Add(time.Hour).Unix(), 10)}
		} else {
			t.Fatalf("%s: marked fresh but has no X-Amz-Date or Expires to re-date", filepath.Base(file))
		}
		if raw["multiValueQueryStringParameters"], err = json.Marshal(q); err != nil {
			t.Fatal(err)
		}
		if data, err = json.Marshal(raw); err != nil {
			t.Fatal(err)
		}
	}
	var ev events.ALBTargetGroupRequest
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("%s: not an ALB event: %v", filepath.Base(file), err)
	}
	return data, &ev
}

// sampleSecrets lists the values that must never appear in a log: every
// signature and security token in the event, raw and decoded.
func sampleSecrets(ev *events.ALBTargetGroupRequest) []string {
	var out []string
	for k, vs := range ev.MultiValueQueryStringParameters {
		switch strings.ToLower(k) {
		case "x-amz-signature", "x-amz-security-token", "signature":
			for _, v := range vs {
				out = append(out, v)
				if d, err := sampleUnescape(v); err == nil && d != v {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Expectations

// sampleExpectation is what the proxy must answer to one sample.
type sampleExpectation struct {
	// fresh re-dates the signature to now before use (see loadSample).
	fresh    bool
	decision string // the log line's decision field
	status   int
	base64   bool
	// header values that must match exactly (names case-insensitive).
	header map[string]string
	// header values that must contain the given text.
	headerHas map[string][]string
	noHeader  []string
	// body is the exact decoded response body; nil checks bodyHas only.
	body    []byte
	bodyHas []string
	// upstream is the number of requests that must reach S3 (0 or 1).
	upstream int
	// upstreamHeader: headers S3 must receive, exactly; "" means absent.
	upstreamHeader map[string]string
	// upstreamBody is compared with the event's decoded body when set.
	upstreamBody bool
}

var sampleObjects = newSampleS3().objects

var sampleExpectations = map[string]sampleExpectation{
	"ping.json": {
		decision: "ping", status: 200,
		header: map[string]string{"Content-Type": "text/plain", "Cache-Control": "no-store"},
		body:   []byte{},
	},
	"preflight.json": {
		decision: "preflight", status: 200,
		header: map[string]string{
			"Access-Control-Allow-Origin":  sampleOrigin,
			"Access-Control-Allow-Headers": "content-type",
			"Access-Control-Max-Age":       "3000",
		},
		headerHas: map[string][]string{
			"Access-Control-Allow-Methods":  {"PUT"},
			"Access-Control-Expose-Headers": {"ETag"},
			"Vary":                          {"Origin"},
		},
		body: []byte{},
	},
	"get-presigned.json": {
		fresh: true, decision: "inline", status: 200, base64: true,
		header: map[string]string{
			"Content-Type":        "video/quicktime",
			"Content-Length":      "2048",
			"ETag":                sampleObjects[sampleSmallPath].etag(),
			"Content-Disposition": `attachment; filename="shot 010_v001+final.mov"`,
			"Accept-Ranges":       "bytes",
			"Last-Modified":       "Wed, 18 Nov 2026 09:30:00 GMT",
		},
		noHeader:       []string{"Content-Range", "Location"},
		body:           sampleObjects[sampleSmallPath].body,
		upstream:       1,
		upstreamHeader: map[string]string{"Range": sampleProbe, "X-Forwarded-For": "", "X-Amzn-Trace-Id": ""},
	},
	"get-range.json": {
		fresh: true, decision: "inline", status: 206, base64: true,
		header: map[string]string{
			"Content-Type":                "video/mp4",
			"Content-Length":              "1024",
			"Content-Range":               "bytes 1048576-1049599/5000000",
			"ETag":                        sampleObjects[sampleLargePath].etag(),
			"Access-Control-Allow-Origin": sampleOrigin,
		},
		headerHas: map[string][]string{"Access-Control-Expose-Headers": {"ETag"}, "Vary": {"Origin"}},
		noHeader:  []string{"Location"},
		body:      sampleObjects[sampleLargePath].body[1048576:1049600],
		upstream:  1,
		// The client's own range is forwarded; its Origin is not (the proxy
		// answers CORS itself when origins are configured).
		upstreamHeader: map[string]string{"Range": "bytes=1048576-1049599", "Origin": ""},
	},
	"get-redirect.json": {
		fresh: true, decision: "redirect", status: 307,
		header: map[string]string{"Cache-Control": "no-store"},
		headerHas: map[string][]string{"Location": {
			sampleEndpoint + "/" + sampleBucket + sampleLargePath + "?",
			"X-Amz-SignedHeaders=host", "X-Amz-Expires=900", "response-content-type=video%2Fmp4",
		}},
		noHeader:       []string{"Content-Range"},
		body:           []byte{},
		upstream:       1,
		upstreamHeader: map[string]string{"Range": sampleProbe},
	},
	"head-presigned.json": {
		fresh: true, decision: "relay", status: 200,
		header: map[string]string{
			"Content-Length": "5000000",
			"Content-Type":   "video/mp4",
			"ETag":           sampleObjects[sampleLargePath].etag(),
		},
		body:           []byte{},
		upstream:       1,
		upstreamHeader: map[string]string{"Range": ""},
	},
	"put-small.json": {
		fresh: true, decision: "relay", status: 200,
		header:         map[string]string{"ETag": `"` + samplePutMD5 + `"`},
		body:           []byte{},
		upstream:       1,
		upstreamHeader: map[string]string{"Content-Type": "application/octet-stream"},
		upstreamBody:   true,
	},
	"get-unsigned.json": {
		decision: "denied", status: 403,
		header:  map[string]string{"Content-Type": "application/xml"},
		bodyHas: []string{"<Code>AccessDenied</Code>", "Query-string authentication is required."},
	},
	"get-expired.json": {
		decision: "denied", status: 403,
		header:  map[string]string{"Content-Type": "application/xml"},
		bodyHas: []string{"<Code>AccessDenied</Code>", "Request has expired."},
	},
	"get-signature-mismatch.json": {
		fresh: true, decision: "denied", status: 403,
		header:   map[string]string{"Content-Type": "application/xml"},
		noHeader: []string{"Location"},
		bodyHas:  []string{"<Code>SignatureDoesNotMatch</Code>"},
		upstream: 1,
	},
	"patch.json": {
		decision: "error", status: 405,
		header:    map[string]string{"Content-Type": "application/xml"},
		headerHas: map[string][]string{"Allow": {"GET", "HEAD", "PUT", "OPTIONS"}},
		bodyHas:   []string{"<Code>MethodNotAllowed</Code>"},
	},
	"get-sigv2.json": {
		fresh: true, decision: "inline", status: 200,
		header:         map[string]string{"Content-Type": "text/plain", "Content-Length": strconv.Itoa(len(sampleObjects[sampleLegacyPath].body))},
		body:           sampleObjects[sampleLegacyPath].body,
		upstream:       1,
		upstreamHeader: map[string]string{"Range": sampleProbe},
	},
}

// samplePutMD5 is the MD5 of events/put-small.json's decoded body.
const samplePutMD5 = "ac48ec463ad65ae621dd7d2ca18ec11f"

// sampleExpectationFor fails the test for a sample nobody wrote an expectation for.
func sampleExpectationFor(t *testing.T, file string) sampleExpectation {
	t.Helper()
	exp, ok := sampleExpectations[filepath.Base(file)]
	if !ok {
		t.Fatalf("%s has no entry in sampleExpectations (pkg/twin/samples_test.go): add what the proxy must answer to it", filepath.Base(file))
	}
	return exp
}

// checkNoStaleSamples fails for an expectation whose sample is gone.
func checkNoStaleSamples(t *testing.T, files []string) {
	t.Helper()
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f)] = true
	}
	var stale []string
	for name := range sampleExpectations {
		if !have[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("sampleExpectations names samples that are not in events/: %v", stale)
	}
}

// checkSample asserts one response payload, as the ALB would receive it, and
// the upstream traffic it caused.
func checkSample(t *testing.T, exp sampleExpectation, ev *events.ALBTargetGroupRequest, payload []byte, calls []sampleCall) {
	t.Helper()
	if len(payload) >= twin.ResponseLimit {
		t.Errorf("response JSON is %d bytes; the ALB accepts less than %d", len(payload), twin.ResponseLimit)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, payload)
	}
	for _, field := range []string{"statusCode", "statusDescription", "multiValueHeaders", "body", "isBase64Encoded"} {
		if v, ok := raw[field]; !ok || string(v) == "null" {
			t.Errorf("response field %q is missing or null: %s", field, payload)
		}
	}
	if _, ok := raw["headers"]; ok {
		t.Errorf(`response has a "headers" key; an ALB in multi-value mode answers 502: %s`, payload)
	}
	var flags struct {
		IsBase64Encoded bool `json:"isBase64Encoded"`
	}
	_ = json.Unmarshal(payload, &flags)
	resp, err := twin.DecodeResponse(payload)
	if err != nil {
		t.Fatalf("the ALB would reject the response (502): %v\n%s", err, payload)
	}
	if resp.StatusCode != exp.status {
		t.Errorf("status = %d, want %d; body %q", resp.StatusCode, exp.status, sampleTrunc(resp.Body()))
	}
	if flags.IsBase64Encoded != exp.base64 {
		t.Errorf("isBase64Encoded = %v, want %v", flags.IsBase64Encoded, exp.base64)
	}
	get := func(name string) (string, bool) {
		for k, vs := range resp.MultiValueHeaders {
			if strings.EqualFold(k, name) {
				return strings.Join(vs, ", "), true
			}
		}
		return "", false
	}
	for name, want := range exp.header {
		if got, _ := get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	for name, parts := range exp.headerHas {
		got, _ := get(name)
		for _, p := range parts {
			if !strings.Contains(got, p) {
				t.Errorf("header %s = %q, want it to contain %q", name, got, p)
			}
		}
	}
	for _, name := range exp.noHeader {
		if got, ok := get(name); ok {
			t.Errorf("header %s = %q, want none", name, got)
		}
	}
	if exp.body != nil && !bytes.Equal(resp.Body(), exp.body) {
		t.Errorf("body: %d bytes %q, want %d bytes %q", len(resp.Body()), sampleTrunc(resp.Body()), len(exp.body), sampleTrunc(exp.body))
	}
	for _, s := range exp.bodyHas {
		if !bytes.Contains(resp.Body(), []byte(s)) {
			t.Errorf("body %q does not contain %q", sampleTrunc(resp.Body()), s)
		}
	}
	for _, s := range sampleSecrets(ev) {
		if bytes.Contains(payload, []byte(s)) {
			t.Errorf("response carries a signature or token from the request: %q", s)
		}
	}

	if len(calls) != exp.upstream {
		t.Fatalf("%d upstream requests, want %d: %+v", len(calls), exp.upstream, calls)
	}
	for _, c := range calls {
		checkSampleForwarded(t, exp, ev, c)
	}
}

// checkSampleForwarded asserts that S3 saw the client's request, not a
// re-encoding of it.
func checkSampleForwarded(t *testing.T, exp sampleExpectation, ev *events.ALBTargetGroupRequest, c sampleCall) {
	t.Helper()
	if c.Method != ev.HTTPMethod {
		t.Errorf("upstream method = %s, want %s", c.Method, ev.HTTPMethod)
	}
	if c.Host != sampleSignedHost {
		t.Errorf("upstream Host = %q, want the signed host %q", c.Host, sampleSignedHost)
	}
	rawPath, rawQuery, _ := strings.Cut(c.RequestURI, "?")
	if rawPath != ev.Path {
		t.Errorf("upstream path = %q, want the raw path %q byte for byte", rawPath, ev.Path)
	}
	got, want := rawQueryPairs(rawQuery), eventQueryPairs(ev)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("upstream query pairs differ from the event's still-encoded pairs\n got: %q\nwant: %q", got, want)
	}
	for name, want := range exp.upstreamHeader {
		if got := c.Header.Get(name); got != want {
			t.Errorf("upstream header %s = %q, want %q", name, got, want)
		}
	}
	if exp.upstreamBody {
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			var err error
			if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
				t.Fatalf("sample body: %v", err)
			}
		}
		if !bytes.Equal(c.Body, body) {
			t.Errorf("upstream body = %x, want %x", c.Body, body)
		}
		if c.ContentLength != int64(len(body)) {
			t.Errorf("upstream Content-Length = %d, want %d", c.ContentLength, len(body))
		}
	}
}

// sampleLogLine is the proxy's one line per request.
type sampleLogLine struct {
	RequestID string `json:"requestId"`
	Decision  string `json:"decision"`
	Method    string `json:"method"`
	Message   string `json:"message"`
	Status    int    `json:"status"`
}

// checkSampleLogs parses the function's log output: every line must be JSON,
// none may carry a secret, and the request lines must carry a request ID.
// It returns the "request" lines.
func checkSampleLogs(t *testing.T, out []byte, secrets []string) []sampleLogLine {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("a log line contains a signature or security token from a request: %q", s)
		}
	}
	var reqs []sampleLogLine
	for _, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var l sampleLogLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Errorf("log line is not JSON: %s", line)
			continue
		}
		if l.Message != "request" {
			continue
		}
		if l.RequestID == "" || l.Decision == "" {
			t.Errorf("request log line lacks requestId or decision: %s", line)
		}
		reqs = append(reqs, l)
	}
	return reqs
}

func sampleTrunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
