package inspect

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

// FileEntry is one entry of a layer tar (or of a merged filesystem).
type FileEntry struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// Mode is the permission bits plus setuid/setgid/sticky, in octal.
	Mode string `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Size int64  `json:"size"`
	Link string `json:"link,omitempty"`
	// SHA256 is the content digest of a regular file (diff only).
	SHA256 string `json:"sha256,omitempty"`
}

// cleanName turns a tar name into a clean relative path; "" for the root.
func cleanName(n string) string {
	n = strings.TrimPrefix(n, "./")
	n = strings.TrimLeft(n, "/")
	n = path.Clean("/" + n)
	if n == "/" {
		return ""
	}
	return n[1:]
}

// readLayer lists a layer's tar entries in tar order. Whiteouts are
// reported with the Path they delete and Type TypeWhiteout; an opaque
// marker with its folder's Path and Type TypeOpaque.
func readLayer(l v1.Layer, withHash bool) ([]FileEntry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("opening layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []FileEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer tar: %w", err)
		}
		p := cleanName(h.Name)
		if p == "" {
			continue
		}
		e := FileEntry{
			Path: p,
			Mode: fmt.Sprintf("%04o", h.Mode&0o7777),
			UID:  h.Uid,
			GID:  h.Gid,
		}
		dir, base := path.Split(p)
		switch {
		case base == ".wh..wh..opq":
			e.Path, e.Type, e.Mode = strings.TrimSuffix(dir, "/"), TypeOpaque, ""
			out = append(out, e)
			continue
		case strings.HasPrefix(base, ".wh."):
			e.Path, e.Type, e.Mode = dir+strings.TrimPrefix(base, ".wh."), TypeWhiteout, ""
			out = append(out, e)
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.Type = TypeFile
			e.Size = h.Size
			if withHash {
				sum := sha256.New()
				if _, err := io.Copy(sum, tr); err != nil {
					return nil, fmt.Errorf("reading %s: %w", p, err)
				}
				e.SHA256 = hex.EncodeToString(sum.Sum(nil))
			}
		case tar.TypeDir:
			e.Type = TypeDir
		case tar.TypeSymlink:
			e.Type = TypeSymlink
			e.Link = h.Linkname
		case tar.TypeLink:
			e.Type = TypeHardlink
			e.Link = cleanName(h.Linkname)
		default:
			e.Type = TypeOther
		}
		out = append(out, e)
	}
	return out, nil
}

// WalkLayerFiles walks a layer's regular files in tar order, calling fn
// with each wanted file's clean path and content (want decides by path,
// before anything is read).
func WalkLayerFiles(l v1.Layer, want func(p string) bool, fn func(p string, r io.Reader) error) error {
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
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			continue
		}
		p := cleanName(h.Name)
		if p == "" || !want(p) {
			continue
		}
		if err := fn(p, tr); err != nil {
			return err
		}
	}
}

// Merge applies the layers in order (whiteouts and opaque markers
// included) and returns the final filesystem by path. With withHash every
// regular file carries its content sha256.
func Merge(img v1.Image, withHash bool) (map[string]FileEntry, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	fs := map[string]FileEntry{}
	for i, l := range layers {
		entries, err := readLayer(l, withHash)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		applyLayer(fs, entries)
	}
	return fs, nil
}

// applyLayer applies one layer's entries to fs: deletions first (they only
// affect lower layers), then additions.
func applyLayer(fs map[string]FileEntry, entries []FileEntry) {
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

func deleteUnder(fs map[string]FileEntry, dir string) {
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

func sortedPaths[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
