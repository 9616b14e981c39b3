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

// TestIndexEveryByteEveryPosition: every byte value at each position of
// texts of 0 to 100 bytes, and the bytes at the edges of the special ranges at
// each position of texts of up to 200 bytes (every block and tail path of
// both instruction sets), each from three start offsets so that loads are
// unaligned.
func TestIndexEveryByteEveryPosition(t *testing.T) {
	withEachPath(func(name string) {
		t.Run(name, testEveryByteEveryPosition)
	})
}

func testEveryByteEveryPosition(t *testing.T) {
	base := strings.Repeat("abcdefghij", 22)
	var all, edges []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	edges = []byte{0x00, 0x1f, 0x20, '"', '!', '#', '\\', '[', ']', 0x7f, 0x80, 0xc3, 0xff}
	for n := 0; n <= 200; n++ {
		bytes := all
		if n > 100 {
			bytes = edges
		}
		for off := 0; off < 3; off++ {
			s := base[off : off+n]
			if got := Index(s); got != n {
				t.Fatalf("len %d off %d: Index = %d on a plain text", n, off, got)
			}
			for pos := 0; pos < n; pos++ {
				for _, c := range bytes {
					b := []byte(s)
					b[pos] = c
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
	withEachPath(func(name string) {
		t.Run(name, testRandom)
	})
}

func testRandom(t *testing.T) {
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
	withEachPath(func(name string) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for i := 0; i < b.N; i++ {
				if Index(s) != len(s) {
					b.Fatal()
				}
			}
		})
	})
}
