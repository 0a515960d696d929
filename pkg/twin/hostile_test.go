package twin_test

// The bad-input table: hostile requests through the emulated
// ALB and the in-process function, and hostile events fed straight to the
// function, each with the status and S3 error code it must get. Two real S3
// peers sit behind the proxy: the in-process locals3 for the data path
// (Range, bodies, events), and versitygw wherever the answer is a signature
// verdict that only S3 can give.
//
// Decisions the table records:
//   - Keys are taken literally, as S3 takes them: "shotgun/../x" is a key
//     under shotgun/, never normalised to "x"; an encoded slash decodes to a
//     '/' in the key; a backslash, a NUL, an overlong or non-UTF-8 sequence
//     is refused (400 InvalidURI) before any S3 call. The literal-key cases
//     run against locals3, whose keys are literal as on S3: versitygw's
//     posix backend resolves "shotgun/../private/x" and "a//b" as file
//     paths, so there a URL signed for such a key reads an object outside
//     S3PROXY_KEY_PREFIXES (a property of that backend, not of S3).
//   - Range is S3's business: the proxy forwards the client's Range and
//     passes S3's answer on. The Range cases run against versitygw, which
//     answers as S3 does: an unsatisfiable range is 416 InvalidRange; a
//     malformed, backwards, foreign-unit or multi-range header is ignored
//     (RFC 9110 §14.2) and the whole object comes back, 200 inline or, when
//     large, a 307. (gofakes3, behind locals3, answers 416 and 501 instead.)
//   - Request headers go to S3 as the client sent them, and S3 limits their
//     total to 8 KiB (400 RequestHeaderSectionTooLarge). The twin does not
//     emulate the ALB's own 64 KiB header limit.
//   - A request line net/http cannot parse (a bad escape in the path) gets
//     the listener's plain 400; a real ALB answers with its HTML 400 page.
//     The same path fed to the function as an event gets 400 InvalidURI.

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/lambdalog"
	"github.com/mediaisolation/s3proxy/pkg/locals3"
	"github.com/mediaisolation/s3proxy/pkg/peertest"
	"github.com/mediaisolation/s3proxy/pkg/proxy"
	"github.com/mediaisolation/s3proxy/pkg/sgurl"
	"github.com/mediaisolation/s3proxy/pkg/twin"
)

const (
	hostileBucket     = "media"
	hostileSignedHost = hostileBucket + ".s3.amazonaws.com"
	hostileRegion     = "us-east-1"
	hostileInlineMax  = 64 << 10
	hostilePrefix     = "shotgun/"
	// hostileToken is the session token of the locals3 URLs: locals3
	// covers it by the signature without checking its value.
	hostileToken = "IQoJb3JpZ2luX2VjEHostileSessionToken+/=Secret"
	// hostileALB marks an answer the load balancer makes itself.
	hostileALB = "ALB"
	// hostileListener marks net/http's own plain-text 400 for a request
	// line it cannot parse; a real ALB answers those with its 400 page.
	hostileListener = "listener"
)

// hostileStack is the twin and in-process function in front of one S3.
type hostileStack struct {
	addr   string       // the twin's listener
	fn     twin.Invoker // in-process, or the bootstrap under the emulator
	signer *sgurl.Signer
	creds  aws.Credentials
	put    func(t *testing.T, key string, body []byte)
}

type hostileEnv struct {
	logs     *peertest.Output
	srvLog   *peertest.Output // net/http's own error log: a panic shows here
	local    *hostileStack
	vgw      *hostileStack
	small    []byte
	large    []byte
	secrets  map[string]bool
	secretMu sync.Mutex
}

