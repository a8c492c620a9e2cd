package debfile_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/internal/testutil"
)

// aptDownload fetches real .debs of the host's suite into a temp folder.
func aptDownload(t *testing.T, names ...string) []string {
	t.Helper()
	testutil.RequireTool(t, "apt-get")
	dir := t.TempDir()
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", append([]string{"download", "-q"}, names...)...)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil && os.Geteuid() == 0 {
		if upd, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			t.Fatalf("apt-get update: %v\n%s", uerr, upd)
		}
		out, err = download()
	}
	if err != nil {
		t.Fatalf("apt-get download %v: %v\n%s", names, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != len(names) {
		t.Fatalf("apt-get download %v left %v", names, debs)
	}
	return debs
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tree maps every path under dir to its type, mode and bytes.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		switch {
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			v += " " + hex.EncodeToString(s[:])
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			v += " -> " + l
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestXZDecodersAgree unpacks real .debs (data.tar.xz, as Debian builds
// them) with the system's xz and with the pure-Go decoder: the cache
// entries (manifest with every file's sha256, control files, the files
// themselves) must be identical.
func TestXZDecodersAgree(t *testing.T) {
	testutil.RequireTool(t, "xz")
	debs := aptDownload(t, "hello", "bash", "libzstd1")
	for _, deb := range debs {
		t.Run(filepath.Base(deb), func(t *testing.T) {
			sum := fileSHA(t, deb)
			trees := map[debfile.XZDecoder]map[string]string{}
			for _, d := range []debfile.XZDecoder{debfile.XZSystem, debfile.XZGo} {
				st := openStore(t)
				p, err := debfile.Unpack(debfile.WithXZ(context.Background(), d), st, deb, sum)
				if err != nil {
					t.Fatalf("%s decoder: %v", d, err)
				}
				if len(p.Entries) < 3 {
					t.Fatalf("%s decoder: %d entries", d, len(p.Entries))
				}
				trees[d] = tree(t, filepath.Dir(p.Dir))
			}
			sys, gor := trees[debfile.XZSystem], trees[debfile.XZGo]
			if len(sys) != len(gor) {
				t.Errorf("system xz unpacked %d paths, pure Go %d", len(sys), len(gor))
			}
			for p, v := range gor {
				if sys[p] != v {
					t.Errorf("%s: system xz %q, pure Go %q", p, sys[p], v)
				}
			}
			if sys["manifest.json"] == "" {
				t.Error("no manifest.json compared")
			}
		})
	}
}

// corruptXZDeb is a .deb whose data.tar.xz has one byte flipped in the
// middle of its compressed stream.
func corruptXZDeb(t *testing.T) (string, string) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, 256<<10)
	for i := range body {
		body[i] = byte('a' + rnd.IntN(26))
	}
	d := debtest.Deb{Control: strings.Replace(debtest.DefaultControl, "Installed-Size: 10", "Installed-Size: 300", 1),
		Files: []debtest.File{{Name: "./"}, {Name: "./data", Mode: 0o644, Body: string(body)}}}
	b, err := debtest.Bytes(d)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("data.tar.xz"))
	if i < 0 {
		t.Fatal("no data.tar.xz member")
	}
	b[i+60+(len(b)-i-60)/2] ^= 0x55
	return writeDeb(t, "corrupt.deb", b)
}

// writeDeb writes b as a .deb named name and returns its path and sha256.
func writeDeb(t *testing.T, name string, b []byte) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return p, hex.EncodeToString(s[:])
}

func TestSystemXZReportsCorruptStream(t *testing.T) {
	testutil.RequireTool(t, "xz")
	deb, sum := corruptXZDeb(t)
	for _, d := range []debfile.XZDecoder{debfile.XZSystem, debfile.XZGo} {
		st := openStore(t)
		_, err := debfile.Unpack(debfile.WithXZ(context.Background(), d), st, deb, sum)
		if err == nil {
			t.Fatalf("%s decoder accepted a corrupt xz stream", d)
		}
		t.Logf("%s: %v", d, err)
		if d == debfile.XZSystem && (!strings.Contains(err.Error(), "data.tar.xz") || !strings.Contains(err.Error(), "xz") || !strings.Contains(err.Error(), "corrupt")) {
			t.Errorf("the system xz's error does not name the member and what xz said: %v", err)
		}
		assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))
	}
}

func TestSystemXZMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	deb, sum := debtest.Build(t, t.TempDir(), "x.deb", sample())
	_, err := debfile.Unpack(debfile.WithXZ(context.Background(), debfile.XZSystem), openStore(t), deb, sum)
	if err == nil || !strings.Contains(err.Error(), "STRATA_XZ=go") {
		t.Fatalf("XZSystem without xz on PATH: %v", err)
	}
	// auto falls back to pure Go.
	p, err := debfile.Unpack(context.Background(), openStore(t), deb, sum)
	if err != nil {
		t.Fatalf("XZAuto without xz on PATH: %v", err)
	}
	checkSample(t, p, sum)
}

func TestParseXZDecoder(t *testing.T) {
	for in, want := range map[string]debfile.XZDecoder{"": debfile.XZAuto, "auto": debfile.XZAuto, "system": debfile.XZSystem, " go ": debfile.XZGo} {
		if got, err := debfile.ParseXZDecoder(in); err != nil || got != want {
			t.Errorf("ParseXZDecoder(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := debfile.ParseXZDecoder("liblzma"); err == nil || !strings.Contains(err.Error(), "STRATA_XZ") {
		t.Errorf("ParseXZDecoder(liblzma): %v", err)
	}
}

// hugeDictXZDeb is a .deb whose data.tar.xz block header asks for a 256
// MiB LZMA2 dictionary (header CRC fixed, so only the size is wrong).
func hugeDictXZDeb(t *testing.T) (string, string) {
	t.Helper()
	b, err := debtest.Bytes(sample())
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("data.tar.xz"))
	if i < 0 {
		t.Fatal("no data.tar.xz member")
	}
	blk := b[i+60+12:] // the ar header, then the xz stream header
	size := (int(blk[0]) + 1) * 4
	if flags, id, psize := blk[1], blk[2], blk[3]; flags != 0 || id != 0x21 || psize != 1 {
		t.Fatalf("unexpected first block header % x", blk[:size])
	}
	blk[4] = 32 // (2|0) << (32/2 + 11) = 256 MiB
	binary.LittleEndian.PutUint32(blk[size-4:], crc32.ChecksumIEEE(blk[:size-4]))
	return writeDeb(t, "huge-dict.deb", b)
}

// Both xz decoders refuse a dictionary over MaxLZMADict before allocating
// it, and nothing is cached.
func TestXZDictionaryCapped(t *testing.T) {
	testutil.RequireTool(t, "xz")
	deb, sum := hugeDictXZDeb(t)
	for _, d := range []debfile.XZDecoder{debfile.XZSystem, debfile.XZGo} {
		st := openStore(t)
		_, err := debfile.Unpack(debfile.WithXZ(context.Background(), d), st, deb, sum)
		if err == nil || !strings.Contains(err.Error(), "MaxLZMADict") || !strings.Contains(err.Error(), "256 MiB") {
			t.Fatalf("%s decoder: %v, want a refusal naming the 256 MiB dictionary and MaxLZMADict", d, err)
		}
		assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))
	}
	// The same .deb with its own 8 MiB dictionary unpacks.
	ok, okSum := debtest.Build(t, t.TempDir(), "ok.deb", sample())
	p, err := debfile.Unpack(debfile.WithXZ(context.Background(), debfile.XZGo), openStore(t), ok, okSum)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, p, okSum)
}
