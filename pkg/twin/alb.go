package twin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mediaisolation/s3proxy/pkg/albhttp"
	"github.com/mediaisolation/s3proxy/pkg/config"
	"github.com/mediaisolation/s3proxy/pkg/routes"
)

// Limits of the ALB→Lambda boundary (docs/architecture.md).
const (
	RequestBodyLimit = 1_000_000
	ResponseLimit    = config.ALBResponseLimit
)

// The ALB's own request limits, which apply on every route: 16 KiB for the
// request line and for any one header, 64 KiB of headers in all. See
// "Troubleshoot your Application Load Balancers" (HTTP 400 and 414) in the
// Elastic Load Balancing user guide.
const (
	RequestLineLimit = 16 << 10
	HeaderLimit      = 16 << 10
	HeadersLimit     = 64 << 10
)

// Invoker runs the function once with an ALB event and returns its raw
// response payload.
type Invoker interface {
	Invoke(ctx context.Context, event []byte) ([]byte, error)
}

// Options configure the emulated load balancer.
type Options struct {
	Config *config.Config
	// Passthrough sends PUT, POST and DELETE of object paths under the key
	// prefixes straight to S3 with the signed host, as the template's
	// UploadPassthrough rules do; without it, signed writes invoke the
	// function.
	Passthrough bool
	// PassthroughURL is where those writes go; nil means the function's
	// S3PROXY_UPSTREAM_URL. In AWS they are different paths to S3 (the
	// interface endpoint's ENIs, and the gateway endpoint for the function).
	PassthroughURL *url.URL
	Invoker        Invoker
	// FunctionTimeout bounds each invocation, as the function's Timeout does.
	FunctionTimeout time.Duration
	Logger          *slog.Logger
	// Transport carries passthrough and /_direct traffic; nil uses a
	// dedicated transport that never compresses.
	Transport http.RoundTripper
	// MaxConcurrency, when positive, caps the function's concurrent
	// invocations, as reserved concurrency does; above it the ALB answers
	// as it does for a throttled function (see Capped).
	MaxConcurrency int
}

// ALB is the emulated load balancer; it is an http.Handler.
type ALB struct {
	opts        Options
	rules       []routes.Rule
	invocations atomic.Int64
}

// New returns the load balancer for opts.
func New(opts Options) *ALB {
	if opts.FunctionTimeout == 0 {
		opts.FunctionTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == nil {
		opts.Transport = &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 32, IdleConnTimeout: 60 * time.Second}
	}
	if opts.MaxConcurrency > 0 {
		opts.Invoker = Capped(opts.Invoker, opts.MaxConcurrency)
	}
	cfg := opts.Config
	return &ALB{opts: opts, rules: routes.Table(routes.Params{Bucket: cfg.Bucket, KeyPrefixes: cfg.KeyPrefixes, PathStyle: !cfg.VirtualHosted, ReadOnly: cfg.ReadOnly})}
}

// Invocations is how many times the load balancer has invoked the
// function: what a test counts to show a request never reached it.
func (a *ALB) Invocations() int64 { return a.invocations.Load() }

// ServeHTTP applies the ALB's request limits, then the first listener rule
// whose conditions hold, interpreting its action as the ALB does.
func (a *ALB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if status := requestLimits(r); status != 0 {
		albError(w, status)
		return
	}
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	action := routes.Match(a.rules, routes.Request{Method: r.Method, Path: rawPath, RawQuery: rawQuery, Header: r.Header}, a.opts.Passthrough).Action
	switch action.Type {
	case routes.ToFunction:
		a.invoke(w, r)
	case routes.ToEndpoint:
		a.forward(w, r, action)
	case routes.Fixed:
		fixedResponse(w, r, action.Response)
	default:
		albError(w, http.StatusInternalServerError)
	}
}

// forward sends r to the endpoint's targets with the action's rewrites. The
// IP target group reaches S3 two ways here: the endpoint URL (where minted
// redirects are signed for) and the passthrough URL.
func (a *ALB) forward(w http.ResponseWriter, r *http.Request, action routes.Action) {
	cfg := a.opts.Config
	var target *url.URL
	var host string
	switch action.HostRewrite {
	case routes.EndpointHost:
		if cfg.EndpointURL == nil {
			albError(w, http.StatusServiceUnavailable)
			return
		}
		target, host = cfg.EndpointURL, cfg.EndpointURL.Host
	case routes.SignedHost:
		target, host = cfg.UpstreamURL, cfg.SignedHost
		if a.opts.PassthroughURL != nil {
			target = a.opts.PassthroughURL
		}
	default:
		// Every endpoint rule names its host: the ENIs answer for S3 only.
		albError(w, http.StatusServiceUnavailable)
		return
	}
	a.reverseProxy(target, host, action.StripPrefix).ServeHTTP(w, r)
}

