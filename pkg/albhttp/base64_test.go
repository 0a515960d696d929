package albhttp

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 15, 16, 47, 48, 49, 95, 96, 97, 191, 1023, 1024, 64 << 10, 100_000, 700 << 10} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		for _, prefix := range []string{"", `{"body":"`} {
			t.Run(strconv.Itoa(n)+"/"+strconv.Itoa(len(prefix)), func(t *testing.T) {
				want := base64.StdEncoding.AppendEncode([]byte(prefix), src)
				// Both a destination with room and one without.
				for _, dst := range [][]byte{[]byte(prefix), append(make([]byte, 0, len(want)+7), prefix...)} {
					if got := appendBase64(dst, src); !bytes.Equal(got, want) {
						t.Fatalf("appendBase64 differs from encoding/base64 for %d bytes", n)
					}
				}
			})
		}
	}
}

func FuzzAppendBase64(f *testing.F) {
	f.Add([]byte{}, []byte("x"))
	f.Add([]byte("ab"), bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 40))
	f.Fuzz(func(t *testing.T, prefix, src []byte) {
		want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
		if got := appendBase64(bytes.Clone(prefix), src); !bytes.Equal(got, want) {
			t.Fatalf("appendBase64(%q, %x) = %q, want %q", prefix, src, got, want)
		}
	})
}

// BenchmarkBase64 prices the encoder against encoding/base64 in the same
// run, at the inline read's sizes.
func BenchmarkBase64(b *testing.B) {
	for _, n := range []int{8 << 10, 100 << 10, 700 << 10} {
		src := make([]byte, n)
		dst := make([]byte, 0, base64.StdEncoding.EncodedLen(n))
		b.Run(strconv.Itoa(n>>10)+"KiB/stdlib", func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = base64.StdEncoding.AppendEncode(dst[:0], src)
			}
		})
		b.Run(strconv.Itoa(n>>10)+"KiB/simd", func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = appendBase64(dst[:0], src)
			}
		})
	}
}
