package debfile

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
)

// Fuzz targets for what a .deb holds: the ar container, the control
// paragraph and the tarballs Unpack extracts. Run one with `go test -run
// NONE -fuzz FuzzExtract ./closure/deb/debfile`, all with scripts/fuzz.sh.

// fuzzDebs are seed .debs: ordinary ones, every compression strata reads
// (bz2 needs a program, so it is left out), and hostile ones.
func fuzzDebs(f *testing.F) [][]byte {
	files := []debtest.File{
		{Name: "./", Type: tar.TypeDir},
		{Name: "./usr/", Type: tar.TypeDir},
		{Name: "./usr/bin/", Type: tar.TypeDir},
		{Name: "./usr/bin/hello", Mode: 0o755, Body: "#!/bin/sh\necho hello\n"},
		{Name: "./usr/bin/hi", Type: tar.TypeSymlink, Link: "hello"},
		{Name: "./usr/bin/hey", Type: tar.TypeLink, Link: "./usr/bin/hello"},
		{Name: "./bin/sh", Body: "merged"},
	}
	var out [][]byte
	add := func(d debtest.Deb) {
		b, err := debtest.Bytes(d)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	add(debtest.Deb{Files: files, Comp: "none", ControlComp: "none"})
	for _, c := range []string{"gz", "xz", "zst", "lzma"} {
		add(debtest.Deb{Files: files, Comp: c})
	}
	add(debtest.Deb{Files: files, Comp: "none", ControlComp: "none", Scripts: map[string]string{"postinst": "#!/bin/sh\n"}, MD5Sums: "d41d8cd98f00b204e9800998ecf8427e  usr/bin/hello\n"})
	for _, hostile := range [][]debtest.File{
		{{Name: "../escape", Body: "x"}},
		{{Name: "/etc/passwd", Body: "x"}},
		{{Name: "./link", Type: tar.TypeSymlink, Link: "/etc"}, {Name: "./link/passwd", Body: "x"}},
		{{Name: "./up", Type: tar.TypeSymlink, Link: ".."}, {Name: "./up/escape", Body: "x"}},
		{{Name: "./hard", Type: tar.TypeLink, Link: "/etc/passwd"}},
		{{Name: "./hard", Type: tar.TypeLink, Link: "../../outside"}},
		{{Name: "./dev", Type: tar.TypeChar}},
		{{Name: "./a", Body: "1"}, {Name: "./a", Body: "2"}},
		{{Name: strings.Repeat("d/", 200) + "f", Body: "deep"}},
	} {
		add(debtest.Deb{Files: hostile, Comp: "none", ControlComp: "none"})
	}
	add(debtest.Deb{Files: []debtest.File{{Name: "./big", Size: 8 << 20}}, Comp: "gz"}) // a bomb
	return out
}

// The ar reader never panics, hands out exactly each member's declared
// bytes, never claims more bytes than the input holds, and what it reads
// writes back (debtest.Ar) and reads again to the same members.
func FuzzArReader(f *testing.F) {
	for _, b := range fuzzDebs(f)[:3] {
		f.Add(b)
	}
	f.Add(debtest.Ar([]debtest.Member{{Name: "a/", Data: []byte("odd")}, {Name: "b", Data: nil}}))
	f.Add([]byte(arMagic + "debian-binary   0           0     0     100644  -4        `\n"))
	f.Add([]byte(arMagic + "x               0           0     0     100644  99999999999999`\n"))
	f.Add([]byte("!<arch>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, ok := readAr(t, b)
		if !ok {
			return
		}
		again, ok := readAr(t, debtest.Ar(ms))
		if !ok {
			t.Fatalf("members %v did not read back", names(ms))
		}
		if len(again) != len(ms) {
			t.Fatalf("%d members, then %d after a round trip", len(ms), len(again))
		}
		for i := range ms {
			if again[i].Name != ms[i].Name || !bytes.Equal(again[i].Data, ms[i].Data) {
				t.Fatalf("member %d: %q (%d bytes), then %q (%d bytes)", i, ms[i].Name, len(ms[i].Data), again[i].Name, len(again[i].Data))
			}
		}
	})
}

// readAr reads every member of b; ok is false when b is not a complete ar
// archive (or has a name debtest.Ar cannot write back).
func readAr(t *testing.T, b []byte) ([]debtest.Member, bool) {
	ar, err := newArReader(bytes.NewReader(b))
	if err != nil {
		if bytes.HasPrefix(b, []byte(arMagic)) {
			t.Fatalf("the ar magic was refused: %v", err)
		}
		return nil, false
	}
	var ms []debtest.Member
	claimed := int64(len(arMagic))
	for i := 0; ; i++ {
		m, r, err := ar.Next()
		if err == io.EOF {
			return ms, true
		}
		if err != nil {
			return nil, false
		}
		claimed += 60 + m.Size
		if m.Size < 0 || claimed > int64(len(b))+1 {
			// the last member may lack its pad byte only
			data, err := io.ReadAll(r)
			if err == nil {
				t.Fatalf("member %q claims %d bytes and read %d without an error from a %d-byte input", m.Name, m.Size, len(data), len(b))
			}
			return nil, false
		}
		if i%3 == 2 {
			continue // skipped unread: Next must skip it
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, false
		}
		if int64(len(data)) != m.Size {
			t.Fatalf("member %q declares %d bytes, read %d", m.Name, m.Size, len(data))
		}
		if strings.TrimRight(m.Name, " ") != m.Name || strings.Contains(m.Name, "/") {
			return nil, false // "a /" reads as "a ", "a//" as "a/": not written back as read
		}
		ms = append(ms, debtest.Member{Name: m.Name, Data: data})
	}
}

func names(ms []debtest.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// parseControl never panics; what it accepts names a valid package and
// has a version and an architecture.
func FuzzParseControl(f *testing.F) {
	f.Add(debtest.DefaultControl)
	f.Add("Package: a\nVersion: 1\nArchitecture: all\nDepends: b,\n c\n")
	f.Add("Package: A_B\nVersion: 1\nArchitecture: all\n")
	f.Add("Package: a\nPackage: b\nVersion: 1\nArchitecture: all\n")
	f.Add(" x\n")
	f.Fuzz(func(t *testing.T, text string) {
		fields, err := parseControl(text)
		if err != nil {
			return
		}
		if !ValidName(fields["Package"]) || fields["Version"] == "" || fields["Architecture"] == "" {
			t.Fatalf("accepted %q", fields)
		}
	})
}

// fuzzLimits are small extraction limits, so one input costs little:
// the same checks as the constants, at a few MiB.
var fuzzLimits = Limits{HardCap: 4 << 20, Slack: 1 << 20, ControlBytes: 1 << 20, Entries: 2000, ControlEntries: 100}

// maxFuzzAlloc bounds what one extraction under fuzzLimits may allocate:
// decoder windows (MaxLZMADict, zstd's 128 MiB), the 1 MiB read buffer and
// what the limits let through.
const maxFuzzAlloc = 512 << 20

// Extracting any bytes as a .deb never panics, takes bounded time, writes
// nothing outside its folder (no file, no hard link to a file elsewhere),
// creates no device node, fifo or socket, and on success leaves an entry
// that loads and whose every listed file is there with its size.
func FuzzExtract(f *testing.F) {
	for _, b := range fuzzDebs(f) {
		f.Add(b)
	}
	restore := SetLimits(fuzzLimits)
	f.Cleanup(restore)
	f.Fuzz(func(t *testing.T, b []byte) {
		base := t.TempDir()
		outside := filepath.Join(base, "outside")
		if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		work := filepath.Join(base, "work")
		if err := os.Mkdir(work, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		sha := hex.EncodeToString(sum[:])
		ctx, cancel := context.WithTimeout(WithXZ(context.Background(), XZGo), time.Minute)
		defer cancel()
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := extract(ctx, open, "fuzz.deb", sha, work)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("extracting %d bytes took %v", len(b), d)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxFuzzAlloc {
			t.Errorf("extracting %d bytes allocated %d MiB", len(b), n>>20)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("extracting %d bytes did not finish within a minute", len(b))
		}
		checkContained(t, base, work, outside)
		if err != nil {
			return
		}
		p, err := load(work, sha)
		if err != nil {
			t.Fatalf("extract succeeded but the entry does not load: %v", err)
		}
		root, err := os.OpenRoot(p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		for _, e := range p.Entries {
			fi, err := root.Lstat(filepath.FromSlash(e.Path))
			if err != nil {
				t.Fatalf("listed %s: %v", e.Path, err)
			}
			switch e.Type {
			case closure.Regular:
				if !fi.Mode().IsRegular() || fi.Size() != e.Size {
					t.Fatalf("listed file %s (%d bytes) is %v, %d bytes", e.Path, e.Size, fi.Mode(), fi.Size())
				}
			case closure.Dir:
				if !fi.IsDir() {
					t.Fatalf("listed folder %s is %v", e.Path, fi.Mode())
				}
			case closure.Symlink:
				if fi.Mode()&fs.ModeSymlink == 0 {
					t.Fatalf("listed symlink %s is %v", e.Path, fi.Mode())
				}
			}
		}
	})
}

// checkContained fails unless base holds just outside (unchanged) and
// work, and every hard-linked file under work has all its links there.
func checkContained(t *testing.T, base, work, outside string) {
	t.Helper()
	if b, err := os.ReadFile(outside); err != nil || string(b) != "outside" {
		t.Fatalf("the file beside the work folder changed: %q, %v", b, err)
	}
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		t.Fatalf("the unpack wrote beside its folder: %v", got)
	}
	links := map[uint64]uint64{} // inode -> links seen under work
	nlink := map[uint64]uint64{}
	err = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch m := fi.Mode(); {
		case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			t.Fatalf("%s is %v", p, m)
		case m.IsRegular():
			st := fi.Sys().(*syscall.Stat_t)
			links[st.Ino]++
			nlink[st.Ino] = uint64(st.Nlink)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for ino, n := range nlink {
		if links[ino] != n {
			t.Fatalf("inode %d has %d links, %d of them under the work folder: a hard link leaves it", ino, n, links[ino])
		}
	}
}
