package nix

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/nix/nixtest"
	"github.com/stratabuild/strata/layer"
)

// makeOrderTree is makeTinyTree plus names whose tar order (bytewise by
// full path: "lib.so" before "lib/x") differs from the NAR's (per folder
// by name: "lib/x" before "lib.so"), with a whole folder ("lib-extra")
// the tar reads ahead of its NAR turn.
func makeOrderTree(t *testing.T) string {
	t.Helper()
	root := makeTinyTree(t)
	for name, data := range map[string]string{
		"lib/x":             "in lib\n",
		"lib/y/z":           strings.Repeat("z", 5000),
		"lib.so":            "read by the tar before lib/\n",
		"lib-extra/a":       strings.Repeat("a", 3000),
		"lib-extra/b/c.txt": "c\n",
		"lib+":              "",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func checkedOf(t *testing.T, root string, hold int64) *storeContents {
	t.Helper()
	h, n, err := NARHash(root)
	if err != nil {
		t.Fatal(err)
	}
	return &storeContents{info: PathInfo{Path: root, NarHash: h, NarSize: n, HasHash: true}, hold: hold}
}

// readAsTar reads every regular entry's content in the layer writer's
// order (bytewise by path), as layer.WriteTar does: Open, exactly Size
// bytes, Close, then after (when set) with the path. It returns the bytes
// read per path.
func readAsTar(t *testing.T, es []closure.Entry, after ...func(string)) map[string]string {
	t.Helper()
	es = append([]closure.Entry(nil), es...)
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	got := map[string]string{}
	for _, e := range es {
		if e.Type != closure.Regular {
			continue
		}
		r, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.LimitReader(r, e.Size))
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		got[e.Path] = string(b)
		for _, f := range after {
			f(e.Path)
		}
	}
	return got
}

func entrySet(es []closure.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Path+" "+e.Type.String()+" "+e.Mode.String()+" "+e.Link)
	}
	sort.Strings(out)
	return out
}

func TestCheckedEntriesOnePass(t *testing.T) {
	root := makeOrderTree(t)
	for _, tc := range []struct {
		name string
		hold int64
	}{
		{"held in memory", 0},
		{"too large to hold: read again", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkedOf(t, root, tc.hold)
			es, check, err := c.CheckedEntries(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// The same entries as the checking-first listing.
			plain, err := c.Entries(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if a, b := entrySet(es), entrySet(plain); strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Fatalf("CheckedEntries lists\n%s\nEntries lists\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
			got := readAsTar(t, es)
			if got[strings.TrimPrefix(root, "/")+"/lib.so"] != "read by the tar before lib/\n" {
				t.Errorf("lib.so read as %q", got[strings.TrimPrefix(root, "/")+"/lib.so"])
			}
			if err := check(); err != nil {
				t.Fatalf("intact tree fails its one-pass check: %v", err)
			}
		})
	}
}

// The tree, the narHash recorded for it, and a file changed (same size)
// after the listing: the bytes the tar read are not the recorded ones.
func TestCheckedEntriesDetectsChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hold   int64
		file   string
		before bool // change it before the tar reads it (else: right after the tar read it)
		read   bool // the tar reads the files at all
		want   string
	}{
		{"in order, before the read", 0, "bin/run", true, true, "was modified"},
		{"read ahead and held", 0, "lib.so", true, true, "was modified"},
		{"read ahead, too large to hold, changed before its second read", 1, "lib.so", false, true, "changed while it was read"},
		{"never read by the tar", 0, "nested/deeper/seven", true, false, "was modified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := makeOrderTree(t)
			c := checkedOf(t, root, tc.hold)
			es, check, err := c.CheckedEntries(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, filepath.FromSlash(tc.file))
			old, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			change := func() {
				b := []byte(strings.Repeat("#", len(old)))
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.before {
				change()
			}
			if tc.read {
				readAsTar(t, es, func(read string) {
					if !tc.before && read == strings.TrimPrefix(p, "/") {
						change()
					}
				})
			}
			err = check()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nix-store --verify --check-contents --repair") {
				t.Fatalf("check() = %v, want an error saying %q and how to repair", err, tc.want)
			}
		})
	}
}

