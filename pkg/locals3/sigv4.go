package locals3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 verification, written from the AWS documentation:
//
//   - presigned (query) auth: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
//   - header auth: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
//   - canonical request: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
//
// S3 differs from the generic algorithm in two ways that matter here: the
// canonical URI is the path encoded once and never normalised (".", ".."
// and "//" are part of object keys), and presigned URLs sign the payload as
// UNSIGNED-PAYLOAD.

const (
	sigAlgorithm       = "AWS4-HMAC-SHA256"
	amzDateLayout      = "20060102T150405Z"
	maxPresignExpires  = 7 * 24 * 60 * 60 // seconds; S3's limit for X-Amz-Expires
	maxClockSkew       = 15 * time.Minute
	scopeTerminal      = "aws4_request"
	scopeService       = "s3"
	unsignedPayload    = "UNSIGNED-PAYLOAD"
	streamingTrailer   = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	credentialExpected = `expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`
	presignRequiredMsg = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)

// queryParam is one decoded key=value pair of the raw query, kept in order
// and with duplicates, because both matter for canonicalisation and for
// rejecting ambiguous presigned URLs.
type queryParam struct{ key, value string }

// parseQuery decodes a raw query itself instead of using url.ParseQuery,
// which silently drops malformed pairs and merges duplicates: a verifier
// must see exactly what the client sent.
func parseQuery(raw string) ([]queryParam, *s3Error) {
	var out []queryParam
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
				return nil, newError(http.StatusBadRequest, "AuthorizationQueryParametersError",
					"Query-string authentication parameters are not validly percent-encoded.")
			}
			return nil, newError(http.StatusBadRequest, "InvalidArgument", "The query string is not validly percent-encoded.")
		}
		out = append(out, queryParam{dk, dv})
	}
	return out, nil
}

// authInfo is what the data path needs to know about a request that passed
// authentication.
type authInfo struct {
	// payloadHash is the declared x-amz-content-sha256 (or UNSIGNED-PAYLOAD
	// for presigned URLs); the body must still be checked against it.
	payloadHash string
}

// credential is a parsed "AKID/YYYYMMDD/region/service/aws4_request".
type credential struct {
	accessKey, date, region, service, terminal string
}

func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + c.terminal
}

func parseCredential(v string) (credential, bool) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 {
		return credential{}, false
	}
	for _, p := range parts {
		if p == "" {
			return credential{}, false
		}
	}
	return credential{parts[0], parts[1], parts[2], parts[3], parts[4]}, true
}

// checkScope returns the complaint about a credential scope that cannot be
// ours, or "" when it names our region and service for the request's date.
func (s *Server) checkScope(c credential, amzDate string) string {
	switch {
	case c.date != amzDate[:8]:
		return "Invalid credential date. Date is not the same as X-Amz-Date."
	case c.region != s.region:
		return "the region '" + c.region + "' is wrong; expecting '" + s.region + "'"
	case c.service != scopeService:
		return "incorrect service '" + c.service + "'. This endpoint belongs to '" + scopeService + "'."
	case c.terminal != scopeTerminal:
		return "incorrect terminal '" + c.terminal + "'. This endpoint uses '" + scopeTerminal + "'."
	}
	return ""
}

func parseAmzDate(v string) (time.Time, bool) {
	if len(v) != len(amzDateLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(amzDateLayout, v)
	return t, err == nil
}

// parseSignedHeaders splits the SignedHeaders list; the verbatim string is
// what goes into the canonical request, so a client that sends an unsorted
// or upper-case list simply fails the signature check, as on S3.
func parseSignedHeaders(v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	names := strings.Split(v, ";")
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t\r\n:") {
			return nil, false
		}
	}
	return names, true
}