func newHostileStack(t *testing.T, e *hostileEnv, s3URL string, creds aws.Credentials) *hostileStack {
	t.Helper()
	env := map[string]string{
		"S3PROXY_BUCKET":           hostileBucket,
		"S3PROXY_REGION":           hostileRegion,
		"S3PROXY_SIGNED_HOST":      hostileSignedHost,
		"S3PROXY_UPSTREAM_URL":     s3URL,
		"S3PROXY_ENDPOINT_URL":     s3URL,
		"S3PROXY_INLINE_MAX_BYTES": strconv.Itoa(hostileInlineMax),
		"S3PROXY_KEY_PREFIXES":     hostilePrefix,
		"S3PROXY_REDIRECT_TTL":     "5m",
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := lambdalog.New(e.logs, slog.LevelDebug)
	provider := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	var fn twin.Invoker
	if peertest.ProcessMode() {
		// The real bootstrap; its stdout and stderr land in the same log
		// buffer, so the secret scan and the panic check read them too.
		vars := maps.Clone(env)
		vars["S3PROXY_LOG_LEVEL"] = "debug"
		vars["AWS_REGION"], vars["AWS_ACCESS_KEY_ID"] = hostileRegion, creds.AccessKeyID
		vars["AWS_SECRET_ACCESS_KEY"], vars["AWS_SESSION_TOKEN"] = creds.SecretAccessKey, creds.SessionToken
		fn = peertest.StartFunctionWith(t, vars, peertest.FunctionOptions{Output: e.logs, Timeout: 20 * time.Second})
	} else {
		awsCfg := aws.Config{Region: hostileRegion, Credentials: provider}
		h := proxy.Wire(cfg, awsCfg, logger, lambdalog.RequestID)
		fn = twin.InProcess{Function: albhttp.NewFunction(h, albhttp.WithRefused(h.Refused))}
	}
	alb := twin.New(twin.Options{Config: cfg, Invoker: fn, FunctionTimeout: 20 * time.Second, Logger: logger})
	srv := httptest.NewUnstartedServer(alb)
	srv.Config.ErrorLog = log.New(e.srvLog, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return &hostileStack{
		addr: srv.Listener.Addr().String(), fn: fn, creds: creds,
		signer: sgurl.NewSigner(provider, hostileRegion, hostileBucket, hostileSignedHost),
	}
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	e := &hostileEnv{logs: &peertest.Output{}, srvLog: &peertest.Output{}, secrets: map[string]bool{},
		small: peertest.Bytes(1000, 41), large: peertest.Bytes(3*hostileInlineMax, 42)}

	// The data path: locals3, in process.
	ak, sk, err := locals3.GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	ls3, err := locals3.New(locals3.Options{AccessKeyID: ak, SecretAccessKey: sk, Region: hostileRegion, Buckets: []string{hostileBucket}})
	if err != nil {
		t.Fatal(err)
	}
	lsrv := httptest.NewServer(ls3)
	t.Cleanup(lsrv.Close)
	e.local = newHostileStack(t, e, lsrv.URL, aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk, SessionToken: hostileToken})
	e.local.put = func(t *testing.T, key string, body []byte) {
		if err := ls3.PutObject(context.Background(), hostileBucket, key, body, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}

	// Signature verdicts: versitygw.
	gw := peertest.StartVersityGW(t, peertest.VersityGWOptions{Buckets: []string{hostileBucket}, Region: hostileRegion, VirtualDomain: "s3.amazonaws.com"})
	e.vgw = newHostileStack(t, e, gw.URL, aws.Credentials{AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey})
	e.vgw.put = func(t *testing.T, key string, body []byte) {
		gw.Seed(t, hostileBucket, key, body, "")
	}

	for _, st := range []*hostileStack{e.local, e.vgw} {
		st.put(t, "shotgun/small.bin", e.small)
		st.put(t, "shotgun/large.bin", e.large)
		st.put(t, "private/secret.bin", []byte("private bytes that no proxied URL may reach"))
		e.addSecret(st.creds.SecretAccessKey)
		e.addSecret(st.creds.SessionToken)
	}
	return e
}

// addSecret remembers a value the logs must never contain.
func (e *hostileEnv) addSecret(s string) {
	if len(s) < 8 {
		return
	}
	e.secretMu.Lock()
	defer e.secretMu.Unlock()
	e.secrets[s] = true
	if u, err := url.QueryUnescape(s); err == nil {
		e.secrets[u] = true
	}
	e.secrets[url.QueryEscape(s)] = true
}

// addQuerySecrets remembers the signature and token values of a target.
func (e *hostileEnv) addQuerySecrets(target string) {
	_, q, _ := strings.Cut(target, "?")
	for _, part := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		switch strings.ToLower(k) {
		case "x-amz-signature", "x-amz-security-token", "signature":
			e.addSecret(v)
		}
	}
}

// target mints ShotGrid's URL for key and returns its raw path and query.
func (st *hostileStack) target(t *testing.T, key string, ttl time.Duration) string {
	t.Helper()
	signed, err := st.signer.Get(context.Background(), key, ttl)
	if err != nil {
		t.Fatalf("presign %q: %v", key, err)
	}
	return hostileRequestTarget(t, signed)
}

// targetAt signs key with a chosen signing time, region and life.
func (st *hostileStack) targetAt(t *testing.T, key string, at time.Time, region string, expires time.Duration) string {
	t.Helper()
	u := "https://" + hostileSignedHost + "/" + vgwEscapeKey(key) + "?X-Amz-Expires=" + strconv.Itoa(int(expires/time.Second))
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(context.Background(), st.creds, req, "UNSIGNED-PAYLOAD", "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return hostileRequestTarget(t, signed)
}

// targetFor signs key but requests path instead: a signature for one
// object presented for another.
func (st *hostileStack) targetFor(t *testing.T, key, path string) string {
	t.Helper()
	_, q, _ := strings.Cut(st.target(t, key, time.Hour), "?")
	return path + "?" + q
}

func hostileRequestTarget(t *testing.T, signed string) string {
	t.Helper()
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(signed, u.Scheme+"://"+u.Host)
}

// hostileSet replaces the value of param (raw) in a target's query.
func hostileSet(target, param, value string) string {
	p, q, _ := strings.Cut(target, "?")
	parts := strings.Split(q, "&")
	for i, part := range parts {
		if k, _, _ := strings.Cut(part, "="); k == param {
			parts[i] = k + "=" + value
		}
	}
	return p + "?" + strings.Join(parts, "&")
}

// hostileDrop removes param from a target's query.
func hostileDrop(target, param string) string {
	p, q, _ := strings.Cut(target, "?")
	var keep []string
	for _, part := range strings.Split(q, "&") {
		if k, _, _ := strings.Cut(part, "="); k != param {
			keep = append(keep, part)
		}
	}
	return p + "?" + strings.Join(keep, "&")
}

// hostileParam returns param's raw value in a target's query.
func hostileParam(target, param string) string {
	_, q, _ := strings.Cut(target, "?")
	for _, part := range strings.Split(q, "&") {
		if k, v, _ := strings.Cut(part, "="); k == param {
			return v
		}
	}
	return ""
}

// hostileResponse is an answer as the client saw it.
type hostileResponse struct {
	status int
	header http.Header
	body   []byte
}

// send writes one request exactly as given, bytes and all, and reads the
// answer.
func (st *hostileStack) send(t *testing.T, method, target string, header http.Header, body []byte) hostileResponse {
	t.Helper()
	resp, got, err := peertest.RawRequest(st.addr, "s3-proxy.studio.test", method, target, header, body, 30*time.Second)
	if err != nil {
		t.Fatalf("%s: no complete HTTP answer (a panic or a dropped connection): %v", method, err)
	}
	return hostileResponse{status: resp.StatusCode, header: resp.Header, body: got}
}

// invoke feeds an event straight to the function and applies the ALB's
// checks to its answer: what the ALB would refuse becomes its 502 page.
func (st *hostileStack) invoke(t *testing.T, event []byte) hostileResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	payload, err := st.fn.Invoke(ctx, event)
	if err != nil {
		return hostileALBPage(http.StatusBadGateway)
	}
	resp, err := twin.DecodeResponse(payload)
	if err != nil {
		t.Logf("the ALB would refuse the function's answer: %v", err)
		return hostileALBPage(http.StatusBadGateway)
	}
	h := http.Header{}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return hostileResponse{status: resp.StatusCode, header: h, body: resp.Body()}
}

func hostileALBPage(status int) hostileResponse {
	rec := httptest.NewRecorder()
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	rec.Header().Set("Server", "awselb/2.0")
	rec.Header().Set("Content-Type", "text/html")
	rec.WriteHeader(status)
	_, _ = io.WriteString(rec, "<html><head><title>"+text+"</title></head></html>")
	return hostileResponse{status: status, header: rec.Header(), body: rec.Body.Bytes()}
}

// hostileEvent is a multi-value ALB event with the given fields spliced in
// as raw JSON (so they can be null, numbers or nonsense).
func hostileEvent(fields map[string]string) []byte {
	base := map[string]string{
		"requestContext":                  `{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s3proxy/0123456789abcdef"}}`,
		"httpMethod":                      `"GET"`,
		"path":                            `"/ping"`,
		"multiValueQueryStringParameters": `{}`,
		"multiValueHeaders":               `{"host":["s3-proxy.studio.test"],"x-forwarded-for":["203.0.113.7"]}`,
		"body":                            `""`,
		"isBase64Encoded":                 `false`,
	}
	for k, v := range fields {
		if v == "" {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range []string{"requestContext", "httpMethod", "path", "multiValueQueryStringParameters", "multiValueHeaders", "body", "isBase64Encoded"} {
		v, ok := base[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// hostileQueryJSON is a target's query as the event's multi-value map.
func hostileQueryJSON(target string) string {
	_, q, _ := strings.Cut(target, "?")
	m := map[string][]string{}
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		m[k] = append(m[k], v)
	}
	var b strings.Builder
	b.WriteByte('{')
	i := 0
	for k, vs := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		i++
		fmt.Fprintf(&b, "%q:[", k)
		for j, v := range vs {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q", v)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.String()
}

// hostileCase is one row of the table. Exactly one of request and event is
// set. code is the S3 error code of the XML body, hostileALB for the load
// balancer's own HTML page, or "" for an answer that is not an error.
type hostileCase struct {
	name    string
	vgw     bool // versitygw judges; otherwise locals3
	request func(t *testing.T, st *hostileStack) (method, target string, header http.Header, body []byte)
	event   func(t *testing.T, st *hostileStack) []byte
	status  int
	code    string
	// fixed marks a listener rule's fixed response: the load balancer
	// answers with S3's XML as text/plain, and the function never sees it.
	fixed bool
	// check runs extra assertions on the answer.
	check func(t *testing.T, e *hostileEnv, r hostileResponse)
}

// hostileGetOf is a GET of target with no extra headers.
func hostileGetOf(target func(t *testing.T, st *hostileStack) string) func(*testing.T, *hostileStack) (string, string, http.Header, []byte) {
	return func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
		return http.MethodGet, target(t, st), nil, nil
	}
}

// hostileRanged is a GET of key with a Range header.
func hostileRanged(key, rng string) func(*testing.T, *hostileStack) (string, string, http.Header, []byte) {
	return func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
		return http.MethodGet, st.target(t, key, time.Hour), http.Header{"Range": {rng}}, nil
	}
}

// hostileMethod sends method to a signed target for the small object.
// hostileMethodEvent is a signed read's event under another method, as
// the function would see it if a listener without the rules sent it.
func hostileMethodEvent(m string) func(*testing.T, *hostileStack) []byte {
	return func(t *testing.T, st *hostileStack) []byte {
		tg := st.target(t, "shotgun/small.bin", time.Hour)
		return hostileEvent(map[string]string{"httpMethod": strconv.Quote(m), "path": `"/shotgun/small.bin"`, "multiValueQueryStringParameters": hostileQueryJSON(tg)})
	}
}

func hostileMethod(m string) func(*testing.T, *hostileStack) (string, string, http.Header, []byte) {
	return func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
		return m, st.target(t, "shotgun/small.bin", time.Hour), nil, nil
	}
}

func hostileSigned(key string) func(t *testing.T, st *hostileStack) string {
	return func(t *testing.T, st *hostileStack) string { return st.target(t, key, time.Hour) }
}

// hostileEdited is a signed small-object target with one query edit applied.
func hostileEdited(edit func(target string) string) func(t *testing.T, st *hostileStack) string {
	return func(t *testing.T, st *hostileStack) string { return edit(st.target(t, "shotgun/small.bin", time.Hour)) }
}

func hostileWantBody(what string, want func(e *hostileEnv) []byte) func(*testing.T, *hostileEnv, hostileResponse) {
	return func(t *testing.T, e *hostileEnv, r hostileResponse) {
		t.Helper()
		vgwEqualBytes(t, what, r.body, want(e))
	}
}

func hostileWantRedirect(t *testing.T, _ *hostileEnv, r hostileResponse) {
	t.Helper()
	if r.header.Get("Location") == "" || len(r.body) != 0 {
		t.Errorf("307 without Location, or with a body of %d bytes", len(r.body))
	}
}

func hostileCases() []hostileCase {
	const small, large = "shotgun/small.bin", "shotgun/large.bin"
	ok := func(t *testing.T, e *hostileEnv, r hostileResponse) {
		vgwEqualBytes(t, "small object", r.body, e.small)
	}
	return []hostileCase{
		// --- Keys: traversal, encoded slashes, odd bytes ---------------------
		// With key prefixes set, dot segments are refused by the proxy before
		// any S3 call: a store that resolved them would leave the prefix.
		{name: "traversal literal dot-dot, refused under prefixes",
			request: hostileGetOf(hostileSigned("shotgun/../private/secret.bin")), status: 403, code: "AccessDenied"},
		{name: "traversal out of the prefix", request: hostileGetOf(hostileSigned("../private/secret.bin")), status: 403, code: "AccessDenied"},
		{name: "traversal encoded %2e%2e out of the prefix", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, "shotgun/small.bin", "/%2e%2e/private/secret.bin")
		}), status: 403, code: "AccessDenied"},
		{name: "traversal encoded %2E%2E inside the prefix, signed for the literal key", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, "shotgun/../private/secret.bin", "/shotgun/%2E%2E/private/secret.bin")
		}), status: 403, code: "AccessDenied"},
		{name: "traversal with the signature of an allowed key", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/../private/secret.bin")
		}), status: 403, code: "AccessDenied"},
		{name: "single dot segment under prefixes", request: hostileGetOf(hostileSigned("shotgun/./small.bin")), status: 403, code: "AccessDenied"},
		{name: "encoded slash %2F inside the prefix, signed for the slash", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun%2Fsmall.bin")
		}), status: 200, check: ok},
		{name: "encoded slash %2F leading, outside the prefix", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/%2Fshotgun/small.bin")
		}), status: 403, code: "AccessDenied"},
		{name: "double slash leading", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "//shotgun/small.bin")
		}), status: 403, code: "AccessDenied"},
		{name: "double slash inside, taken as a key", request: hostileGetOf(hostileSigned("shotgun//small.bin")), status: 404, code: "NoSuchKey"},
		{name: "backslash", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, `/shotgun\..\private\secret.bin`)
		}), status: 400, code: "InvalidURI"},
		{name: "encoded backslash %5C, taken as a key", request: hostileGetOf(hostileSigned(`shotgun/..\private\secret.bin`)), status: 404, code: "NoSuchKey"},
		{name: "NUL %00", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/small.bin%00.txt")
		}), status: 400, code: "InvalidURI"},
		{name: "invalid escape %zz, refused by the listener", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/%zz.bin")
		}), status: 400, code: hostileListener},
		{name: "non-UTF-8 escaped in path", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/%ff%fe.bin")
		}), status: 400, code: "InvalidURI"},
		{name: "non-UTF-8 raw bytes in path", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/\xff\xfe.bin")
		}), status: 400, code: "InvalidURI"},
		{name: "overlong UTF-8 slash %C0%AF", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/%C0%AF..%C0%AFprivate")
		}), status: 400, code: "InvalidURI"},
		{name: "key over 1024 bytes", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/"+strings.Repeat("k", 1100))
		}), status: 403, code: "AccessDenied"},
		{name: "bucket root", request: hostileGetOf(func(t *testing.T, st *hostileStack) string { return st.targetFor(t, small, "/") }), status: 403, code: "AccessDenied"},
		{name: "key outside the allowed prefix, validly signed", request: hostileGetOf(hostileSigned("private/secret.bin")), status: 403, code: "AccessDenied"},
		{name: "key sharing the prefix's letters but not its slash", request: hostileGetOf(hostileSigned("shotgunx/small.bin")), status: 403, code: "AccessDenied"},
		{name: "key prefix in another case", request: hostileGetOf(hostileSigned("SHOTGUN/small.bin")), status: 403, code: "AccessDenied"},

		// --- Query authentication: missing, garbage, malformed, duplicated ---
		{name: "no query at all", request: hostileGetOf(func(*testing.T, *hostileStack) string { return "/shotgun/small.bin" }), status: 403, code: "AccessDenied", fixed: true},
		{name: "signature missing", request: hostileGetOf(hostileEdited(func(u string) string { return hostileDrop(u, "X-Amz-Signature") })), status: 403, code: "AccessDenied", fixed: true},
		{name: "event: no query at all", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `"/shotgun/small.bin"`})
		}, status: 403, code: "AccessDenied"},
		{name: "signature garbage", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Signature", "not-a-signature%21") })), status: 403, code: "AccessDenied"},
		{name: "signature 63 hex digits", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Signature", hostileParam(u, "X-Amz-Signature")[1:])
		})), status: 403, code: "AccessDenied"},
		{name: "signature upper-case hex", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Signature", strings.ToUpper(hostileParam(u, "X-Amz-Signature")))
		})), status: 403, code: "AccessDenied"},
		{name: "signature well formed but wrong", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return vgwFlipSignature(t, st.target(t, small, time.Hour))
		}), status: 403, code: "SignatureDoesNotMatch"},
		{name: "signature well formed but wrong, large object (no redirect)", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return vgwFlipSignature(t, st.target(t, large, time.Hour))
		}), status: 403, code: "SignatureDoesNotMatch"},
		{name: "signature of another key", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetFor(t, small, "/shotgun/large.bin")
		}), status: 403, code: "SignatureDoesNotMatch"},
		{name: "signed with the wrong secret", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			c := st.creds
			c.SecretAccessKey = peertest.WrongSecret(c.SecretAccessKey)
			wrong := &hostileStack{creds: c}
			return wrong.targetAt(t, large, time.Now(), hostileRegion, time.Hour)
		}), status: 403, code: "SignatureDoesNotMatch"},
		{name: "unsigned parameter appended", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.target(t, small, time.Hour) + "&response-content-type=text%2Fhtml"
		}), status: 403, code: "SignatureDoesNotMatch"},
		{name: "security token appended to a URL signed without one", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.target(t, large, time.Hour) + "&X-Amz-Security-Token=FORGEDTOKENVALUE0123456789"
		}), status: 400, code: "InvalidToken"},
		// versitygw has no session tokens; locals3 covers the token by the
		// signature, as S3 does.
		{name: "security token tampered", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Security-Token", "Tampered"+hostileParam(u, "X-Amz-Security-Token"))
		})), status: 403, code: "SignatureDoesNotMatch"},
		{name: "X-Amz-Signature duplicated", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&X-Amz-Signature=" + hostileParam(u, "X-Amz-Signature") })),
			status: 403, code: "AccessDenied"},
		{name: "X-Amz-Date duplicated", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&X-Amz-Date=" + hostileParam(u, "X-Amz-Date") })),
			status: 403, code: "AccessDenied"},
		{name: "X-Amz-Credential duplicated", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&X-Amz-Credential=" + hostileParam(u, "X-Amz-Credential") })),
			status: 403, code: "AccessDenied"},
		{name: "X-Amz-Security-Token duplicated", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&X-Amz-Security-Token=second" })),
			status: 403, code: "AccessDenied"},
		{name: "X-Amz-Signature duplicated in lower case", vgw: true, request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			u := st.target(t, small, time.Hour)
			return u + "&x-amz-signature=" + hostileParam(u, "X-Amz-Signature")
		}), status: 403, code: "SignatureDoesNotMatch"},
		{name: "algorithm not SigV4", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Algorithm", "AWS4-HMAC-SHA1") })), status: 403, code: "AccessDenied"},
		{name: "credential with four parts", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Credential", strings.Replace(hostileParam(u, "X-Amz-Credential"), "%2Fs3%2F", "%2F", 1))
		})), status: 403, code: "AccessDenied"},
		{name: "credential for another service", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Credential", strings.Replace(hostileParam(u, "X-Amz-Credential"), "%2Fs3%2F", "%2Fec2%2F", 1))
		})), status: 403, code: "AccessDenied"},
		{name: "credential date not the signing day", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Date", "20200101T000000Z")
		})), status: 403, code: "AccessDenied"},
		{name: "X-Amz-Date malformed", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Date", "yesterday") })), status: 403, code: "AccessDenied"},
		{name: "signed headers without host", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-SignedHeaders", "x-amz-date") })), status: 403, code: "AccessDenied"},
		{name: "signed headers malformed", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-SignedHeaders", "Host%3B%3B") })), status: 403, code: "AccessDenied"},
		{name: "expires zero", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Expires", "0") })), status: 403, code: "AccessDenied"},
		{name: "expires negative", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Expires", "-60") })), status: 403, code: "AccessDenied"},
		{name: "expires not a number", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Expires", "1e3") })), status: 403, code: "AccessDenied"},
		{name: "expires beyond 7 days (604801)", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return hostileSet(st.target(t, small, time.Hour), "X-Amz-Expires", "604801")
		}), status: 403, code: "AccessDenied"},
		{name: "expires exactly 7 days is honoured", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.target(t, small, 7*24*time.Hour)
		}), status: 200, check: ok},
		{name: "expired an hour ago", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetAt(t, small, time.Now().Add(-2*time.Hour), hostileRegion, time.Hour)
		}), status: 403, code: "AccessDenied"},
		{name: "expired large object, no redirect", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetAt(t, large, time.Now().Add(-2*time.Hour), hostileRegion, time.Hour)
		}), status: 403, code: "AccessDenied"},
		{name: "signed an hour in the future", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetAt(t, small, time.Now().Add(time.Hour), hostileRegion, time.Hour)
		}), status: 403, code: "AccessDenied"},
		{name: "wrong-region credential scope, validly signed", request: hostileGetOf(func(t *testing.T, st *hostileStack) string {
			return st.targetAt(t, small, time.Now(), "eu-west-1", time.Hour)
		}), status: 403, code: "AccessDenied"},
		{name: "wrong-region credential scope, edited", request: hostileGetOf(hostileEdited(func(u string) string {
			return hostileSet(u, "X-Amz-Credential", strings.Replace(hostileParam(u, "X-Amz-Credential"), hostileRegion, "us-west-2", 1))
		})), status: 403, code: "AccessDenied"},
		{name: "SigV2 and SigV4 mixed", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&AWSAccessKeyId=AKIAEXAMPLE&Signature=abc" })),
			status: 403, code: "AccessDenied"},
		{name: "legacy SigV2 passed to S3 (locals3 refuses V2)", request: hostileGetOf(func(*testing.T, *hostileStack) string {
			return "/shotgun/small.bin?AWSAccessKeyId=AKIAEXAMPLE&Expires=" + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) +
				"&Signature=bGVnYWN5VjJzaWduYXR1cmVfaG9zdGlsZQ%3D%3D"
		}), status: 400, code: "InvalidRequest"},
		{name: "invalid escape in query", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&x=%zz" })), status: 400, code: "InvalidURI"},
		{name: "non-UTF-8 raw bytes in query", vgw: true, request: hostileGetOf(hostileEdited(func(u string) string { return u + "&x=\xff\xfe" })), status: 403, code: "SignatureDoesNotMatch"},
		{name: "non-UTF-8 escaped in signature", request: hostileGetOf(hostileEdited(func(u string) string { return hostileSet(u, "X-Amz-Signature", "%ff%fe%fd") })), status: 403, code: "AccessDenied"},

		// --- Range: S3 decides, the proxy passes its answer on ----------------
		{name: "range valid on the small object", request: hostileRanged(small, "bytes=0-99"), status: 206,
			check: hostileWantBody("range", func(e *hostileEnv) []byte { return e.small[:100] })},
		{name: "range suffix", request: hostileRanged(small, "bytes=-10"), status: 206,
			check: hostileWantBody("suffix range", func(e *hostileEnv) []byte { return e.small[990:] })},
		{name: "range unsatisfiable", vgw: true, request: hostileRanged(small, "bytes=5000-"), status: 416, code: "InvalidRange"},
		{name: "range garbage is ignored", vgw: true, request: hostileRanged(small, "bytes=abc-def"), status: 200, check: ok},
		{name: "range backwards is ignored", vgw: true, request: hostileRanged(small, "bytes=50-10"), status: 200, check: ok},
		{name: "range in another unit is ignored", vgw: true, request: hostileRanged(small, "items=0-9"), status: 200, check: ok},
		{name: "multi-range on the small object", vgw: true, request: hostileRanged(small, "bytes=0-9,20-29"), status: 200, check: ok},
		{name: "multi-range on the large object redirects to the whole", vgw: true, request: hostileRanged(large, "bytes=0-9,20-29"), status: 307, check: hostileWantRedirect},
		{name: "range within the large object stays inline", request: hostileRanged(large, "bytes=1000-1999"), status: 206,
			check: hostileWantBody("range", func(e *hostileEnv) []byte { return e.large[1000:2000] })},
		{name: "range header of ~64 KiB is the ALB's 400", request: hostileRanged(small, "bytes="+strings.Repeat("0-0,", 16000)+"0-0"), status: 400, code: hostileALB},

		// --- Oversized headers and bodies -------------------------------------
		{name: "header of ~60 KiB is the ALB's 400", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			return http.MethodGet, st.target(t, small, time.Hour), http.Header{"X-Junk": {strings.Repeat("j", 60<<10)}}, nil
		}, status: 400, code: hostileALB},
		{name: "headers of 70 KiB in all are the ALB's 400", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			h := http.Header{}
			for i := 0; i < 7; i++ {
				h.Set("X-Junk-"+strconv.Itoa(i), strings.Repeat("j", 10<<10))
			}
			return http.MethodGet, st.target(t, small, time.Hour), h, nil
		}, status: 400, code: hostileALB},
		{name: "URL over 16 KiB is the ALB's 414", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			return http.MethodGet, st.target(t, small, time.Hour) + "&pad=" + strings.Repeat("p", 17<<10), nil, nil
		}, status: 414, code: hostileALB},
		{name: "header of 4 KiB is forwarded and harmless", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			return http.MethodGet, st.target(t, small, time.Hour), http.Header{"X-Junk": {strings.Repeat("j", 4<<10)}}, nil
		}, status: 200, check: ok},
		{name: "x-amz header of 4 KiB, not signed", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			return http.MethodGet, st.target(t, small, time.Hour), http.Header{"X-Amz-Meta-Junk": {strings.Repeat("j", 4<<10)}}, nil
		}, status: 403, code: "AccessDenied"},
		{name: "query of 4 KiB, not signed", vgw: true, request: hostileGetOf(hostileEdited(func(u string) string { return u + "&junk=" + strings.Repeat("q", 4<<10) })),
			status: 403, code: "SignatureDoesNotMatch"},
		// S3's error echoes the canonical request; above the inline limit
		// the proxy cannot pass it on and answers 502 instead (unreachable
		// behind a real ALB, whose request line stops at 16 KiB).
		{name: "query of 64 KiB is the ALB's 414", request: hostileGetOf(hostileEdited(func(u string) string { return u + "&junk=" + strings.Repeat("q", 64<<10) })),
			status: 414, code: hostileALB},
		{name: "PUT body over 1 MB is the ALB's 413", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			return http.MethodPut, st.target(t, "shotgun/upload.bin", time.Hour), nil, bytes.Repeat([]byte("u"), 1_000_001)
		}, status: 413, code: hostileALB},
		{name: "PUT body of exactly 1 MB reaches S3", request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			signed, err := st.signer.Put(context.Background(), "shotgun/upload-1mb.bin", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return http.MethodPut, hostileRequestTarget(t, signed), http.Header{"Content-Type": {"application/octet-stream"}}, bytes.Repeat([]byte("u"), 1_000_000)
		}, status: 200, check: func(t *testing.T, _ *hostileEnv, r hostileResponse) {
			if r.header.Get("ETag") == "" {
				t.Error("no ETag on the relayed PUT")
			}
		}},
		{name: "PUT with a GET signature", vgw: true, request: func(t *testing.T, st *hostileStack) (string, string, http.Header, []byte) {
			return http.MethodPut, st.target(t, "shotgun/small.bin", time.Hour), nil, []byte("overwrite")
		}, status: 403, code: "SignatureDoesNotMatch"},

		// --- Methods -----------------------------------------------------------
		// The listener's default action answers methods the proxy never
		// serves (a fixed response carries no Allow); the function
		// refuses them too, should one reach it.
		{name: "PATCH", request: hostileMethod("PATCH"), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "PROPFIND", request: hostileMethod("PROPFIND"), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "TRACE", request: hostileMethod("TRACE"), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "CONNECT with a path", request: hostileMethod("CONNECT"), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "MKCOL", request: hostileMethod("MKCOL"), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "lower-case get", request: hostileMethod("get"), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "method of 40 letters", request: hostileMethod(strings.Repeat("GETX", 10)), status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "PATCH on /ping", request: func(*testing.T, *hostileStack) (string, string, http.Header, []byte) {
			return "PATCH", "/ping", nil, nil
		}, status: 405, code: "MethodNotAllowed", fixed: true},
		{name: "event: PATCH", event: hostileMethodEvent("PATCH"), status: 405, code: "MethodNotAllowed", check: hostileWantAllow},
		{name: "event: PROPFIND", event: hostileMethodEvent("PROPFIND"), status: 405, code: "MethodNotAllowed", check: hostileWantAllow},
		{name: "event: TRACE", event: hostileMethodEvent("TRACE"), status: 405, code: "MethodNotAllowed", check: hostileWantAllow},
		{name: "event: lower-case get", event: hostileMethodEvent("get"), status: 400, code: "BadRequest"},
		{name: "event: method of 40 letters", event: hostileMethodEvent(strings.Repeat("GETX", 10)), status: 400, code: "BadRequest"},
		{name: "event: PATCH on /ping", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"httpMethod": `"PATCH"`})
		}, status: 405, code: "MethodNotAllowed"},

		// --- Events fed straight to the function -------------------------------
		{name: "event: invalid base64 body", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"httpMethod": `"PUT"`, "path": `"/shotgun/x.bin"`, "body": `"@@not base64@@"`, "isBase64Encoded": `true`})
		}, status: 400, code: "InvalidRequest"},
		{name: "event: base64 body with bad padding", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"httpMethod": `"PUT"`, "path": `"/shotgun/x.bin"`, "body": `"QUJD="`, "isBase64Encoded": `true`})
		}, status: 400, code: "InvalidRequest"},
		{name: "event: path null", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `null`})
		}, status: 400, code: "InvalidURI"},
		{name: "event: path missing", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": ""})
		}, status: 400, code: "InvalidURI"},
		{name: "event: multiValueHeaders null on a signed GET", event: func(t *testing.T, st *hostileStack) []byte {
			tg := st.target(t, small, time.Hour)
			return hostileEvent(map[string]string{"path": `"/shotgun/small.bin"`, "multiValueQueryStringParameters": hostileQueryJSON(tg), "multiValueHeaders": `null`})
		}, status: 200, check: ok},
		{name: "event: body null on a signed GET", event: func(t *testing.T, st *hostileStack) []byte {
			tg := st.target(t, small, time.Hour)
			return hostileEvent(map[string]string{"path": `"/shotgun/small.bin"`, "multiValueQueryStringParameters": hostileQueryJSON(tg), "body": `null`})
		}, status: 200, check: ok},
		{name: "event: multiValueQueryStringParameters null on a signed path", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `"/shotgun/small.bin"`, "multiValueQueryStringParameters": `null`})
		}, status: 403, code: "AccessDenied"},
		{name: "event: httpMethod null", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"httpMethod": `null`})
		}, status: 400, code: "BadRequest"},
		{name: "event: garbage JSON", event: func(*testing.T, *hostileStack) []byte { return []byte(`{"httpMethod":"GET","path":"/ping"`) },
			status: 400, code: "BadRequest"},
		{name: "event: not JSON at all", event: func(*testing.T, *hostileStack) []byte { return []byte("GET /ping HTTP/1.1\r\n\r\n") },
			status: 400, code: "BadRequest"},
		{name: "event: number as body", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"httpMethod": `"PUT"`, "body": `42`})
		}, status: 400, code: "BadRequest"},
		{name: "event: isBase64Encoded as a string", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"isBase64Encoded": `"yes"`})
		}, status: 400, code: "BadRequest"},
		{name: "event: header values not a list", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"multiValueHeaders": `{"host":"s3-proxy.studio.test"}`})
		}, status: 400, code: "BadRequest"},
		{name: "event: huge path (256 KiB)", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `"/shotgun/` + strings.Repeat("p", 256<<10) + `"`})
		}, status: 403, code: "AccessDenied"},
		{name: "event: invalid escape %zz in the path", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `"/shotgun/%zz.bin"`})
		}, status: 400, code: "InvalidURI"},
		{name: "event: path with a space", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `"/shotgun/a b.bin"`})
		}, status: 400, code: "InvalidURI"},
		{name: "event: relative path", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": `"shotgun/small.bin"`})
		}, status: 400, code: "InvalidURI"},
		{name: "event: JSON null", event: func(*testing.T, *hostileStack) []byte { return []byte(`null`) }, status: 400, code: "BadRequest"},
		{name: "event: every field null", event: func(*testing.T, *hostileStack) []byte {
			return []byte(`{"requestContext":null,"httpMethod":null,"path":null,"multiValueQueryStringParameters":null,"multiValueHeaders":null,"body":null,"isBase64Encoded":null}`)
		}, status: 400, code: "BadRequest"},
		{name: "event: invalid UTF-8 in the path string", event: func(*testing.T, *hostileStack) []byte {
			return hostileEvent(map[string]string{"path": "\"/shotgun/\xff\xfe.bin\""})
		}, status: 400, code: "InvalidURI"},
	}
}

