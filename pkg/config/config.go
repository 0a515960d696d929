// Package config reads the S3PROXY_* contract shared by the Lambda function
// and the local twin. It is parsed once, at cold start, and every problem is
// reported together so a bad deploy fails with one actionable message instead
// of a stream of per-request errors.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/routes"
)

// Defaults of the S3PROXY_* contract (README, "Configuration";
// docs/architecture.md, "Contracts kept in one place").
const (
	DefaultInlineMax = 700 << 10
	// DefaultRedirectTTL is long enough for a review session on one media
	// element: Chromium keeps the URL a 307 led to and never asks the proxy
	// again, so once a mint expires, the next seek or rebuffer stalls on
	// S3's 403 and ends in MEDIA_ERR_NETWORK (test/browser's
	// TestVideoAcrossExpiry). It is also the most a mint can outlive the
	// client's own session or a deactivated client key, which the proxy
	// cannot see; it never outlives the client URL's X-Amz-Expires. The
	// README's "What a redirect may grant" says why one hour.
	DefaultRedirectTTL = time.Hour
	// MaxPresignTTL is SigV4 query auth's ceiling on X-Amz-Expires.
	MaxPresignTTL = 7 * 24 * time.Hour
)

// ALB→Lambda responses are capped at 1 MB of JSON, base64 included. The
// inline ceiling leaves 32 KiB for the status, headers and JSON framing.
const (
	ALBResponseLimit = 1_000_000
	responseHeadroom = 32 << 10
	// MaxInline is the largest S3PROXY_INLINE_MAX_BYTES accepted.
	MaxInline = (ALBResponseLimit - responseHeadroom) / 4 * 3
)

// RedirectVia says where minted redirect URLs point.
type RedirectVia string

const (
	// ViaEndpoint sends clients straight to the interface endpoint host.
	ViaEndpoint RedirectVia = "endpoint"
	// ViaProxy sends them to /_direct/… on the proxy host, which the ALB
	// rewrites to the endpoint: the only way for clients that cannot reach
	// the endpoint's private addresses.
	ViaProxy RedirectVia = "proxy"
)

// Config is the validated configuration.
type Config struct {
	Bucket     string
	Region     string
	SignedHost string
	// VirtualHosted is true when SignedHost names the bucket itself
	// (<bucket>.s3…), so request paths are keys; otherwise paths are
	// /<bucket>/<key>.
	VirtualHosted bool
	UpstreamURL   *url.URL
	EndpointURL   *url.URL // nil: redirects are not configured
	// PublicURL is the proxy's own base URL, as clients reach it (ShotGrid's
	// "S3 Proxy Host Address"); proxy-mode redirects point at it.
	PublicURL      *url.URL
	RedirectVia    RedirectVia
	InlineMax      int64
	RedirectTTL    time.Duration
	KeyPrefixes    []string // empty: every key
	AllowedOrigins []string // empty: preflights go to the bucket's CORS rules
	LogLevel       slog.Level
	// ReadOnly refuses every write that reaches the function: the replica
	// proxy of ShotGrid's Media Replication, whose load balancer forwards
	// no write either (routes.Params.ReadOnly).
	ReadOnly bool
}

