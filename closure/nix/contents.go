package nix

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// storeContents is the Contents of one store path: its files under
// nix/store/, checked against the recorded narHash before they are listed.
type storeContents struct {
	info PathInfo
	hold int64 // CheckedEntries' NARHoldBytes; 0 means the constant (tests set less)
}

// Key implements closure.Contents: the narHash covers every byte and mode
// bit a NAR keeps, and the store path places them.
func (c *storeContents) Key() string { return "nix:" + c.info.NarHash.String() + c.info.Path }

// Entries implements closure.Contents. It first serializes the path as a
// NAR and compares the hash and size with the store's record; a mismatch
// means the store was changed behind Nix's back and is an error.
func (c *storeContents) Entries(ctx context.Context) ([]closure.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := verify(ctx, c.info); err != nil {
		return nil, err
	}
	entries := parentDirs(path.Dir(c.info.Path))
	err := filepath.WalkDir(c.info.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("listing %s: %w", c.info.Path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("listing %s: %w", c.info.Path, err)
		}
		e, err := storeEntry(p, fi)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// parentDirs returns 0755 folder entries for the store folder and its
// ancestors ("nix", "nix/store").
func parentDirs(dir string) []closure.Entry {
	rel := strings.TrimPrefix(path.Clean(dir), "/")
	var out []closure.Entry
	for i := 0; i <= len(rel); i++ {
		if i == len(rel) || rel[i] == '/' {
			if i > 0 {
				out = append(out, closure.Entry{Path: rel[:i], Type: closure.Dir, Mode: 0o755})
			}
		}
	}
	return out
}

// storeEntry maps one file of the store to an image entry with the store's
// modes: folders and executables 0555, other files 0444, owner root.
func storeEntry(p string, fi fs.FileInfo) (closure.Entry, error) {
	e := closure.Entry{Path: strings.TrimPrefix(filepath.ToSlash(p), "/")}
	switch m := fi.Mode(); {
	case m.IsDir():
		e.Type, e.Mode = closure.Dir, 0o555
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return e, fmt.Errorf("reading symlink %s: %w", p, err)
		}
		e.Type, e.Mode, e.Link = closure.Symlink, 0o777, target
	case m.IsRegular():
		e.Type, e.Mode, e.Size = closure.Regular, 0o444, fi.Size()
		if m&0o100 != 0 {
			e.Mode = 0o555
		}
		e.Open = func() (io.ReadCloser, error) { return openSized(p, fi.Size()) }
	default:
		return e, fmt.Errorf("%s is a %s, which a Nix store path cannot hold: repair the store with nix-store --verify --check-contents --repair", p, m.Type())
	}
	return e, nil
}

// openSized opens a store file and fails if it no longer has the size that
// was listed (and verified).
func openSized(p string, size int64) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != size {
		f.Close()
		return nil, fmt.Errorf("%s changed size from %d to %d bytes after it was verified: repair the store with nix-store --verify --check-contents --repair", p, size, fi.Size())
	}
	return f, nil
}

func verify(ctx context.Context, info PathInfo) error {
	if !info.HasHash {
		return fmt.Errorf("verifying %s: its narHash is unknown", info.Path)
	}
	got, size, err := narHash(ctx, info.Path)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", info.Path, err)
	}
	if got != info.NarHash || (info.NarSize > 0 && size != info.NarSize) {
		return fmt.Errorf("store path %s was modified: its contents hash to %s (%d bytes as a NAR) but the store records %s (%d bytes); repair it with `nix-store --verify --check-contents --repair` (or delete and rebuild the path)",
			info.Path, got, size, info.NarHash, info.NarSize)
	}
	return nil
}
