package spec

import (
	"path/filepath"
	"testing"
)

// Parse never panics, whatever the bytes (a `!x` tag, an alias bomb,
// binary junk): it returns a spec or an error.
func FuzzParse(f *testing.F) {
	f.Add([]byte("name: hello\ndebian:\n  suite: bookworm\n  packages: [hello]\nconfig:\n  entrypoint: [/usr/bin/hello]\n"))
	f.Add([]byte("name: x\ndebian:\n  suite: bookworm\n  packages: !x\n"))
	f.Add([]byte("name: x\nconfig:\n  labels:\n    a: &a [\"l\",\"l\"]\n    b: &b [*a,*a]\n    c: [*b,*b]\n"))
	f.Add([]byte("name: x\nbuilds:\n  a: {run: 'true', debian: {suite: bookworm, packages: [gcc]}, inputs: {a: /x}}\nfiles:\n  - build: a\n    dst: /a\n"))
	f.Add([]byte("files:\n  - src: a\n    dst: /a\n    mode: 0755\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		s, err := Parse(filepath.Join(dir, "strata.yaml"), b)
		if err == nil && s == nil {
			t.Fatal("Parse returned neither a spec nor an error")
		}
	})
}
