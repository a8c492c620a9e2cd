package lockfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Read never panics on a damaged lock: it returns a lock or an error.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"version": 1, "inputsHash": "sha256:x", "sources": {"debian": {"linux/amd64": {"suite": "bookworm"}}}}`))
	f.Add([]byte(`{"version": 99}`))
	f.Add([]byte(`{"version": 1, "sour`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, Name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Read(p)
		if err == nil && l != nil {
			_ = l.Section("debian", "linux/amd64")
		}
	})
}
