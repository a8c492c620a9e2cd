package nix

import (
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure/nix/nixtest"
)

// readAndHash is the floor for hashing a tree's content: sha256 over every
// regular file's bytes, read the same way, without NAR framing.
func readAndHash(paths []string, buf []byte) (int64, error) {
	h := sha256.New()
	var n int64
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			k, err := io.CopyBuffer(h, f, buf)
			n += k
			return err
		})
		if err != nil {
			return n, err
		}
	}
	h.Sum(nil)
	return n, nil
}

// BenchmarkNARHash hashes a >= 100 MB closure with the NAR serializer and
// reports its throughput next to two floors measured in the same run:
// sha256 over the same files' bytes read from disk, and sha256 over memory.
func BenchmarkNARHash(b *testing.B) {
	paths, total := nixtest.GoToolchainClosure(b)
	buf := make([]byte, 256<<10)
	// Warm the page cache so both sides read from memory.
	if _, err := readAndHash(paths, buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for _, p := range paths {
			_, _, err := NARHash(p)
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	narSecs := time.Since(start).Seconds() / float64(b.N)
	b.StopTimer()

	var fileBytes int64
	start = time.Now()
	for i := 0; i < b.N; i++ {
		n, err := readAndHash(paths, buf)
		if err != nil {
			b.Fatal(err)
		}
		fileBytes = n
	}
	readSecs := time.Since(start).Seconds() / float64(b.N)

	mem := make([]byte, 64<<20)
	start = time.Now()
	for i := 0; i < 4; i++ {
		sha256.Sum256(mem)
	}
	memMBps := float64(4*len(mem)) / 1e6 / time.Since(start).Seconds()

	narMBps := float64(total) / 1e6 / narSecs
	readMBps := float64(fileBytes) / 1e6 / readSecs
	b.ReportMetric(narMBps, "nar-MB/s")
	b.ReportMetric(readMBps, "read+sha256-MB/s")
	b.ReportMetric(memMBps, "mem-sha256-MB/s")
	b.ReportMetric(narSecs/readSecs*float64(fileBytes)/float64(total), "time-ratio-vs-read+sha256")
	b.ReportMetric(memMBps/narMBps, "time-ratio-vs-mem-sha256")
}
