package jsonscan

import (
	"math/rand"
	"strings"
	"testing"
)

func naive(s string) int {
	for i := 0; i < len(s); i++ {
		if special(s[i]) {
			return i
		}
	}
	return len(s)
}

// TestIndexEveryByteEveryPosition: each of the 256 byte values at each
// position of texts of 0 to 100 bytes (every block and tail path), with an
// offset start so that loads are unaligned.
func TestIndexEveryByteEveryPosition(t *testing.T) {
	base := strings.Repeat("abcdefghij", 11)
	for n := 0; n <= 100; n++ {
		for off := 0; off < 3; off++ {
			s := base[off : off+n]
			if got := Index(s); got != n {
				t.Fatalf("len %d off %d: Index = %d on a plain text", n, off, got)
			}
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					b := []byte(s)
					b[pos] = byte(c)
					want := naive(string(b))
					if got := Index(string(b)); got != want {
						t.Fatalf("len %d off %d, byte %#x at %d: Index = %d, want %d", n, off, c, pos, got, want)
					}
				}
			}
		}
	}
}

func TestIndexRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for k := 0; k < 20000; k++ {
		b := make([]byte, r.Intn(300))
		for i := range b {
			b[i] = byte(0x20 + r.Intn(0x5f))
		}
		for j := r.Intn(3); j > 0 && len(b) > 0; j-- {
			b[r.Intn(len(b))] = byte(r.Intn(256))
		}
		if got, want := Index(string(b)), naive(string(b)); got != want {
			t.Fatalf("%q: Index = %d, want %d", b, got, want)
		}
	}
}

func BenchmarkIndex1KB(b *testing.B) {
	s := strings.Repeat("q", 1000)
	b.SetBytes(int64(len(s)))
	for i := 0; i < b.N; i++ {
		if Index(s) != len(s) {
			b.Fatal()
		}
	}
}