// authenticate decides which SigV4 flavour the request uses and verifies it.
func (s *Server) authenticate(r *http.Request) (*authInfo, *s3Error) {
	params, qerr := parseQuery(r.URL.RawQuery)
	if qerr != nil {
		return nil, qerr
	}
	has := func(key string) bool {
		for _, p := range params {
			if p.key == key {
				return true
			}
		}
		return false
	}
	authz := r.Header.Values("Authorization")
	presigned := has("X-Amz-Algorithm") || has("X-Amz-Credential") || has("X-Amz-Signature")

	switch {
	case presigned && len(authz) > 0:
		return nil, newError(http.StatusBadRequest, "InvalidArgument",
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case presigned:
		return s.verifyPresigned(r, params)
	case has("AWSAccessKeyId") || has("Signature"):
		return nil, unsupportedAuth()
	case len(authz) == 0:
		return nil, newError(http.StatusForbidden, "AccessDenied", "Access Denied")
	case len(authz) > 1:
		return nil, headerMalformed("only one Authorization header is allowed")
	}
	a := authz[0]
	switch {
	case strings.HasPrefix(a, sigAlgorithm+" "):
		return s.verifyHeader(r, params, strings.TrimPrefix(a, sigAlgorithm+" "))
	case strings.HasPrefix(a, "AWS ") || strings.HasPrefix(a, "AWS4-ECDSA-P256-SHA256"):
		return nil, unsupportedAuth()
	default:
		return nil, newError(http.StatusBadRequest, "InvalidArgument", "Unsupported Authorization Type")
	}
}

func unsupportedAuth() *s3Error {
	return newError(http.StatusBadRequest, "InvalidRequest",
		"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
}

func headerMalformed(detail string) *s3Error {
	return newError(http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; "+detail)
}

func (s *Server) verifyPresigned(r *http.Request, params []queryParam) (*authInfo, *s3Error) {
	qerr := func(msg string) (*authInfo, *s3Error) {
		return nil, newError(http.StatusBadRequest, "AuthorizationQueryParametersError", msg)
	}
	get := make(map[string]string, len(params))
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		lk := strings.ToLower(p.key)
		if strings.HasPrefix(lk, "x-amz-") {
			// Two values for one auth parameter make the URL mean
			// different things to different parsers; S3 refuses them.
			if seen[lk] {
				return qerr("Query-string authentication parameters must not be repeated; found more than one " + p.key + ".")
			}
			seen[lk] = true
		}
		get[p.key] = p.value
	}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if _, ok := get[k]; !ok {
			return qerr(presignRequiredMsg)
		}
	}
	if get["X-Amz-Algorithm"] != sigAlgorithm {
		return qerr(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`)
	}
	amzDate := get["X-Amz-Date"]
	t, ok := parseAmzDate(amzDate)
	if !ok {
		return qerr(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	expStr := get["X-Amz-Expires"]
	if expStr == "" || len(expStr) > 10 || strings.Trim(expStr, "0123456789") != "" {
		if strings.HasPrefix(expStr, "-") {
			return qerr("X-Amz-Expires must be non-negative")
		}
		return qerr("X-Amz-Expires should be a number")
	}
	expires, err := strconv.Atoi(expStr)
	if err != nil {
		return qerr("X-Amz-Expires should be a number")
	}
	if expires > maxPresignExpires {
		return qerr("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	cred, ok := parseCredential(get["X-Amz-Credential"])
	if !ok {
		return qerr("Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; " + credentialExpected)
	}
	if msg := s.checkScope(cred, amzDate); msg != "" {
		return qerr("Error parsing the X-Amz-Credential parameter; " + msg)
	}
	signedHeaders := get["X-Amz-SignedHeaders"]
	names, ok := parseSignedHeaders(signedHeaders)
	if !ok {
		return qerr("X-Amz-SignedHeaders must be a non-empty, semicolon-separated list of header names.")
	}
	payloadHash := unsignedPayload
	if v, ok := get["X-Amz-Content-Sha256"]; ok {
		if !isUnsignedOrHex(v) {
			return qerr("X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.")
		}
		payloadHash = v
	}
	if cred.accessKey != s.accessKeyID {
		return nil, invalidAccessKey(cred.accessKey)
	}
	if !containsFold(names, "host") {
		return qerr("Query-string authentication requires the host header to be signed (X-Amz-SignedHeaders must include host).")
	}
	now := s.now()
	if t.After(now.Add(maxClockSkew)) {
		return nil, newError(http.StatusForbidden, "AccessDenied", "Request is not valid yet")
	}
	if deadline := t.Add(time.Duration(expires) * time.Second); now.After(deadline) {
		e := newError(http.StatusForbidden, "AccessDenied", "Request has expired")
		e.expires = deadline.UTC().Format(time.RFC3339)
		e.serverTime = now.UTC().Format(time.RFC3339)
		return nil, e
	}
	if e := unsignedAmzHeaders(r, names); e != nil {
		return nil, e
	}
	if e := s.checkSignature(r, params, true, cred, amzDate, signedHeaders, names, payloadHash, get["X-Amz-Signature"]); e != nil {
		return nil, e
	}
	return &authInfo{payloadHash: payloadHash}, nil
}

func (s *Server) verifyHeader(r *http.Request, params []queryParam, rest string) (*authInfo, *s3Error) {
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, headerMalformed("each component must be of the form key=value.")
		}
		switch k {
		case "Credential", "SignedHeaders", "Signature":
		default:
			return nil, headerMalformed("unexpected component.")
		}
		if _, dup := fields[k]; dup {
			return nil, headerMalformed("each component must appear once.")
		}
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if _, ok := fields[k]; !ok {
			return nil, headerMalformed("missing " + k + ".")
		}
	}

	var t time.Time
	var amzDate string
	switch vals := r.Header.Values("X-Amz-Date"); {
	case len(vals) > 1:
		return nil, newError(http.StatusBadRequest, "InvalidArgument", "Only one x-amz-date header is allowed.")
	case len(vals) == 1:
		var ok bool
		if t, ok = parseAmzDate(vals[0]); !ok {
			return nil, missingDate()
		}
		amzDate = vals[0]
	default:
		d, err := http.ParseTime(r.Header.Get("Date"))
		if err != nil {
			return nil, missingDate()
		}
		t = d.UTC()
		amzDate = t.Format(amzDateLayout)
	}

	cred, ok := parseCredential(fields["Credential"])
	if !ok {
		return nil, headerMalformed("the Credential is mal-formed; " + credentialExpected)
	}
	if msg := s.checkScope(cred, amzDate); msg != "" {
		return nil, headerMalformed(msg)
	}
	signedHeaders := fields["SignedHeaders"]
	names, ok := parseSignedHeaders(signedHeaders)
	if !ok {
		return nil, headerMalformed("SignedHeaders must be a non-empty, semicolon-separated list of header names.")
	}
	if cred.accessKey != s.accessKeyID {
		return nil, invalidAccessKey(cred.accessKey)
	}
	if skew := s.now().Sub(t); skew > maxClockSkew || skew < -maxClockSkew {
		return nil, newError(http.StatusForbidden, "RequestTimeTooSkewed",
			"The difference between the request time and the current time is too large.")
	}
	if !containsFold(names, "host") {
		return nil, headerMalformed("SignedHeaders must include host.")
	}

	hashes := r.Header.Values("X-Amz-Content-Sha256")
	switch {
	case len(hashes) == 0:
		return nil, newError(http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	case len(hashes) > 1:
		return nil, newError(http.StatusBadRequest, "InvalidArgument", "Only one x-amz-content-sha256 header is allowed.")
	}
	payloadHash := hashes[0]
	switch {
	case isUnsignedOrHex(payloadHash) || payloadHash == streamingTrailer:
	case strings.HasPrefix(payloadHash, "STREAMING-AWS4-"):
		return nil, newError(http.StatusNotImplemented, "NotImplemented",
			"Signed aws-chunked uploads ("+payloadHash+") are not supported by this local S3; use UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a hex SHA-256.")
	default:
		return nil, newError(http.StatusBadRequest, "InvalidArgument",
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.")
	}
	if e := unsignedAmzHeaders(r, names); e != nil {
		return nil, e
	}
	if e := s.checkSignature(r, params, false, cred, amzDate, signedHeaders, names, payloadHash, fields["Signature"]); e != nil {
		return nil, e
	}
	return &authInfo{payloadHash: payloadHash}, nil
}

func missingDate() *s3Error {
	return newError(http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
}

func invalidAccessKey(ak string) *s3Error {
	e := newError(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	e.awsAccessKeyID = ak
	return e
}

// unsignedAmzHeaders rejects x-amz-* headers that are not covered by the
// signature: otherwise anyone holding a presigned PUT URL could add, say,
// x-amz-copy-source or metadata the signer never approved.
func unsignedAmzHeaders(r *http.Request, signed []string) *s3Error {
	set := make(map[string]bool, len(signed))
	for _, n := range signed {
		set[strings.ToLower(n)] = true
	}
	var extra []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") && !set[lk] {
			extra = append(extra, lk)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	e := newError(http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed")
	e.headersNotSigned = strings.Join(extra, ", ")
	return e
}

func (s *Server) checkSignature(r *http.Request, params []queryParam, presigned bool, cred credential,
	amzDate, signedHeaders string, names []string, payloadHash, provided string) *s3Error {
	creq := canonicalRequest(r, params, presigned, signedHeaders, names, payloadHash)
	sum := sha256.Sum256([]byte(creq))
	sts := sigAlgorithm + "\n" + amzDate + "\n" + cred.scope() + "\n" + hex.EncodeToString(sum[:])
	key := signingKey(s.secret, cred.date, cred.region, cred.service)
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if hmac.Equal([]byte(want), []byte(provided)) {
		return nil
	}
	e := newError(http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	e.awsAccessKeyID = cred.accessKey
	e.stringToSign = sts
	e.canonicalRequest = creq
	return e
}

// canonicalRequest builds the SigV4 canonical request from the request as
// received: method, path (never normalised), query (minus the signature
// for presigned URLs), the signed headers and the declared payload hash.
func canonicalRequest(r *http.Request, params []queryParam, presigned bool, signedHeaders string, names []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	b.WriteString(uriEncode(path, true))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(params, presigned))
	b.WriteByte('\n')
	for _, n := range names {
		b.WriteString(strings.ToLower(n))
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, strings.ToLower(n)))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalQuery(params []queryParam, presigned bool) string {
	enc := make([]queryParam, 0, len(params))
	for _, p := range params {
		if presigned && p.key == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, queryParam{uriEncode(p.key, false), uriEncode(p.value, false)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].key != enc[j].key {
			return enc[i].key < enc[j].key
		}
		return enc[i].value < enc[j].value
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// canonicalHeaderValue returns the value a signer saw for a header. Host
// and the framing headers are not kept in r.Header by net/http, so they
// come from the request fields, Host exactly as the client sent it
// (including any port).
func canonicalHeaderValue(r *http.Request, name string) string {
	if name == "host" {
		return r.Host
	}
	vals := r.Header.Values(name)
	if len(vals) == 0 {
		switch name {
		case "content-length":
			if r.ContentLength > 0 {
				return strconv.FormatInt(r.ContentLength, 10)
			}
		case "transfer-encoding":
			return strings.Join(r.TransferEncoding, ",")
		}
		return ""
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = collapseSpaces(v)
	}
	return strings.Join(out, ",")
}

// collapseSpaces trims and squeezes runs of spaces, as the SigV4 "Trimall"
// step (and the AWS SDKs) do.
func collapseSpaces(v string) string {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	prevSpace := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// uriEncode applies the SigV4 UriEncode rules byte by byte: unreserved
// characters stay, '/' stays in paths, everything else becomes %XX.
func uriEncode(s string, keepSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', keepSlash && c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminal)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func isUnsignedOrHex(v string) bool {
	return v == unsignedPayload || isSHA256Hex(v)
}

func isSHA256Hex(v string) bool {
	if len(v) != 64 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
