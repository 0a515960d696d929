package albhttp

import (
	"encoding/base64"

	simd "github.com/segmentio/asm/base64"
)

// appendBase64 appends src's standard base64 encoding to dst. Every inline
// read crosses the ALB as base64, and the standard library's scalar encoder
// was an eighth of the CPU of a 100 KB read on the real bootstrap; this
// encoder uses AVX2 on amd64 and NEON on arm64 (Lambda's Graviton), falling
// back to the standard library elsewhere and for short inputs. The output
// is the standard library's byte for byte (TestAppendBase64, FuzzAppendBase64).
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	if cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	simd.StdEncoding.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}
