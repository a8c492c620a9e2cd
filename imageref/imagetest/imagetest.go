package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Epoch is the fixed time used for every header and history entry.
var Epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// File is one tar entry. Type is tar.TypeReg when zero; a Whiteout deletes
// Path from lower layers (written as .wh.NAME).
type File struct {
	Path     string
	Type     byte
	Mode     int64
	Content  string
	Link     string
	Whiteout bool
}

// Dir, Reg and Symlink are shorthands for File.
func Dir(p string) File { return File{Path: p, Type: tar.TypeDir, Mode: 0o755} }
func Reg(p, content string) File {
	return File{Path: p, Type: tar.TypeReg, Mode: 0o644, Content: content}
}
func Exec(p, content string) File {
	return File{Path: p, Type: tar.TypeReg, Mode: 0o755, Content: content}
}
func Symlink(p, target string) File {
	return File{Path: p, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}
func Whiteout(p string) File { return File{Path: p, Whiteout: true} }
func Hardlink(p, target string) File {
	return File{Path: p, Type: tar.TypeLink, Mode: 0o644, Link: target}
}
func Opaque(dir string) File { return File{Path: dir + "/.wh..wh..opq", Type: tar.TypeReg} }

// Tar returns the uncompressed tar bytes of files, in the given order.
func Tar(files ...File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:     f.Path,
			Typeflag: f.Type,
			Mode:     f.Mode,
			ModTime:  Epoch,
			Format:   tar.FormatPAX,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if f.Whiteout {
			dir, base := "", f.Path
			for i := len(f.Path) - 1; i >= 0; i-- {
				if f.Path[i] == '/' {
					dir, base = f.Path[:i+1], f.Path[i+1:]
					break
				}
			}
			h.Name = dir + ".wh." + base
			h.Typeflag = tar.TypeReg
			h.Mode = 0o644
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if h.Name[len(h.Name)-1] != '/' {
				h.Name += "/"
			}
		case tar.TypeSymlink, tar.TypeLink:
			h.Linkname = f.Link
		case tar.TypeReg:
			h.Size = int64(len(f.Content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing header %s: %w", f.Path, err)
		}
		if h.Typeflag == tar.TypeReg && len(f.Content) > 0 {
			if _, err := io.WriteString(tw, f.Content); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Layer returns a gzip layer holding files.
func Layer(files ...File) (v1.Layer, error) {
	b, err := Tar(files...)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// LayerSpec is one layer of an Image with its history line.
type LayerSpec struct {
	CreatedBy string
	// Comment is the history comment; strata writes "strata".
	Comment string
	Files   []File
}

// ImageSpec describes a test image.
type ImageSpec struct {
	OS, Arch, Variant string
	Config            v1.Config
	Layers            []LayerSpec
}

// Image builds the image: a Docker schema 2 manifest, Epoch times.
func Image(s ImageSpec) (v1.Image, error) {
	img := empty.Image
	for i, ls := range s.Layers {
		l, err := Layer(ls.Files...)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   l,
			History: v1.History{CreatedBy: ls.CreatedBy, Comment: ls.Comment, Created: v1.Time{Time: Epoch}},
		})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = s.OS, s.Arch, s.Variant
	if cf.OS == "" {
		cf.OS, cf.Architecture = "linux", "amd64"
	}
	cf.Created = v1.Time{Time: Epoch}
	cf.Config = s.Config
	return mutate.ConfigFile(img, cf)
}
