package layer

import (
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stratabuild/strata/closure"
)

// realBinaries collects up to limit bytes of real executables and
// libraries from this machine, as layer entries, in a fixed order.
func realBinaries(tb testing.TB, limit int64) ([]closure.Entry, int64) {
	tb.Helper()
	var es []closure.Entry
	var total int64
	for _, root := range []string{"/usr/local/go/pkg/tool", "/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || total >= limit || !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() == 0 {
				return nil
			}
			p2 := p
			es = append(es, closure.Entry{Path: strings.TrimPrefix(p, "/"), Type: closure.Regular, Mode: 0o755, Size: info.Size(),
				Open: func() (io.ReadCloser, error) { return os.Open(p2) }})
			total += info.Size()
			return nil
		})
	}
	if total < limit/2 {
		tb.Skipf("only %d bytes of binaries on this machine", total)
	}
	norm, err := Normalize(es)
	if err != nil {
		tb.Fatal(err)
	}
	sort.Slice(norm, func(i, j int) bool { return norm[i].Path < norm[j].Path })
	return norm, total
}

const benchBytes = 200 << 20

// BenchmarkLayer measures the layer writer per compression and, on the
// same bytes in the same run, the floor: reading + sha256 alone, and
// reading + sha256 + klauspost gzip. Compare MB/s: writer/floor >= 0.8 is
// the target (scripts/bench.sh prints the ratios).
func BenchmarkLayer(b *testing.B) {
	es, total := realBinaries(b, benchBytes)
	for _, c := range []Compression{None, Gzip, Zstd} {
		b.Run("writer-"+string(c), func(b *testing.B) {
			b.SetBytes(total)
			for i := 0; i < b.N; i++ {
				if _, err := Stream(context.Background(), io.Discard, es, epoch, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("floor-sha256", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			h := sha256.New()
			readAll(b, es, h)
		}
	})
	b.Run("floor-sha256+gzip", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			// The least work a layer needs: hash the tar bytes (diffID),
			// compress them and hash the compressed bytes (digest).
			diffID, digest := sha256.New(), sha256.New()
			gz, _ := gzip.NewWriterLevel(digest, gzip.DefaultCompression)
			readAll(b, es, io.MultiWriter(diffID, gz))
			gz.Close()
		}
	})
}

func readAll(b *testing.B, es []closure.Entry, w io.Writer) {
	buf := make([]byte, 256<<10)
	for _, e := range es {
		if e.Type != closure.Regular {
			continue
		}
		r, err := e.Open()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(w, r, buf); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// randomFile is a regular entry of n pseudo-random bytes.
func randomFile(p string, n int64, seed int64) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Regular, Mode: 0o644, Size: n,
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.LimitReader(rand.New(rand.NewSource(seed)), n)), nil
		}}
}

// The writer streams: the memory it allocates does not grow with the
// layer's size (a layer 8x larger allocates less than 2x as much).
func TestStreamingMemoryDoesNotGrow(t *testing.T) {
	alloc := func(size int64) uint64 {
		es, _ := Normalize([]closure.Entry{randomFile("big", size, 1), randomFile("small", 1<<10, 2)})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Stream(context.Background(), io.Discard, es, epoch, Gzip); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(8<<20), alloc(64<<20)
	t.Logf("allocated %d bytes for 8 MiB, %d for 64 MiB", small, large)
	if large > 2*small+(4<<20) {
		t.Errorf("allocation grows with layer size: %d bytes for 8 MiB, %d for 64 MiB", small, large)
	}
}