func hostileWantAllow(t *testing.T, _ *hostileEnv, r hostileResponse) {
	t.Helper()
	if r.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func TestHostileInputTable(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 60 {
		t.Fatalf("the table has %d cases; the suite promises at least 60", len(cases))
	}
	e := newHostileEnv(t)
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		st := e.local
		if tc.vgw {
			st = e.vgw
		}
		t.Run(tc.name, func(t *testing.T) {
			var r hostileResponse
			if tc.event != nil {
				ev := tc.event(t, st)
				e.addQuerySecrets("?" + hostileEventQuery(ev))
				r = st.invoke(t, ev)
			} else {
				m, target, hdr, body := tc.request(t, st)
				e.addQuerySecrets(target)
				r = st.send(t, m, target, hdr, body)
			}
			hostileCheck(t, tc, r)
			if tc.check != nil {
				tc.check(t, e, r)
			}
		})
	}

	reached := 0 // cases the function saw: all but the front end's own answers
	for _, tc := range cases {
		if tc.code != hostileALB && tc.code != hostileListener && !tc.fixed {
			reached++
		}
	}
	// Under the emulator the function's lines reach the buffer through a
	// pipe, possibly after its answer: wait for them, boundedly.
	logs := e.logs.String()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(logs, `"message":"request"`) < reached && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		logs = e.logs.String()
	}
	if n := strings.Count(logs, `"message":"request"`); n != reached {
		t.Errorf("%d request log lines for the %d cases that reached the function", n, reached)
	}
	if strings.Contains(logs, "panic") || strings.Contains(e.srvLog.String(), "panic") {
		t.Errorf("a panic was logged:\n%s\n%s", logs, e.srvLog.String())
	}
	if !strings.Contains(logs, `"key":"shotgun/small.bin"`) {
		t.Errorf("the captured logs lack the requests' keys; the secret scan would see nothing:\n%.2000s", logs)
	}
	if len(e.secrets) < 30 {
		t.Errorf("only %d secret values collected for %d cases; the scan would prove little", len(e.secrets), len(cases))
	}
	for s := range e.secrets {
		if strings.Contains(logs, s) {
			i := strings.Index(logs, s)
			lo, hi := max(0, i-200), min(len(logs), i+len(s)+50)
			t.Errorf("the logs carry the secret %.12q…: %s", s, logs[lo:hi])
		}
	}
}

