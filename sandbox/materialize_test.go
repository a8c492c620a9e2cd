package sandbox

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
)

func file(p string, mode fs.FileMode, content string) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Regular, Mode: mode, Size: int64(len(content)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

func TestMaterialize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	// Listed in an awkward order: children before parents, a hardlink
	// before its target, a duplicate folder and file.
	entries := []closure.Entry{
		{Path: "usr/bin/tool2", Type: closure.Hardlink, Link: "usr/bin/tool"},
		{Path: "usr/bin/tool3", Type: closure.Hardlink, Link: "usr/bin/tool2"},
		file("usr/bin/tool", 0o755|fs.ModeSetuid, "#!/bin/sh\n"),
		file("etc/conf", 0o644, "a=1\n"), // etc is not listed
		file("etc/secret", 0o600|fs.ModeSetgid, "s\n"),
		{Path: "bin", Type: closure.Symlink, Link: "usr/bin"},
		{Path: "usr/bin", Type: closure.Dir, Mode: 0o755},
		{Path: "usr", Type: closure.Dir, Mode: 0o755},
		{Path: "usr", Type: closure.Dir, Mode: 0o700}, // the first listing wins
		{Path: "var/ro", Type: closure.Dir, Mode: 0o555},
		{Path: "var/ro/tmp", Type: closure.Dir, Mode: 0o777 | fs.ModeSticky},
		file("etc/conf", 0o644, "a=1\n"), // the same file twice is fine
		{Path: "bin", Type: closure.Symlink, Link: "usr/bin"},
		{Path: "lib64", Type: closure.Symlink, Link: "/usr/lib64"}, // absolute targets kept verbatim
	}
	if err := Materialize(context.Background(), dir, entries); err != nil {
		t.Fatal(err)
	}
	modes := map[string]fs.FileMode{
		"usr/bin/tool": 0o555, // write bits and setuid dropped
		"etc/conf":     0o444,
		"etc/secret":   0o400,
		"usr":          0o755 | fs.ModeDir,
		"usr/bin":      0o755 | fs.ModeDir,
		"etc":          0o755 | fs.ModeDir,
		"var/ro":       0o755 | fs.ModeDir, // owner rwx so the tree can be removed
		"var/ro/tmp":   0o755 | fs.ModeDir, // no group/other write, no sticky
	}
	for p, want := range modes {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		if !fi.ModTime().Equal(time.Unix(1, 0)) {
			t.Errorf("%s: mtime %v, want 1970-01-01T00:00:01Z", p, fi.ModTime())
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "usr/bin/tool")); err != nil || string(b) != "#!/bin/sh\n" {
		t.Errorf("usr/bin/tool = %q, %v", b, err)
	}
	a, _ := os.Stat(filepath.Join(dir, "usr/bin/tool"))
	for _, l := range []string{"usr/bin/tool2", "usr/bin/tool3"} {
		b, err := os.Lstat(filepath.Join(dir, l))
		if err != nil || !os.SameFile(a, b) {
			t.Errorf("%s is not a hardlink to usr/bin/tool (%v)", l, err)
		}
	}
	for p, want := range map[string]string{"bin": "usr/bin", "lib64": "/usr/lib64"} {
		if got, err := os.Readlink(filepath.Join(dir, p)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", p, got, err, want)
		}
	}
	// the tree can be removed by its owner
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("removing the materialized root: %v", err)
	}
}

func TestMaterializeRefuses(t *testing.T) {
	cases := map[string][]closure.Entry{
		"dot-dot":           {file("usr/../../x", 0o644, "x")},
		"leading dot-dot":   {file("../x", 0o644, "x")},
		"absolute":          {file("/etc/x", 0o644, "x")},
		"unclean":           {file("usr//x", 0o644, "x")},
		"dot":               {file("./x", 0o644, "x")},
		"empty":             {file("", 0o644, "x")},
		"under a symlink":   {{Path: "bin", Type: closure.Symlink, Link: "/tmp"}, file("bin/x", 0o644, "x")},
		"under a file":      {file("f", 0o644, "x"), file("f/x", 0o644, "x")},
		"different twice":   {file("x", 0o644, "a"), file("x", 0o644, "b")},
		"two kinds":         {file("x", 0o644, "a"), {Path: "x", Type: closure.Dir, Mode: 0o755}},
		"symlinks differ":   {{Path: "l", Type: closure.Symlink, Link: "a"}, {Path: "l", Type: closure.Symlink, Link: "b"}},
		"dangling hardlink": {{Path: "h", Type: closure.Hardlink, Link: "missing"}},
		"hardlink to dir":   {{Path: "d", Type: closure.Dir, Mode: 0o755}, {Path: "h", Type: closure.Hardlink, Link: "d"}},
		"short content":     {{Path: "x", Type: closure.Regular, Mode: 0o644, Size: 5, Open: file("x", 0, "abc").Open}},
		"no content":        {{Path: "x", Type: closure.Regular, Mode: 0o644}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "root")
			if err := Materialize(context.Background(), dir, entries); err == nil {
				t.Fatalf("Materialize accepted %v", entries)
			}
			if _, err := os.Stat(filepath.Join(base, "x")); err == nil {
				t.Errorf("a file appeared outside the root")
			}
		})
	}
}

// A symlink already in dir that points out of it is not followed.
func TestMaterializeConfinedByOSRoot(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	dir := filepath.Join(base, "root")
	for _, d := range []string{outside, dir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "esc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"esc/x", "rel/x", "esc/sub/x"} {
		if err := Materialize(context.Background(), dir, []closure.Entry{file(p, 0o644, "x")}); err == nil {
			t.Errorf("Materialize wrote %s through a symlink out of the root", p)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("files appeared outside the root: %v", ents)
	}
}

func TestMaterializeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Materialize(ctx, t.TempDir(), []closure.Entry{file("x", 0o644, "x")}); err == nil {
		t.Error("Materialize ran with a cancelled context")
	}
}
