package debfile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/store"
)

func TestVerifyFindsDamagedFile(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := debtest.Bytes(debtest.Deb{Files: []debtest.File{{Name: "./usr/"}, {Name: "./usr/bin/"}, {Name: "./usr/bin/tool", Body: "#!/bin/sh\necho tool\n", Mode: 0o755}}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.PutBlob(strings.NewReader(string(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := debfile.UnpackBlob(context.Background(), st, sum); err != nil {
		t.Fatal(err)
	}
	ents, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var tree store.Entry
	for _, e := range ents {
		if e.Kind == debfile.CacheKind {
			tree = e
		}
	}
	if tree.Key == "" {
		t.Fatalf("no unpacked entry in %+v", ents)
	}
	dir := st.Path(tree)
	if checked, err := debfile.Verify(dir, tree.Key); !checked || err != nil {
		t.Fatalf("sound entry: checked %v, %v", checked, err)
	}
	if checked, _ := debfile.Verify(dir, sum+"-v0"); checked {
		t.Fatal("an entry of another unpacker version was checked")
	}
	p := filepath.Join(dir, "root", "usr", "bin", "tool")
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := debfile.Verify(dir, tree.Key); err == nil || !strings.Contains(err.Error(), "usr/bin/tool has sha256") {
		t.Fatalf("damaged file: %v", err)
	}
}
