package locals3

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxPayload is S3's limit for a single PUT; bodies that must be verified
// are buffered, so this also bounds the memory one request can take.
const maxPayload = 5 << 30

// crc64NVMEPoly is the reversed CRC-64/NVME polynomial, the form
// crc64.MakeTable expects.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

var crc64NVMETable = crc64.MakeTable(crc64NVMEPoly)

// checksumAlgorithms maps the suffix of an x-amz-checksum-* header to its
// hash. Headers with other suffixes that are not checksums are listed in
// checksumNonValues.
var checksumAlgorithms = map[string]func() hash.Hash{
	"crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"crc64nvme": func() hash.Hash { return crc64.New(crc64NVMETable) },
	"sha1":      sha1.New,
	"sha256":    sha256.New,
	"sha512":    sha512.New,
}

var checksumNonValues = map[string]bool{"mode": true, "type": true, "algorithm": true}

// preparePayload makes the body gofakes3 sees the body the client signed:
// it checks a declared SHA-256, decodes aws-chunked uploads, verifies any
// x-amz-checksum-* value, and fixes Content-Length to the decoded size.
// r must be the clone that is forwarded, since its body and headers change.
func preparePayload(r *http.Request, payloadHash string) *s3Error {
	checks, e := headerChecksums(r.Header)
	if e != nil {
		return e
	}
	var data []byte
	switch {
	case payloadHash == streamingTrailer:
		if r.ContentLength > maxPayload*2 {
			return tooLarge()
		}
		var trailers map[string]string
		data, trailers, e = decodeAWSChunked(r.Body, maxPayload)
		if e != nil {
			return e
		}
		if e := checkTrailers(r.Header, trailers, checks); e != nil {
			return e
		}
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n != int64(len(data)) {
				return newError(http.StatusBadRequest, "IncompleteBody",
					"The decoded body length does not match x-amz-decoded-content-length.")
			}
		}
	case isSHA256Hex(payloadHash):
		if data, e = readBody(r); e != nil {
			return e
		}
		sum := sha256.Sum256(data)
		if !strings.EqualFold(hex.EncodeToString(sum[:]), payloadHash) {
			return newError(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	default: // UNSIGNED-PAYLOAD
		if len(checks) == 0 {
			return nil // nothing to verify: stream straight through
		}
		if data, e = readBody(r); e != nil {
			return e
		}
	}
	for alg, want := range checks {
		h := checksumAlgorithms[alg]()
		h.Write(data)
		if base64.StdEncoding.EncodeToString(h.Sum(nil)) != want {
			return newError(http.StatusBadRequest, "BadDigest",
				"The "+strings.ToUpper(alg)+" you specified did not match the calculated checksum.")
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.TransferEncoding = nil
	r.Header.Set("Content-Length", strconv.Itoa(len(data)))
	return nil
}

func tooLarge() *s3Error {
	return newError(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
}

func readBody(r *http.Request) ([]byte, *s3Error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > maxPayload {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		return nil, incompleteBody()
	}
	if len(data) > maxPayload {
		return nil, tooLarge()
	}
	return data, nil
}

func incompleteBody() *s3Error {
	return newError(http.StatusBadRequest, "IncompleteBody", "The request body terminated unexpectedly")
}

// headerChecksums collects x-amz-checksum-<alg> request headers. S3 allows
// one per request and rejects algorithms it does not know.
func headerChecksums(h http.Header) (map[string]string, *s3Error) {
	checks := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		alg, ok := strings.CutPrefix(lk, "x-amz-checksum-")
		if !ok || checksumNonValues[alg] {
			continue
		}
		if _, known := checksumAlgorithms[alg]; !known {
			return nil, newError(http.StatusBadRequest, "InvalidRequest", "Value for x-amz-checksum-"+alg+" is not supported.")
		}
		if len(v) != 1 || len(checks) > 0 {
			return nil, multipleChecksums()
		}
		checks[alg] = strings.TrimSpace(v[0])
	}
	return checks, nil
}

func multipleChecksums() *s3Error {
	return newError(http.StatusBadRequest, "InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
}

// checkTrailers matches the trailers of an aws-chunked body against the
// x-amz-trailer declaration and adds their checksums to checks.
func checkTrailers(h http.Header, trailers, checks map[string]string) *s3Error {
	malformed := newError(http.StatusBadRequest, "MalformedTrailerError",
		"The request contained trailing data that was not well-formed or did not conform to our published schema.")
	declared := map[string]bool{}
	for _, v := range h.Values("X-Amz-Trailer") {
		for _, n := range strings.Split(v, ",") {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
				declared[n] = true
			}
		}
	}
	for n := range declared {
		if _, ok := trailers[n]; !ok {
			return malformed
		}
	}
	for n, v := range trailers {
		if !declared[n] {
			return malformed
		}
		alg, ok := strings.CutPrefix(n, "x-amz-checksum-")
		if !ok {
			continue
		}
		if _, known := checksumAlgorithms[alg]; !known {
			return newError(http.StatusBadRequest, "InvalidRequest", "Value for x-amz-checksum-"+alg+" is not supported.")
		}
		if len(checks) > 0 {
			return multipleChecksums()
		}
		checks[alg] = v
	}
	return nil
}

// decodeAWSChunked decodes an unsigned aws-chunked body:
//
//	<hex size>[;ext]\r\n<data>\r\n ... 0\r\n<name>:<value>\r\n ... \r\n
//
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html).
// Lines are bounded by the bufio buffer and data by limit, so a hostile
// body cannot make it allocate more than limit.
func decodeAWSChunked(body io.Reader, limit int64) ([]byte, map[string]string, *s3Error) {
	malformed := newError(http.StatusBadRequest, "InvalidRequest", "The aws-chunked request body is malformed.")
	if body == nil {
		return nil, nil, incompleteBody()
	}
	br := bufio.NewReaderSize(body, 64<<10)
	readLine := func() (string, error) {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF && len(line) == 0 {
				return "", io.EOF
			}
			return "", errors.New("bad line")
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return "", errors.New("bad line")
		}
		return string(line[:len(line)-2]), nil
	}
	var buf bytes.Buffer
	for {
		line, err := readLine()
		if err == io.EOF {
			return nil, nil, incompleteBody()
		}
		if err != nil {
			return nil, nil, malformed
		}
		sizeStr, _, _ := strings.Cut(line, ";")
		sizeStr = strings.TrimSpace(sizeStr)
		if sizeStr == "" || len(sizeStr) > 16 {
			return nil, nil, malformed
		}
		size, err := strconv.ParseUint(sizeStr, 16, 63)
		if err != nil {
			return nil, nil, malformed
		}
		if size == 0 {
			break
		}
		if int64(size) > limit-int64(buf.Len()) {
			return nil, nil, tooLarge()
		}
		if _, err := io.CopyN(&buf, br, int64(size)); err != nil {
			return nil, nil, incompleteBody()
		}
		var crlf [2]byte
		if _, err := io.ReadFull(br, crlf[:]); err != nil {
			return nil, nil, incompleteBody()
		}
		if crlf != [2]byte{'\r', '\n'} {
			return nil, nil, malformed
		}
	}
	trailers := map[string]string{}
	for i := 0; ; i++ {
		line, err := readLine()
		if err == io.EOF || (err == nil && line == "") {
			break
		}
		if err != nil || i >= 16 {
			return nil, nil, malformed
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" {
			return nil, nil, malformed
		}
		if _, dup := trailers[name]; dup {
			return nil, nil, malformed
		}
		trailers[name] = strings.TrimSpace(value)
	}
	return buf.Bytes(), trailers, nil
}
