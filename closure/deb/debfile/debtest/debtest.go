package debtest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// File is one data tarball entry. Type is a tar type flag (default
// tar.TypeReg; a Name ending in "/" defaults to tar.TypeDir). Size, when
// set, overrides len(Body) for regular files (Body is then repeated zero
// bytes, streamed).
type File struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Body     string
	Size     int64
	Link     string
}

// Deb describes a .deb. Control is the control file (a default paragraph
// for package "test" when empty); Comp and ControlComp name a compression
// Compress knows (default "xz" and "gz"; "none" for an uncompressed
// tarball).
type Deb struct {
	Control     string
	MD5Sums     string
	Scripts     map[string]string // maintainer scripts by name
	Files       []File
	Comp        string
	ControlComp string
}

// DefaultControl is the control file used when Deb.Control is empty.
const DefaultControl = "Package: test\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Tester <t@example.invalid>\nInstalled-Size: 10\nDescription: a test package\n multi-line\n .\n description\n"

// Build writes the .deb as dir/name and returns its path and hex sha256.
func Build(t testing.TB, dir, name string, d Deb) (string, string) {
	t.Helper()
	b, err := Bytes(d)
	if err != nil {
		t.Fatalf("building %s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// Bytes returns the .deb's bytes.
func Bytes(d Deb) ([]byte, error) {
	ctl := d.Control
	if ctl == "" {
		ctl = DefaultControl
	}
	ctlFiles := []File{{Name: "./", Type: tar.TypeDir, Mode: 0o755}, {Name: "./control", Mode: 0o644, Body: ctl}}
	if d.MD5Sums != "" {
		ctlFiles = append(ctlFiles, File{Name: "./md5sums", Mode: 0o644, Body: d.MD5Sums})
	}
	for _, n := range slices.Sorted(maps.Keys(d.Scripts)) {
		ctlFiles = append(ctlFiles, File{Name: "./" + n, Mode: 0o755, Body: d.Scripts[n]})
	}
	ctlComp := d.ControlComp
	if ctlComp == "" {
		ctlComp = "gz"
	}
	dataComp := d.Comp
	if dataComp == "" {
		dataComp = "xz"
	}
	ctlTar, err := Tar(ctlFiles)
	if err != nil {
		return nil, err
	}
	dataTar, err := Tar(d.Files)
	if err != nil {
		return nil, err
	}
	ctlZ, ctlExt, err := Compress(ctlComp, ctlTar)
	if err != nil {
		return nil, err
	}
	dataZ, dataExt, err := Compress(dataComp, dataTar)
	if err != nil {
		return nil, err
	}
	return Ar([]Member{
		{Name: "debian-binary", Data: []byte("2.0\n")},
		{Name: "control.tar" + ctlExt, Data: ctlZ},
		{Name: "data.tar" + dataExt, Data: dataZ},
	}), nil
}

// Member is one ar member.
type Member struct {
	Name string
	Data []byte
}

// Ar returns an ar archive of the members.
func Ar(ms []Member) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range ms {
		// fmt pads to a width in runes; an ar name field is 16 bytes
		b.WriteString(m.Name)
		for i := len(m.Name); i < 16; i++ {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%-12d%-6d%-6d%-8s%-10d`\n", 0, 0, 0, "100644", len(m.Data))
		b.Write(m.Data)
		if len(m.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Tar returns a tarball of the files.
func Tar(files []File) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
			if len(f.Name) > 0 && f.Name[len(f.Name)-1] == '/' {
				typ = tar.TypeDir
			}
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: f.Name, Typeflag: typ, Mode: mode, Uid: f.UID, Gid: f.GID, Linkname: f.Link, Format: tar.FormatGNU}
		var body io.Reader
		if typ == tar.TypeReg {
			h.Size = int64(len(f.Body))
			body = bytes.NewReader([]byte(f.Body))
			if f.Size > 0 {
				h.Size = f.Size
				body = io.LimitReader(zeros{}, f.Size)
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", f.Name, err)
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Compress compresses b with kind ("none", "gz", "xz", "lzma", "zst", or
// "bz2", which runs the bzip2 program) and returns the bytes and the member
// name suffix ("", ".gz", ...).
func Compress(kind string, b []byte) ([]byte, string, error) {
	var out bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "none":
		return b, "", nil
	case "gz":
		w = gzip.NewWriter(&out)
	case "xz":
		w, err = xz.NewWriter(&out)
	case "lzma":
		w, err = lzma.NewWriter(&out)
	case "bz2":
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(b)
		z, err := cmd.Output()
		if err != nil {
			return nil, "", fmt.Errorf("running bzip2: %w", err)
		}
		return z, ".bz2", nil
	case "zst":
		w, err = zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	default:
		return nil, "", fmt.Errorf("unknown compression %q", kind)
	}
	if err != nil {
		return nil, "", err
	}
	if _, err := w.Write(b); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), "." + kind, nil
}