// fixedResponse answers as a fixed-response action: the configured status,
// content type and body, and the listener's response headers.
func fixedResponse(w http.ResponseWriter, r *http.Request, f *routes.FixedResponse) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(f.Body)))
	h.Set("Server", "awselb/2.0")
	setResponseHeaders(h)
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, f.Body)
	}
}

// setResponseHeaders applies the HTTPS listener's response-header
// attributes. The ALB adds each to every response, replacing the value a
// target sent (routes.ResponseHeader).
func setResponseHeaders(h http.Header) {
	for _, rh := range routes.ResponseHeaders {
		h.Set(rh.Name, rh.Value)
	}
}

// requestLimits returns the status the ALB would answer for a request over
// its size limits, or 0.
func requestLimits(r *http.Request) int {
	if len(r.Method)+len(r.RequestURI)+len(" HTTP/1.1") > RequestLineLimit {
		return http.StatusRequestURITooLong
	}
	total := len("Host: ") + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n := len(k) + len(": ") + len(v)
			if n > HeaderLimit {
				return http.StatusBadRequest
			}
			total += n
		}
	}
	if total > HeadersLimit {
		return http.StatusBadRequest
	}
	return 0
}

// reverseProxy forwards to target with Host rewritten, keeping the raw path
// (less strip) and query byte for byte, as the signature needs.
func (a *ALB) reverseProxy(target *url.URL, host, strip string) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: a.opts.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			rawPath, rawQuery, _ := strings.Cut(pr.In.RequestURI, "?")
			rawPath = strings.TrimPrefix(rawPath, strip)
			u := *target
			u.Path, u.RawPath, u.RawQuery = rawPath, rawPath, rawQuery
			if p, err := url.PathUnescape(rawPath); err == nil {
				u.Path = p
			}
			if u.EscapedPath() != rawPath {
				u.Opaque = rawPath
			}
			pr.Out.URL = &u
			pr.Out.Host = host
			// The ALB adds X-Forwarded-For, -Proto and -Port, and not
			// X-Forwarded-Host: a server that trusts that header when
			// checking signatures (SeaweedFS does) would otherwise check
			// against the proxy's host instead of the one rewritten in.
			if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
				pr.Out.Header["X-Forwarded-For"] = append(pr.In.Header.Values("X-Forwarded-For"), ip)
			}
			pr.Out.Header.Set("X-Forwarded-Proto", "http")
			pr.Out.Header.Set("X-Forwarded-Port", localPort(pr.In, ""))
		},
		ModifyResponse: func(resp *http.Response) error {
			setResponseHeaders(resp.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.opts.Logger.Warn("target unreachable", "error", err.Error())
			albError(w, http.StatusBadGateway)
		},
	}
}

