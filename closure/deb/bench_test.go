package deb

import (
	"context"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/store"
)

// BenchmarkWarmResolve measures a warm resolution against the host's
// configured mirror: the signed InRelease fetched and verified, the parsed
// index read from the store cache, the closure resolved. The first
// (cold) resolution is outside the timer.
func BenchmarkWarmResolve(b *testing.B) {
	for _, root := range []string{"hello", "python3"} {
		b.Run(root, func(b *testing.B) {
			st, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			src := New(hostSpec(b, root), st)
			req := closure.Request{Platform: closure.Platform{OS: "linux", Arch: "amd64"}}
			l, err := src.ResolveLock(context.Background(), req)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := src.ResolveLock(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(l.Packages)), "packages")
		})
	}
}
