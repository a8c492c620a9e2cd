package imagefs

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Entry types as shown in reports.
const (
	TypeFile     = "file"
	TypeDir      = "dir"
	TypeSymlink  = "symlink"
	TypeHardlink = "hardlink"
	TypeWhiteout = "whiteout"
	TypeOpaque   = "opaque"
	TypeOther    = "other"
)

// Entry is one entry of a layer tar (or of a flattened filesystem).
type Entry struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// Mode is the permission bits plus setuid/setgid/sticky, in octal.
	Mode string `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Size int64  `json:"size"`
	Link string `json:"link,omitempty"`
	// SHA256 is the content digest of a regular file (when asked for).
	SHA256 string `json:"sha256,omitempty"`
}

// CleanName turns a tar name into a clean relative path; "" for the root.
func CleanName(n string) string {
	n = strings.TrimPrefix(n, "./")
	n = strings.TrimLeft(n, "/")
	n = path.Clean("/" + n)
	if n == "/" {
		return ""
	}
	return n[1:]
}

// Walk calls fn for every entry of a layer in tar order, with r reading a
// regular file's content (nil for other entries). Whiteouts come with the
// Path they delete and Type TypeWhiteout; an opaque marker with its
// folder's Path and Type TypeOpaque. The root entry is skipped.
func Walk(l v1.Layer, fn func(e Entry, r io.Reader) error) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("opening layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		p := CleanName(h.Name)
		if p == "" {
			continue
		}
		e := Entry{Path: p, Mode: fmt.Sprintf("%04o", h.Mode&0o7777), UID: h.Uid, GID: h.Gid}
		dir, base := path.Split(p)
		switch {
		case base == ".wh..wh..opq":
			e.Path, e.Type, e.Mode = strings.TrimSuffix(dir, "/"), TypeOpaque, ""
		case strings.HasPrefix(base, ".wh."):
			e.Path, e.Type, e.Mode = dir+strings.TrimPrefix(base, ".wh."), TypeWhiteout, ""
		default:
			switch h.Typeflag {
			case tar.TypeReg, tar.TypeRegA:
				e.Type, e.Size = TypeFile, h.Size
			case tar.TypeDir:
				e.Type = TypeDir
			case tar.TypeSymlink:
				e.Type, e.Link = TypeSymlink, h.Linkname
			case tar.TypeLink:
				e.Type, e.Link = TypeHardlink, CleanName(h.Linkname)
			default:
				e.Type = TypeOther
			}
		}
		var r io.Reader
		if e.Type == TypeFile {
			r = tr
		}
		if err := fn(e, r); err != nil {
			return err
		}
	}
}

// ReadLayer lists a layer's entries in tar order (see Walk); with withHash
// every regular file carries its content sha256.
func ReadLayer(l v1.Layer, withHash bool) ([]Entry, error) {
	var out []Entry
	err := Walk(l, func(e Entry, r io.Reader) error {
		if withHash && r != nil {
			sum := sha256.New()
			if _, err := io.Copy(sum, r); err != nil {
				return fmt.Errorf("reading %s: %w", e.Path, err)
			}
			e.SHA256 = hex.EncodeToString(sum.Sum(nil))
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Apply applies one layer's entries to fs: deletions first (they only
// affect lower layers), then additions.
func Apply(fs map[string]Entry, entries []Entry) {
	for _, e := range entries {
		switch e.Type {
		case TypeWhiteout:
			delete(fs, e.Path)
			deleteUnder(fs, e.Path)
		case TypeOpaque:
			deleteUnder(fs, e.Path)
		}
	}
	for _, e := range entries {
		if e.Type == TypeWhiteout || e.Type == TypeOpaque {
			continue
		}
		// A folder replaced by a non-folder loses its children.
		if old, ok := fs[e.Path]; ok && old.Type == TypeDir && e.Type != TypeDir {
			deleteUnder(fs, e.Path)
		}
		fs[e.Path] = e
	}
}

func deleteUnder[V any](fs map[string]V, dir string) {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	for p := range fs {
		if strings.HasPrefix(p, prefix) {
			delete(fs, p)
		}
	}
}

// FS is an image's final filesystem: what its layers leave once applied in
// order, whiteouts and opaque markers included.
type FS struct {
	// Entries are the final entries by clean relative path.
	Entries map[string]Entry
	layers  []v1.Layer
	from    map[string]int // path -> index of the layer its final entry comes from
}

// Flatten applies img's layers in order. With withHash every regular file
// carries its content sha256.
func Flatten(img v1.Image, withHash bool) (*FS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	fs := &FS{Entries: map[string]Entry{}, layers: layers, from: map[string]int{}}
	for i, l := range layers {
		entries, err := ReadLayer(l, withHash)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		Apply(fs.Entries, entries)
		for _, e := range entries {
			if e.Type == TypeWhiteout || e.Type == TypeOpaque {
				deleteUnder(fs.from, e.Path)
				if e.Type == TypeWhiteout {
					delete(fs.from, e.Path)
				}
			}
		}
		for _, e := range entries {
			if e.Type != TypeWhiteout && e.Type != TypeOpaque {
				fs.from[e.Path] = i
			}
		}
	}
	for p := range fs.from {
		if _, ok := fs.Entries[p]; !ok {
			delete(fs.from, p)
		}
	}
	return fs, nil
}

// Files calls fn with the final content of every regular file want
// selects, in layer and then tar order. A file that a later layer replaced
// or deleted is not visited; layers holding no selected file are not read.
func (fs *FS) Files(want func(p string) bool, fn func(p string, r io.Reader) error) error {
	need := map[int]bool{}
	for p, e := range fs.Entries {
		if e.Type == TypeFile && want(p) {
			need[fs.from[p]] = true
		}
	}
	for i, l := range fs.layers {
		if !need[i] {
			continue
		}
		err := Walk(l, func(e Entry, r io.Reader) error {
			if j, ok := fs.from[e.Path]; r == nil || !ok || j != i || !want(e.Path) {
				return nil
			}
			return fn(e.Path, r)
		})
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return nil
}

// ReadFiles returns the final content of every regular file want selects,
// each read up to limit bytes.
func (fs *FS) ReadFiles(want func(p string) bool, limit int64) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.Files(want, func(p string, r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, limit))
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		out[p] = b
		return nil
	})
	return out, err
}

// Paths returns the final paths in bytewise order.
func (fs *FS) Paths() []string {
	out := make([]string, 0, len(fs.Entries))
	for p := range fs.Entries {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
