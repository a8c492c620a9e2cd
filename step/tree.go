package step

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/files"
	"github.com/stratabuild/strata/spec"
)

// copyTree copies the folder src into the empty folder dst: files (with
// their executable bit), folders and symlinks.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch t := info.Mode().Type(); {
		case t == fs.ModeDir:
			return os.Mkdir(to, 0o755)
		case t == fs.ModeSymlink:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case t == 0:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm()|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		default:
			return fmt.Errorf("%s is a %s: a step's output holds files, folders and symlinks only", p, t)
		}
	})
}

// normalizeOutput makes a fresh step output safe and canonical before it
// enters the cache (a step runs as root in its user namespace, which may be
// root on the host): regular files become 0644, or 0755 when executable;
// folders 0755; setuid, setgid and sticky bits go; a hardlinked file
// becomes a copy of its own (so the tree hashes the same after a copy);
// mtimes are 1 (1970-01-01T00:00:01Z). Symlinks stay as they are and are
// never followed. A fifo, socket or device is an error naming it.
func normalizeOutput(dir string) error {
	var folders []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch t := info.Mode().Type(); {
		case t == fs.ModeDir:
			folders = append(folders, p)
			return os.Chmod(p, 0o755) // before WalkDir reads it
		case t == fs.ModeSymlink:
			return nil
		case t == 0:
			mode := fs.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				if err := unlink(p, mode); err != nil {
					return err
				}
			} else if err := os.Chmod(p, mode); err != nil {
				return err
			}
			return os.Chtimes(p, outputTime, outputTime)
		default:
			rel, _ := filepath.Rel(dir, p)
			return fmt.Errorf("$out/%s is a %s: a step's output holds files, folders and symlinks only", filepath.ToSlash(rel), t)
		}
	})
	if err != nil {
		return err
	}
	for i := len(folders) - 1; i >= 0; i-- { // children first: their changes touch the parent
		if err := os.Chtimes(folders[i], outputTime, outputTime); err != nil {
			return err
		}
	}
	return nil
}

// outputTime is the mtime of every file and folder of a cached output.
var outputTime = time.Unix(1, 0)

// unlink replaces a hardlinked file by a copy of its own with mode.
func unlink(p string, mode fs.FileMode) error {
	tmp := p + ".strata-unlink"
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// FirstDifference names the first path (in byte order) where two output
// folders differ, and how.
func FirstDifference(ctx context.Context, a, b string) string {
	ea, err := entriesOf(ctx, a)
	if err != nil {
		return err.Error()
	}
	eb, err := entriesOf(ctx, b)
	if err != nil {
		return err.Error()
	}
	paths := map[string]bool{}
	for p := range ea {
		paths[p] = true
	}
	for p := range eb {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		x, okx := ea[p]
		y, oky := eb[p]
		name := "$out/" + strings.TrimPrefix(strings.TrimPrefix(p, "out"), "/")
		switch {
		case !okx:
			return name + " exists only in the new run"
		case !oky:
			return name + " exists only in the cached output"
		case x.Type != y.Type:
			return fmt.Sprintf("%s is a %s, then a %s", name, x.Type, y.Type)
		case x.Mode != y.Mode:
			return fmt.Sprintf("%s has mode %o, then %o", name, closure.UnixMode(x.Mode), closure.UnixMode(y.Mode))
		case x.Link != y.Link:
			return fmt.Sprintf("%s points to %q, then %q", name, x.Link, y.Link)
		case x.Size != y.Size:
			return fmt.Sprintf("%s has %d bytes, then %d", name, x.Size, y.Size)
		case x.Type == closure.Regular:
			if off, differ := contentDiffers(x, y); differ {
				return fmt.Sprintf("%s differs from byte %d", name, off)
			}
		}
	}
	return "the outputs hash differently but no file differs"
}

func entriesOf(ctx context.Context, dir string) (map[string]closure.Entry, error) {
	n, err := files.Node(ctx, dir, 0, spec.File{Src: ".", Dst: "/out"})
	if err != nil {
		return nil, err
	}
	es, err := n.Contents.Entries(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]closure.Entry, len(es))
	for _, e := range es {
		m[e.Path] = e
	}
	return m, nil
}

func contentDiffers(x, y closure.Entry) (int64, bool) {
	rx, err := x.Open()
	if err != nil {
		return 0, true
	}
	defer rx.Close()
	ry, err := y.Open()
	if err != nil {
		return 0, true
	}
	defer ry.Close()
	bx, _ := io.ReadAll(rx)
	by, _ := io.ReadAll(ry)
	for i := 0; i < len(bx) && i < len(by); i++ {
		if bx[i] != by[i] {
			return int64(i), true
		}
	}
	return int64(min(len(bx), len(by))), !bytes.Equal(bx, by)
}