// A reader closed before the end leaves the hash short: check falls back
// to serializing the path again, and an intact path passes.
func TestCheckedEntriesPartialRead(t *testing.T) {
	root := makeOrderTree(t)
	c := checkedOf(t, root, 0)
	es, check, err := c.CheckedEntries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	partial := 0
	for _, e := range es {
		if e.Type != closure.Regular || e.Size < 2 {
			continue
		}
		r, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		r.Close()
		partial++
	}
	if partial == 0 {
		t.Fatal("no file read in part")
	}
	if err := check(); err != nil {
		t.Fatalf("partly read intact tree: %v", err)
	}
	// And a changed one still fails.
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("HELLO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	es, check, err = c.CheckedEntries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Type == closure.Regular && e.Size > 1 {
			r, _ := e.Open()
			io.ReadFull(r, make([]byte, 1)) //nolint:errcheck
			r.Close()
			break
		}
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "was modified") {
		t.Fatalf("check() = %v after a change", err)
	}
}

// A wrong record (narSize) is caught even when every byte is read in order.
func TestCheckedEntriesNarSize(t *testing.T) {
	root := makeTinyTree(t)
	c := checkedOf(t, root, 0)
	if c.info.NarSize != tinyTreeNarSize || c.info.NarHash.String() != tinyTreeNarHash {
		t.Fatalf("tiny tree hashes to %s (%d bytes), golden %s (%d)", c.info.NarHash, c.info.NarSize, tinyTreeNarHash, tinyTreeNarSize)
	}
	c.info.NarSize++
	es, check, err := c.CheckedEntries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	readAsTar(t, es)
	if err := check(); err == nil || !strings.Contains(err.Error(), "was modified") {
		t.Fatalf("check() = %v with a wrong narSize", err)
	}
}

// A store path may be one file or one symlink instead of a folder.
func TestCheckedEntriesFileAndSymlinkRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "script")
	if err := os.WriteFile(file, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("script", link); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{file, link} {
		c := checkedOf(t, root, 0)
		es, check, err := c.CheckedEntries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		plain, err := c.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if a, b := entrySet(es), entrySet(plain); strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("%s: CheckedEntries lists %v, Entries %v", root, a, b)
		}
		readAsTar(t, es)
		if err := check(); err != nil {
			t.Errorf("%s: %v", root, err)
		}
	}
}

// A real store path's layer built in one pass (layer.Build takes
// CheckedEntries) has the bytes of the checked-first listing's tar.
func TestOnePassLayerMatchesCheckedFirst(t *testing.T) {
	_, paths := nixtest.BuildDemoClosure(t)
	st := openStore(t)
	res := resolve(t, FromPaths(paths, st), nil)
	for _, p := range paths {
		n := res.Graph.Nodes["nix:"+p]
		if _, ok := n.Contents.(closure.CheckedContents); !ok {
			t.Fatalf("%s: contents %T are not checked in one pass", p, n.Contents)
		}
		es, err := n.Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		es, err = layer.Normalize(es)
		if err != nil {
			t.Fatal(err)
		}
		want, err := layer.Stream(context.Background(), io.Discard, es, time.Unix(1, 0), layer.Gzip)
		if err != nil {
			t.Fatal(err)
		}
		l, err := layer.Build(context.Background(), st, layer.Spec{Contents: []closure.Contents{n.Contents}, MTime: time.Unix(1, 0), Compression: layer.Gzip})
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Info(); got.Digest != want.Digest || got.DiffID != want.DiffID {
			t.Errorf("%s: one-pass layer %s (diffID %s), checked-first %s (%s)", p, got.Digest, got.DiffID, want.Digest, want.DiffID)
		}
	}
}