// FromEnv parses the contract from getenv (os.Getenv in production, a map in
// tests).
func FromEnv(getenv func(string) string) (*Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }

	c := &Config{}
	c.Bucket = get("S3PROXY_BUCKET")
	switch {
	case c.Bucket == "":
		bad("S3PROXY_BUCKET", "is required")
	case !bucketName.MatchString(c.Bucket) || strings.Contains(c.Bucket, ".."):
		bad("S3PROXY_BUCKET", "%q is not a valid S3 bucket name: 3 to 63 characters of lower-case letters, digits, '.' and '-', beginning and ending with a letter or digit, with no \"..\"", c.Bucket)
	}

	c.Region = get("S3PROXY_REGION")
	if c.Region == "" {
		c.Region = get("AWS_REGION")
	}
	if c.Region == "" {
		bad("S3PROXY_REGION", "is required when AWS_REGION is not set")
	} else if !regionName.MatchString(c.Region) {
		bad("S3PROXY_REGION", "%q is not a region name", c.Region)
	}

	c.SignedHost = strings.ToLower(get("S3PROXY_SIGNED_HOST"))
	if c.SignedHost == "" && c.Bucket != "" {
		c.SignedHost = c.Bucket + ".s3.amazonaws.com"
	}
	if c.SignedHost != "" {
		if u, err := url.Parse("https://" + c.SignedHost); err != nil || u.Host != c.SignedHost || u.Path != "" {
			bad("S3PROXY_SIGNED_HOST", "%q must be a bare host name, such as %s.s3.amazonaws.com", c.SignedHost, c.Bucket)
		}
		c.VirtualHosted = strings.HasPrefix(c.SignedHost, c.Bucket+".")
	}

	if v := get("S3PROXY_UPSTREAM_URL"); v != "" {
		c.UpstreamURL = baseURL("S3PROXY_UPSTREAM_URL", v, bad)
	} else if c.SignedHost != "" {
		c.UpstreamURL = &url.URL{Scheme: "https", Host: c.SignedHost}
	}
	if v := get("S3PROXY_ENDPOINT_URL"); v != "" {
		c.EndpointURL = baseURL("S3PROXY_ENDPOINT_URL", v, bad)
	}

	c.RedirectVia = RedirectVia(get("S3PROXY_REDIRECT_VIA"))
	switch c.RedirectVia {
	case "":
		c.RedirectVia = ViaEndpoint
	case ViaEndpoint, ViaProxy:
	default:
		bad("S3PROXY_REDIRECT_VIA", "%q must be %q or %q", c.RedirectVia, ViaEndpoint, ViaProxy)
	}
	if v := get("S3PROXY_PUBLIC_URL"); v != "" {
		c.PublicURL = baseURL("S3PROXY_PUBLIC_URL", v, bad)
	} else if c.RedirectVia == ViaProxy {
		// The Location of a proxy-mode redirect names the proxy itself; taking
		// that name from the request's Host header would let a client choose it.
		bad("S3PROXY_PUBLIC_URL", "is required when S3PROXY_REDIRECT_VIA=proxy: the proxy's base URL as clients reach it, such as https://s3-proxy.studio.example")
	}

	c.InlineMax = DefaultInlineMax
	if v := get("S3PROXY_INLINE_MAX_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			bad("S3PROXY_INLINE_MAX_BYTES", "%q is not a whole number of bytes", v)
		case n < 1:
			bad("S3PROXY_INLINE_MAX_BYTES", "must be at least 1")
		case n > MaxInline:
			bad("S3PROXY_INLINE_MAX_BYTES", "%d does not fit the ALB's 1 MB response limit after base64; the most is %d", n, MaxInline)
		default:
			c.InlineMax = n
		}
	}

	c.RedirectTTL = DefaultRedirectTTL
	if v := get("S3PROXY_REDIRECT_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("S3PROXY_REDIRECT_TTL", "%q is not a duration such as 1h or 15m", v)
		case d < time.Second:
			bad("S3PROXY_REDIRECT_TTL", "must be at least 1s")
		case d > MaxPresignTTL:
			bad("S3PROXY_REDIRECT_TTL", "must be at most 168h, SigV4's limit")
		default:
			c.RedirectTTL = d
		}
	}

	for _, p := range list(get("S3PROXY_KEY_PREFIXES")) {
		if strings.HasPrefix(p, "/") {
			bad("S3PROXY_KEY_PREFIXES", "%q: keys never start with '/'; write it without the slash", p)
			continue
		}
		if c.RedirectVia == ViaProxy && !routes.Expressible(p) {
			// /_direct is bounded by ALB path patterns, which see the raw
			// path: a prefix that needs percent-encoding, or holds a
			// wildcard, would not bound it.
			bad("S3PROXY_KEY_PREFIXES", "%q: with S3PROXY_REDIRECT_VIA=proxy a prefix may hold only letters, digits and - . _ ~ /, which the load balancer's path patterns can match exactly", p)
			continue
		}
		c.KeyPrefixes = append(c.KeyPrefixes, p)
	}
	if c.RedirectVia == ViaProxy && len(c.KeyPrefixes) > routes.MaxKeyPrefixes {
		bad("S3PROXY_KEY_PREFIXES", "with S3PROXY_REDIRECT_VIA=proxy at most %d prefixes fit the load balancer's /_direct rules", routes.MaxKeyPrefixes)
	}

	for _, o := range list(get("S3PROXY_ALLOWED_ORIGINS")) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			bad("S3PROXY_ALLOWED_ORIGINS", "%q must be an exact origin such as https://studio.shotgrid.autodesk.com", o)
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, strings.ToLower(o))
	}

	switch v := strings.ToLower(get("S3PROXY_LOG_LEVEL")); v {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("S3PROXY_LOG_LEVEL", "%q must be debug, info, warn or error", v)
	}

	switch v := strings.ToLower(get("S3PROXY_READ_ONLY")); v {
	case "", "false":
	case "true":
		c.ReadOnly = true
	default:
		bad("S3PROXY_READ_ONLY", "%q must be true or false", v)
	}

	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

func baseURL(name, v string, bad func(string, string, ...any)) *url.URL {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		bad(name, "%q must be a base URL such as https://host[:port], with no path or query", v)
		return nil
	}
	u.Path = ""
	return u
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// AllowsKey reports whether key lies under an allowed prefix.
func (c *Config) AllowsKey(key string) bool {
	if len(c.KeyPrefixes) == 0 {
		return true
	}
	for _, p := range c.KeyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// AllowsOrigin reports whether origin is configured for CORS, by exact match
// as browsers send it.
func (c *Config) AllowsOrigin(origin string) bool {
	for _, o := range c.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
