package layer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratabuild/strata/closure"
)

// DirMode is the mode of a parent folder no entry describes.
const DirMode fs.FileMode = 0o755

// Normalize checks entries and returns them sorted bytewise by path with
// every missing parent folder added (mode DirMode, owner 0:0), each path
// once. Folders listed twice keep the first listing; the same file listed
// twice is kept once when both listings are identical and is an error
// otherwise. Hardlink groups are rewritten so that the bytewise-smallest
// path holds the content and the others link to it.
func Normalize(entries []closure.Entry) ([]closure.Entry, error) {
	byPath := make(map[string]closure.Entry, len(entries))
	var order []string
	for _, e := range entries {
		if err := checkPath(e.Path); err != nil {
			return nil, err
		}
		if prev, ok := byPath[e.Path]; ok {
			if prev.Type == closure.Dir && e.Type == closure.Dir {
				continue
			}
			if !sameEntry(prev, e) {
				return nil, fmt.Errorf("two different entries for /%s in one layer (%s and %s): give them different destinations", e.Path, prev.Type, e.Type)
			}
			continue
		}
		byPath[e.Path] = e
		order = append(order, e.Path)
	}
	// Parent folders: walk up from each entry until a folder that is
	// already known. An implicit folder's parents were added when it was;
	// an explicit one's when its own entry comes, so each folder is
	// visited once and the work is linear in the entries (a deep tree
	// once cost quadratic time here).
	for _, p := range order {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if pe, ok := byPath[d]; ok {
				if pe.Type != closure.Dir {
					return nil, fmt.Errorf("/%s is a %s but /%s needs it to be a folder", d, pe.Type, p)
				}
				break
			}
			byPath[d] = closure.Entry{Path: d, Type: closure.Dir, Mode: DirMode}
		}
	}
	if err := canonicalHardlinks(byPath); err != nil {
		return nil, err
	}
	out := make([]closure.Entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// MaxPathLen bounds an entry's path in bytes, as Linux's PATH_MAX does
// (4096 with the terminating NUL): a longer one could not be opened in a
// running container anyway, and hostile inputs use deep paths to make
// work grow.
const MaxPathLen = 4095

func checkPath(p string) error {
	if len(p) > MaxPathLen {
		return fmt.Errorf("entry path %.60q… is %d bytes long: at most %d (PATH_MAX) are allowed", p, len(p), MaxPathLen)
	}
	if p == "" || p == "." || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("entry path %q is not a clean path relative to the image root", p)
	}
	return nil
}

func sameEntry(a, b closure.Entry) bool {
	return a.Type == b.Type && a.Mode.Perm() == b.Mode.Perm() && a.UID == b.UID && a.GID == b.GID &&
		a.Size == b.Size && a.Link == b.Link && (a.Type != closure.Regular || sameContent(a, b))
}

func sameContent(a, b closure.Entry) bool {
	ha, errA := hashOf(a)
	hb, errB := hashOf(b)
	return errA == nil && errB == nil && ha == hb
}

func hashOf(e closure.Entry) (string, error) {
	if e.Open == nil {
		return "", fmt.Errorf("no content")
	}
	r, err := e.Open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalHardlinks makes the smallest path of each hardlink group the
// one that holds the content, so the tar never links forward.
func canonicalHardlinks(byPath map[string]closure.Entry) error {
	groups := map[string][]string{} // target -> links
	for p, e := range byPath {
		if e.Type != closure.Hardlink {
			continue
		}
		t, ok := byPath[e.Link]
		if !ok {
			return fmt.Errorf("hardlink /%s points to /%s, which is not in the same layer", p, e.Link)
		}
		if t.Type != closure.Regular {
			return fmt.Errorf("hardlink /%s points to /%s, which is a %s, not a file", p, e.Link, t.Type)
		}
		groups[e.Link] = append(groups[e.Link], p)
	}
	for target, links := range groups {
		all := append([]string{target}, links...)
		sort.Strings(all)
		primary := byPath[target]
		primary.Path = all[0]
		byPath[all[0]] = primary
		for _, p := range all[1:] {
			byPath[p] = closure.Entry{Path: p, Type: closure.Hardlink, Link: all[0], Mode: primary.Mode, UID: primary.UID, GID: primary.GID}
		}
	}
	return nil
}

// WriteTar writes normalized entries (see Normalize) as a tar stream with
// every timestamp set to mtime. It returns the number of entries written.
func WriteTar(ctx context.Context, w io.Writer, entries []closure.Entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:    e.Path,
			Mode:    int64(closure.UnixMode(e.Mode)),
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
		}
		switch e.Type {
		case closure.Dir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case closure.Regular:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = e.Size
		case closure.Symlink:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = e.Link
		case closure.Hardlink:
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = e.Link
		default:
			return fmt.Errorf("/%s: unsupported entry type %d", e.Path, e.Type)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing tar header for /%s: %w", e.Path, err)
		}
		if e.Type == closure.Regular {
			if err := copyContent(tw, e); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// copyBufs recycles copyContent's 128 KiB buffers: one allocated per file
// made a layer of small files mostly garbage collection.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

func copyContent(w io.Writer, e closure.Entry) error {
	if e.Open == nil {
		return fmt.Errorf("/%s: no content", e.Path)
	}
	r, err := e.Open()
	if err != nil {
		return fmt.Errorf("reading /%s: %w", e.Path, err)
	}
	defer r.Close()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	n, err := io.CopyBuffer(w, io.LimitReader(r, e.Size), *bp)
	if err != nil {
		return fmt.Errorf("reading /%s: %w", e.Path, err)
	}
	if n != e.Size {
		return fmt.Errorf("reading /%s: got %d bytes, expected %d (did the file change during the build?)", e.Path, n, e.Size)
	}
	return nil
}
