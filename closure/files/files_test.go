package files

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
)

func TestModesAreNormalised(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	os.MkdirAll(filepath.Join(dir, "src", "sub"), 0o777)
	os.WriteFile(filepath.Join(dir, "src", "exe"), []byte("x"), 0o775)
	os.WriteFile(filepath.Join(dir, "src", "sub", "data"), []byte("yy"), 0o666)
	os.Symlink("exe", filepath.Join(dir, "src", "link"))
	os.Link(filepath.Join(dir, "src", "exe"), filepath.Join(dir, "src", "sub", "hard"))
	n, err := Node(context.Background(), dir, 0, spec.File{Src: "src", Dst: "/opt/app"})
	if err != nil {
		t.Fatal(err)
	}
	es, _ := n.Contents.Entries(context.Background())
	got := map[string]closure.Entry{}
	for _, e := range es {
		got[e.Path] = e
	}
	want := map[string]struct {
		typ  closure.EntryType
		mode os.FileMode
	}{
		"opt/app":          {closure.Dir, 0o755},
		"opt/app/exe":      {closure.Regular, 0o755},
		"opt/app/sub":      {closure.Dir, 0o755},
		"opt/app/sub/data": {closure.Regular, 0o644},
		"opt/app/link":     {closure.Symlink, 0o777},
		"opt/app/sub/hard": {closure.Hardlink, 0o755},
	}
	for p, w := range want {
		e, ok := got[p]
		if !ok || e.Type != w.typ || e.Mode != w.mode {
			t.Errorf("%s: got %+v, want %v %o", p, e, w.typ, w.mode)
		}
	}
	if got["opt/app/link"].Link != "exe" || got["opt/app/sub/hard"].Link != "opt/app/exe" {
		t.Errorf("links: %+v %+v", got["opt/app/link"], got["opt/app/sub/hard"])
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d", len(got), len(want))
	}

	// The key follows content and spec mode, not mtimes.
	n2, _ := Node(context.Background(), dir, 0, spec.File{Src: "src", Dst: "/opt/app"})
	if n.Contents.Key() != n2.Contents.Key() {
		t.Error("key not stable")
	}
	os.WriteFile(filepath.Join(dir, "src", "sub", "data"), []byte("zz"), 0o666)
	n3, _ := Node(context.Background(), dir, 0, spec.File{Src: "src", Dst: "/opt/app"})
	if n3.Contents.Key() == n.Contents.Key() {
		t.Error("content change kept the key")
	}
	uid := 7
	n4, _ := Node(context.Background(), dir, 0, spec.File{Src: "src/exe", Dst: "/bin/x", Mode: "0700", UID: &uid})
	es, _ = n4.Contents.Entries(context.Background())
	if len(es) != 1 || es[0].Mode != 0o700 || es[0].UID != 7 || es[0].Path != "bin/x" {
		t.Errorf("single file with mode: %+v", es)
	}
}
