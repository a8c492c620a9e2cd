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
