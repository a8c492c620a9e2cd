package debfile_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/store"
)

// A name or link target that is not UTF-8 (issue 15 hole 8) became U+FFFD
// in the cache manifest, so the entry named no file on disk and every
// later build failed. Such a .deb is refused, naming the entry with its
// bytes escaped, and leaves nothing in the cache.
func TestUnpackRefusesNonUTF8Names(t *testing.T) {
	cases := []struct {
		name, entry string
		files       []debtest.File
	}{
		{"file name", `./usr/caf\xe9`, []debtest.File{{Name: "./usr/"}, {Name: "./usr/caf\xe9", Body: "x"}}},
		{"folder name", `./usr/\xff\xfe/`, []debtest.File{{Name: "./usr/"}, {Name: "./usr/\xff\xfe/"}}},
		{"symlink target", "./usr/link", []debtest.File{{Name: "./usr/"}, {Name: "./usr/link", Type: tar.TypeSymlink, Link: "caf\xe9"}}},
		{"hardlink target", "./usr/h", []debtest.File{{Name: "./usr/"}, {Name: "./usr/h", Type: tar.TypeLink, Link: "./usr/caf\xe9"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			st, err := store.Open(filepath.Join(base, "cache"))
			if err != nil {
				t.Fatal(err)
			}
			p, sum := debtest.Build(t, t.TempDir(), "names_1_all.deb", debtest.Deb{Files: c.files})
			_, err = debfile.Unpack(context.Background(), st, p, sum)
			if err == nil {
				t.Fatal("Unpack accepted a name that is not UTF-8")
			}
			t.Log(err)
			if !errors.Is(err, debfile.ErrUnsafe) || !strings.Contains(err.Error(), "not valid UTF-8") || !strings.Contains(err.Error(), c.entry) {
				t.Errorf("err = %v, want ErrUnsafe naming %s and UTF-8", err, c.entry)
			}
			assertEmpty(t, filepath.Join(base, "cache", "tmp"))
			assertEmpty(t, filepath.Join(base, "cache", "deb-unpacked"))
		})
	}
}

// UTF-8 names and link targets outside ASCII survive the manifest: a
// second Unpack loads them from the cache and the files open.
func TestUnpackKeepsUTF8Names(t *testing.T) {
	st := openStore(t)
	p, sum := debtest.Build(t, t.TempDir(), "names_1_all.deb", debtest.Deb{Files: []debtest.File{
		{Name: "./usr/"}, {Name: "./usr/café", Body: "crème"}, {Name: "./usr/lien", Type: tar.TypeSymlink, Link: "café"}}})
	for range 2 {
		pkg, err := debfile.Unpack(context.Background(), st, p, sum)
		if err != nil {
			t.Fatal(err)
		}
		var found, link bool
		for _, e := range pkg.Entries {
			switch e.Path {
			case "usr/café":
				found = readEntry(t, e) == "crème"
			case "usr/lien":
				link = e.Link == "café"
			}
		}
		if !found || !link {
			t.Errorf("entries = %+v", pkg.Entries)
		}
		if _, err := os.Stat(filepath.Join(pkg.Dir, "usr", "café")); err != nil {
			t.Error(err)
		}
	}
}