// hostileEventQuery is the raw query an event carries, for the secret scan.
func hostileEventQuery(ev []byte) string {
	i := bytes.Index(ev, []byte(`"multiValueQueryStringParameters":{`))
	if i < 0 {
		return ""
	}
	var b strings.Builder
	rest := ev[i:]
	for _, p := range []string{"X-Amz-Signature", "X-Amz-Security-Token"} {
		if j := bytes.Index(rest, []byte(`"`+p+`":["`)); j >= 0 {
			v := rest[j+len(p)+5:]
			if k := bytes.IndexByte(v, '"'); k >= 0 {
				fmt.Fprintf(&b, "%s=%s&", p, v[:k])
			}
		}
	}
	return b.String()
}

// hostileCheck asserts what every answer must satisfy, and the case's own
// status and code.
func hostileCheck(t *testing.T, tc hostileCase, r hostileResponse) {
	t.Helper()
	code := ""
	fixed := r.header.Get("Server") == "awselb/2.0" && r.header.Get("Content-Type") == "text/plain"
	if fixed != tc.fixed {
		t.Errorf("fixed response %v, want %v (Server %q, Content-Type %q)", fixed, tc.fixed, r.header.Get("Server"), r.header.Get("Content-Type"))
	}
	switch {
	case r.header.Get("Server") == "awselb/2.0" && strings.HasPrefix(r.header.Get("Content-Type"), "text/html"):
		code = hostileALB
	case r.status == http.StatusBadRequest && strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") && string(r.body) == "400 Bad Request":
		code = hostileListener
	case r.status >= 400:
		if ct := r.header.Get("Content-Type"); ct != "application/xml" && !fixed {
			t.Errorf("error answer has Content-Type %q, want application/xml", ct)
		}
		var x struct {
			XMLName xml.Name
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		if err := xml.Unmarshal(r.body, &x); err != nil || x.XMLName.Local != "Error" || x.Code == "" {
			t.Errorf("error body is not a well-formed S3 <Error> (%v): %.300q", err, r.body)
		}
		code = x.Code
	}
	if r.status != tc.status || code != tc.code {
		t.Errorf("got %d %q, want %d %q; body %.300q", r.status, code, tc.status, tc.code, r.body)
	}
	if r.status >= 400 {
		if loc := r.header.Get("Location"); loc != "" {
			t.Errorf("Location %q on a %d", vgwRedact(loc), r.status)
		}
		if bytes.Contains(r.body, []byte("private bytes")) {
			t.Error("a refused answer carries the private object's bytes")
		}
	}
	if r.status >= 300 && r.status < 400 && r.status != http.StatusTemporaryRedirect && r.status != http.StatusNotModified {
		t.Errorf("unexpected redirect status %d", r.status)
	}
}
