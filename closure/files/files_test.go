package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// A symlinked folder in the middle of src must not lead out of the spec's
// folder: the host's file never reaches the image.
func TestSrcThroughSymlinkedFolderIsRefused(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "shadow"), []byte("secret"), 0o600)
	dir := t.TempDir()
	if err := os.Symlink(host, filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	_, err := Node(context.Background(), dir, 0, spec.File{Src: "etc/shadow", Dst: "/x"})
	if err == nil || !strings.Contains(err.Error(), "passes through a symlink that leaves") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	// A top-level src that is a symlink stays a link (nothing is read through it).
	n, err := Node(context.Background(), dir, 0, spec.File{Src: "etc", Dst: "/etc-link"})
	if err != nil {
		t.Fatal(err)
	}
	es, _ := n.Contents.Entries(context.Background())
	if len(es) != 1 || es[0].Type != closure.Symlink {
		t.Fatalf("entries = %+v, want one symlink", es)
	}
	// followLast (a build step's src, bind-mounted) refuses that too.
	if err := Inside(dir, "etc", true); err == nil {
		t.Fatal("Inside with followLast accepted a symlink leaving the folder")
	}
	// A symlink that stays inside is fine.
	os.MkdirAll(filepath.Join(dir, "real"), 0o755)
	os.WriteFile(filepath.Join(dir, "real", "f"), []byte("ok"), 0o644)
	os.Symlink("real", filepath.Join(dir, "alias"))
	if _, err := Node(context.Background(), dir, 0, spec.File{Src: "alias/f", Dst: "/f"}); err != nil {
		t.Fatalf("inside symlink refused: %v", err)
	}
}
