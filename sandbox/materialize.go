package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/stratabuild/strata/closure"
)

// materializedTime is every file's and folder's mtime in a materialized
// root (as in a Nix store), so a step cannot pick up when it was written.
var materializedTime = time.Unix(1, 0)

// Materialize writes entries (regular files via Open, dirs, symlinks,
// hardlinks, in any order) under dir as a root filesystem, creating
// parents; it refuses paths that are not clean and relative, that contain
// "..", that lie under another entry that is not a folder, or that escape
// dir (every write goes through an os.Root).
//
// Modes: regular files keep their permission bits without the write bits,
// setuid and setgid (they are read-only inside the sandbox anyway, and a
// setuid file owned by the host's root must never appear on the host);
// folders get their permission bits without group and other write, plus
// owner rwx so the tree can be removed. Owners are not set: inside the
// sandbox everything belongs to the build user. Files and folders get
// mtime 1 (1970-01-01T00:00:01Z).
//
// An entry listed twice must be the same: identical folders (the first
// mode wins), files with identical bytes, symlinks with the same target,
// hardlinks to the same file; anything else is an error.
func Materialize(ctx context.Context, dir string, entries []closure.Entry) error {
	m := &materializer{byPath: map[string]*closure.Entry{}, done: map[string]bool{}}
	for i := range entries {
		e := &entries[i]
		if err := checkEntryPath(e.Path); err != nil {
			return err
		}
		if e.Type > closure.Hardlink {
			return fmt.Errorf("materializing %s: unknown entry type %d", e.Path, e.Type)
		}
	}
	// Folders first (parents before children), then files, then
	// hardlinks to them, then symlinks, so no write goes through a symlink
	// this call made.
	order := make([]*closure.Entry, len(entries))
	for i := range entries {
		order[i] = &entries[i]
	}
	rank := map[closure.EntryType]int{closure.Dir: 0, closure.Regular: 1, closure.Hardlink: 2, closure.Symlink: 3}
	slices.SortStableFunc(order, func(a, b *closure.Entry) int {
		return cmp.Or(cmp.Compare(rank[a.Type], rank[b.Type]), cmp.Compare(a.Path, b.Path))
	})
	for _, e := range order {
		if old, ok := m.byPath[e.Path]; ok && old.Type != e.Type {
			return fmt.Errorf("materializing %s: listed as a %s and as a %s", e.Path, old.Type, e.Type)
		}
		if _, ok := m.byPath[e.Path]; !ok {
			m.byPath[e.Path] = e
		}
	}
	for _, e := range order {
		for a := path.Dir(e.Path); a != "."; a = path.Dir(a) {
			if p, ok := m.byPath[a]; ok && p.Type != closure.Dir {
				return fmt.Errorf("materializing %s: it lies under %s, which is a %s, not a folder", e.Path, a, p.Type)
			}
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("materializing the root: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("materializing the root: %w", err)
	}
	defer root.Close()
	m.root = root
	for _, e := range order {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("materializing the root: %w", err)
		}
		if err := m.write(e); err != nil {
			return fmt.Errorf("materializing %s: %w", e.Path, err)
		}
	}
	// Folder modes and times last: a read-only folder would stop its
	// children, and writing a child changes the folder's mtime. Deepest
	// first.
	slices.SortFunc(m.dirs, func(a, b string) int { return cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/")) })
	for _, d := range m.dirs {
		if err := root.Chtimes(d, materializedTime, materializedTime); err != nil {
			return fmt.Errorf("materializing %s: %w", d, err)
		}
	}
	return nil
}

type materializer struct {
	root   *os.Root
	byPath map[string]*closure.Entry
	done   map[string]bool
	dirs   []string
}

func checkEntryPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("materializing %q: an entry path must be relative and non-empty", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("materializing %q: \"..\" would escape the root", p)
		}
	}
	if path.Clean(p) != p || p == "." {
		return fmt.Errorf("materializing %q: an entry path must be clean (no \".\", \"//\" or trailing \"/\")", p)
	}
	return nil
}

func (m *materializer) parents(p string) error {
	d := path.Dir(p)
	if d == "." {
		return nil
	}
	if fi, err := m.root.Lstat(d); err == nil && fi.IsDir() {
		return nil
	}
	if err := m.root.MkdirAll(d, 0o755); err != nil {
		return err
	}
	for a := d; a != "."; a = path.Dir(a) {
		if !m.done[a] {
			m.done[a] = true
			m.dirs = append(m.dirs, a)
		}
	}
	return nil
}

func (m *materializer) write(e *closure.Entry) error {
	first := !m.done[e.Path]
	if err := m.parents(e.Path); err != nil {
		return err
	}
	switch e.Type {
	case closure.Dir:
		if !first {
			return nil // the first listing's mode wins
		}
		perm := e.Mode.Perm()&^0o022 | 0o700
		if err := m.root.Mkdir(e.Path, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := m.root.Chmod(e.Path, perm); err != nil {
			return err
		}
		m.dirs = append(m.dirs, e.Path)
	case closure.Regular:
		if !first {
			return m.sameFile(e)
		}
		if e.Open == nil {
			return errors.New("a regular file without content (Open is nil)")
		}
		if err := m.copyFile(e); err != nil {
			return err
		}
	case closure.Hardlink:
		t, ok := m.byPath[e.Link]
		for n := 0; ok && t.Type == closure.Hardlink && n < len(m.byPath); n++ {
			t, ok = m.byPath[t.Link]
		}
		if !ok || t.Type != closure.Regular {
			return fmt.Errorf("a hardlink to %q, which is not a regular file in the list", e.Link)
		}
		if !first {
			a, err := m.root.Stat(e.Path)
			if err != nil {
				return err
			}
			b, err := m.root.Stat(t.Path)
			if err != nil {
				return err
			}
			if !os.SameFile(a, b) {
				return fmt.Errorf("listed twice, linked to different files (%s)", e.Link)
			}
			return nil
		}
		if err := m.root.Link(t.Path, e.Path); err != nil {
			return err
		}
	case closure.Symlink:
		if e.Link == "" || strings.ContainsRune(e.Link, 0) {
			return errors.New("a symlink with an empty or bad target")
		}
		if !first {
			got, err := m.root.Readlink(e.Path)
			if err != nil {
				return err
			}
			if got != e.Link {
				return fmt.Errorf("listed twice, as a symlink to %q and to %q", got, e.Link)
			}
			return nil
		}
		if err := m.root.Symlink(e.Link, e.Path); err != nil {
			return err
		}
	}
	m.done[e.Path] = true
	return nil
}

func (m *materializer) copyFile(e *closure.Entry) error {
	perm := e.Mode.Perm() &^ 0o222
	f, err := m.root.OpenFile(e.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	r, err := e.Open()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening its content: %w", err)
	}
	n, err := io.Copy(f, r)
	r.Close()
	if err == nil && n != e.Size {
		err = fmt.Errorf("its content has %d bytes, the entry says %d", n, e.Size)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return m.root.Chtimes(e.Path, materializedTime, materializedTime)
}

// sameFile accepts a regular file listed again only with the same bytes.
func (m *materializer) sameFile(e *closure.Entry) error {
	if e.Open == nil {
		return errors.New("a regular file without content (Open is nil)")
	}
	have, err := m.root.ReadFile(e.Path)
	if err != nil {
		return err
	}
	r, err := e.Open()
	if err != nil {
		return fmt.Errorf("opening its content: %w", err)
	}
	defer r.Close()
	want, err := io.ReadAll(io.LimitReader(r, int64(len(have))+1))
	if err != nil {
		return fmt.Errorf("reading its content: %w", err)
	}
	if !bytes.Equal(have, want) {
		return errors.New("listed twice with different content")
	}
	return nil
}
