package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/stratabuild/strata/cache"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
)

// Source turns a spec's files entries into nodes "files:000", "files:001", …
// An entry with `build: STEP` copies from that build step's output, and
// (unless the step says runtime: none) brings the Debian packages its ELF
// files need from the step's build closure.
type Source struct {
	files     []spec.File
	dir       string
	hasDebian bool
}

// New returns the source for s's files entries.
func New(s *spec.Spec) *Source {
	return &Source{files: s.Files, dir: s.Dir, hasDebian: s.Debian != nil}
}

// StepSourceName is the source name of build step name (package step's
// SourceName; repeated here so that files does not import step).
func StepSourceName(name string) string { return "build/" + name }

var (
	_ closure.Needer = (*Source)(nil)
	_ closure.Locker = (*Source)(nil)
)

// Needs implements closure.Needer: the build steps whose outputs entries copy.
func (s *Source) Needs() []string {
	var out []string
	for _, f := range s.files {
		if f.Build != "" && !slices.Contains(out, StepSourceName(f.Build)) {
			out = append(out, StepSourceName(f.Build))
		}
	}
	return out
}

// Lock implements closure.Locker: files are pinned by content; nothing to
// lock (and no build step output to read).
func (s *Source) Lock(context.Context, closure.Request) (json.RawMessage, error) { return nil, nil }

// Factory returns the files source of a spec (every spec has one; it
// resolves to an empty graph without files entries).
func Factory(s *spec.Spec, _ cache.Cache) []closure.Source { return []closure.Source{New(s)} }

// Name implements closure.Source.
func (s *Source) Name() string { return "files" }

// Resolve implements closure.Source. Files are pinned by content, so the
// source records no lock section.
func (s *Source) Resolve(ctx context.Context, req closure.Request) (*closure.Result, error) {
	g := closure.New()
	runtime := false
	for i, f := range s.files {
		if f.Build != "" {
			added, err := s.stepEntry(ctx, req, g, i, f)
			if err != nil {
				return nil, err
			}
			runtime = runtime || added
			continue
		}
		n, err := Node(ctx, s.dir, i, f)
		if err != nil {
			return nil, err
		}
		if err := g.Add(n); err != nil {
			return nil, err
		}
		g.Roots = append(g.Roots, n.ID)
	}
	if runtime && !s.hasDebian {
		if err := g.Add(usrMergeNode(req.Platform.Arch)); err != nil {
			return nil, err
		}
	}
	return &closure.Result{Graph: g}, nil
}

// Node reads one files entry (index i of the spec) into a node. The walk
// happens here, once: the node's Key is the hash of every entry's metadata
// and content, so a cached layer is reused exactly when nothing changed.
func Node(ctx context.Context, specDir string, i int, f spec.File) (*closure.Node, error) {
	src := filepath.Join(specDir, filepath.FromSlash(f.Src))
	if err := Inside(specDir, f.Src, false); err != nil {
		return nil, fmt.Errorf("files[%d]: %w", i, err)
	}
	dst := strings.TrimPrefix(path.Clean(f.Dst), "/")
	var mode fs.FileMode
	if f.Mode != "" {
		m, err := strconv.ParseUint(f.Mode, 8, 32)
		if err != nil {
			return nil, fmt.Errorf("files[%d]: mode %q is not octal", i, f.Mode)
		}
		mode = closure.ModeFromUnix(uint32(m))
	}
	uid, gid := 0, 0
	if f.UID != nil {
		uid = *f.UID
	}
	if f.GID != nil {
		gid = *f.GID
	}
	w := walker{src: src, dst: dst, mode: mode, uid: uid, gid: gid, inodes: map[inode]string{}}
	if err := w.walk(ctx); err != nil {
		return nil, fmt.Errorf("files[%d] (%s): %w", i, f.Src, err)
	}
	sort.Slice(w.entries, func(a, b int) bool { return w.entries[a].Path < w.entries[b].Path })
	h := sha256.New()
	fmt.Fprintf(h, "files-v1\x00")
	var size int64
	for k, e := range w.entries {
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%d:%d\x00%d\x00%s\x00%s\n", e.Path, e.Type, e.Mode, e.UID, e.GID, e.Size, e.Link, w.sums[k])
		size += e.Size
	}
	id := fmt.Sprintf("files:%03d", i)
	return &closure.Node{
		ID:       id,
		Kind:     closure.KindFiles,
		Name:     "/" + dst,
		Size:     size,
		Meta:     map[string]string{"src": f.Src, "dst": f.Dst},
		Contents: closure.StaticContents{ID: "files:" + hex.EncodeToString(h.Sum(nil)), List: w.entries},
	}, nil
}

// Inside checks that rel, a path relative to dir, stays inside dir when
// its folders' symlinks are followed, so that no host file outside dir is
// read through a symlinked folder in the middle of a path (`ln -s /etc
// etc` with `src: etc/shadow`). The last element may itself be a symlink
// (it is copied as a link) unless followLast, as for a folder that is
// bind-mounted into a build step's sandbox.
func Inside(dir, rel string, followLast bool) error {
	if path.Clean(filepath.ToSlash(rel)) == "." {
		return nil // dir itself
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", dir, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	check := filepath.Dir(p)
	if followLast {
		check = p
	}
	real, err := filepath.EvalSymlinks(check)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // the walk reports the missing path with its own message
		}
		return fmt.Errorf("resolving %s: %w", p, err)
	}
	if r, err := filepath.Rel(root, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%q passes through a symlink that leaves %s (it leads to %s): strata reads only what is inside that folder; copy the file in, or name a path that stays inside", rel, dir, real)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

type walker struct {
	src, dst string
	mode     fs.FileMode
	uid, gid int
	entries  []closure.Entry
	sums     []string
	inodes   map[inode]string
}

func (w *walker) add(e closure.Entry, sum string) {
	w.entries = append(w.entries, e)
	w.sums = append(w.sums, sum)
}

func (w *walker) walk(ctx context.Context) error {
	return filepath.WalkDir(w.src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return fmt.Errorf("%s does not exist: fix `src` or create it", p)
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(w.src, p)
		if err != nil {
			return err
		}
		target := w.dst
		if rel != "." {
			target = path.Join(w.dst, filepath.ToSlash(rel))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := closure.Entry{Path: target, UID: w.uid, GID: w.gid}
		switch t := info.Mode().Type(); {
		case t == 0:
			return w.file(p, e, info)
		case t == fs.ModeDir:
			e.Type, e.Mode = closure.Dir, 0o755
			w.add(e, "")
		case t == fs.ModeSymlink:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.Type, e.Mode, e.Link = closure.Symlink, 0o777, link
			w.add(e, "")
		default:
			return fmt.Errorf("%s is a %s: only files, folders and symlinks can go into an image", p, t.String())
		}
		return nil
	})
}

func (w *walker) file(p string, e closure.Entry, info fs.FileInfo) error {
	e.Type, e.Size = closure.Regular, info.Size()
	switch {
	case w.mode != 0:
		e.Mode = w.mode
	case info.Mode()&0o111 != 0:
		e.Mode = 0o755
	default:
		e.Mode = 0o644
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		k := inode{uint64(st.Dev), uint64(st.Ino)}
		if first, seen := w.inodes[k]; seen {
			e.Type, e.Size, e.Link = closure.Hardlink, 0, first
			w.add(e, "")
			return nil
		}
		w.inodes[k] = e.Path
	}
	sum, err := fileSHA256(p)
	if err != nil {
		return err
	}
	e.Open = func() (io.ReadCloser, error) { return os.Open(p) }
	w.add(e, sum)
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