// invoke crosses the ALB→Lambda boundary.
func (a *ALB) invoke(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, RequestBodyLimit+1))
	if err != nil {
		albError(w, http.StatusBadRequest)
		return
	}
	if len(body) > RequestBodyLimit {
		albError(w, http.StatusRequestEntityTooLarge)
		return
	}
	event, err := json.Marshal(Event(r, body))
	if err != nil {
		albError(w, http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.FunctionTimeout)
	defer cancel()
	a.invocations.Add(1)
	payload, err := a.opts.Invoker.Invoke(ctx, event)
	if errors.Is(err, ErrThrottled) {
		albError(w, ThrottledStatus)
		return
	}
	if err != nil {
		a.opts.Logger.Warn("invocation failed", "error", err.Error())
		albError(w, http.StatusBadGateway)
		return
	}
	resp, err := DecodeResponse(payload)
	if err != nil {
		a.opts.Logger.Warn("invalid function response", "error", err.Error())
		albError(w, http.StatusBadGateway)
		return
	}
	for k, vs := range resp.MultiValueHeaders {
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") || strings.EqualFold(k, "Connection") {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	setResponseHeaders(w.Header())
	// The ALB computes Content-Length itself, except that a HEAD answer
	// keeps the length the function reported (verify on a real deployment).
	if r.Method == http.MethodHead {
		if cl := headerValue(resp.MultiValueHeaders, "Content-Length"); cl != "" {
			w.Header().Set("Content-Length", cl)
		}
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

// Event builds the multi-value ALB event for r, with the path and query
// values still percent-encoded as the ALB delivers them.
func Event(r *http.Request, body []byte) events.ALBTargetGroupRequest {
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	ev := events.ALBTargetGroupRequest{
		HTTPMethod:                      r.Method,
		Path:                            rawPath,
		MultiValueQueryStringParameters: map[string][]string{},
		MultiValueHeaders:               map[string][]string{},
		RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{
			TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s3proxy-local/0123456789abcdef",
		}},
	}
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ev.MultiValueQueryStringParameters[k] = append(ev.MultiValueQueryStringParameters[k], v)
	}
	for k, vs := range r.Header {
		ev.MultiValueHeaders[strings.ToLower(k)] = append([]string(nil), vs...)
	}
	ev.MultiValueHeaders["host"] = []string{r.Host}
	clientIP, port, _ := net.SplitHostPort(r.RemoteAddr)
	ev.MultiValueHeaders["x-forwarded-for"] = append(ev.MultiValueHeaders["x-forwarded-for"], clientIP)
	ev.MultiValueHeaders["x-forwarded-proto"] = []string{"http"}
	ev.MultiValueHeaders["x-forwarded-port"] = []string{localPort(r, port)}
	ev.MultiValueHeaders["x-amzn-trace-id"] = []string{fmt.Sprintf("Root=1-%08x-%024x", time.Now().Unix(), time.Now().UnixNano())}
	if len(body) > 0 {
		if albhttp.Textual(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

func localPort(r *http.Request, fallback string) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(addr.String()); err == nil {
			return p
		}
	}
	return fallback
}

// Response is a function response the ALB accepted.
type Response struct {
	StatusCode        int
	MultiValueHeaders map[string][]string
	body              []byte
}

// Body is the decoded response body.
func (r *Response) Body() []byte { return r.body }

// DecodeResponse applies the ALB's checks to a function's response: at most
// 1 MB of JSON, a status code, a non-null multiValueHeaders map of strings,
// no single-value headers in multi-value mode, a body that is a string (never
// null) and valid base64 when flagged so. Anything else is the ALB's 502.
func DecodeResponse(payload []byte) (*Response, error) {
	if len(payload) > ResponseLimit {
		return nil, fmt.Errorf("response is %d bytes of JSON, over the %d limit", len(payload), ResponseLimit)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("response is not a JSON object: %w", err)
	}
	if _, ok := raw["errorMessage"]; ok {
		return nil, errors.New("function returned an error")
	}
	if _, ok := raw["headers"]; ok {
		return nil, errors.New(`"headers" is set, but the target group is in multi-value mode`)
	}
	var out struct {
		StatusCode        *int                 `json:"statusCode"`
		MultiValueHeaders *map[string][]string `json:"multiValueHeaders"`
		Body              *string              `json:"body"`
		IsBase64Encoded   bool                 `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(payload, &out); err != nil {
		return nil, fmt.Errorf("response fields have the wrong types: %w", err)
	}
	if out.StatusCode == nil || *out.StatusCode < 100 || *out.StatusCode > 599 {
		return nil, errors.New("statusCode is missing or invalid")
	}
	if out.MultiValueHeaders == nil || *out.MultiValueHeaders == nil {
		return nil, errors.New("multiValueHeaders is missing or null")
	}
	if b, ok := raw["body"]; ok && (out.Body == nil || bytes.Equal(b, []byte("null"))) {
		return nil, errors.New("body is null")
	}
	resp := &Response{StatusCode: *out.StatusCode, MultiValueHeaders: *out.MultiValueHeaders}
	if out.Body != nil {
		resp.body = []byte(*out.Body)
		if out.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*out.Body)
			if err != nil {
				return nil, errors.New("body is flagged base64 but is not")
			}
			resp.body = b
		}
	}
	return resp, nil
}

func headerValue(h map[string][]string, name string) string {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// albError answers as the load balancer itself does: a small HTML page.
func albError(w http.ResponseWriter, status int) {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	body := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text + "</h1></center>\r\n</body>\r\n</html>\r\n"
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Server", "awselb/2.0")
	setResponseHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
