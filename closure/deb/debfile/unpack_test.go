package debfile_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readEntry(t *testing.T, e closure.Entry) string {
	t.Helper()
	rc, err := e.Open()
	if err != nil {
		t.Fatalf("opening %s: %v", e.Path, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sample is a package exercising every entry kind and the merged-/usr rewrite.
func sample() debtest.Deb {
	return debtest.Deb{
		MD5Sums: "d41d8cd98f00b204e9800998ecf8427e  bin/tool\n",
		Scripts: map[string]string{"postinst": "#!/bin/sh\nexit 0\n"},
		Files: []debtest.File{
			{Name: "./"},
			{Name: "./bin/"},
			{Name: "./bin/tool", Mode: 0o4755, Body: "#!/bin/sh\necho tool\n"},
			{Name: "./lib64", Type: tar.TypeSymlink, Mode: 0o777, Link: "usr/lib64"},
			{Name: "./usr/"},
			{Name: "./usr/bin/"},
			{Name: "./usr/bin/tool-link", Type: tar.TypeSymlink, Mode: 0o777, Link: "/bin/tool"},
			{Name: "./lib/x86_64-linux-gnu/libfoo.so.1", Body: "ELF-ish"},
			{Name: "./usr/lib/x86_64-linux-gnu/libfoo.so.1", Body: "ELF-ish"},
			{Name: "./usr/share/hard", Type: tar.TypeLink, Link: "./bin/tool", Mode: 0o4755},
			{Name: "./var/spool/", Mode: 0o1777},
			{Name: "./usr/games/owned", Mode: 0o2640, UID: 5, GID: 60, Body: "x"},
			{Name: "./etc/readonly/", Mode: 0o555},
			{Name: "./etc/readonly/file", Mode: 0o444, Body: "ro"},
		},
	}
}

func TestUnpackEntries(t *testing.T) {
	for _, comp := range []struct{ data, ctl string }{{"none", "gz"}, {"gz", "xz"}, {"xz", "zst"}, {"zst", "none"}, {"lzma", "gz"}, {"bz2", "gz"}} {
		t.Run(comp.data+"-"+comp.ctl, func(t *testing.T) {
			if comp.data == "bz2" {
				testutil.RequireTool(t, "bzip2")
			}
			d := sample()
			d.Comp, d.ControlComp = comp.data, comp.ctl
			debPath, sum := debtest.Build(t, t.TempDir(), "test_1.0-1_amd64.deb", d)
			st := openStore(t)
			p, err := debfile.Unpack(context.Background(), st, debPath, sum)
			if err != nil {
				t.Fatal(err)
			}
			checkSample(t, p, sum)
			// Cached: a second call only loads, the .deb is not read again.
			if err := os.Remove(debPath); err != nil {
				t.Fatal(err)
			}
			p2, err := debfile.Unpack(context.Background(), st, debPath, sum)
			if err != nil {
				t.Fatalf("second Unpack: %v", err)
			}
			checkSample(t, p2, sum)
		})
	}
}

func checkSample(t *testing.T, p *debfile.Package, sum string) {
	t.Helper()
	if p.Name != "test" || p.Version != "1.0-1" || p.Arch != "amd64" {
		t.Errorf("name/version/arch = %s/%s/%s", p.Name, p.Version, p.Arch)
	}
	if p.Fields["Installed-Size"] != "10" || p.Fields["Description"] != "a test package\nmulti-line\n\ndescription" {
		t.Errorf("fields = %q", p.Fields)
	}
	if p.Control != debtest.DefaultControl || !strings.Contains(p.MD5Sums, "bin/tool") {
		t.Errorf("control/md5sums not kept: %q %q", p.Control, p.MD5Sums)
	}
	if len(p.Scripts) != 1 || p.Scripts[0] != "postinst" {
		t.Errorf("scripts = %q", p.Scripts)
	}
	if text, err := p.Script("postinst"); err != nil || text != "#!/bin/sh\nexit 0\n" {
		t.Errorf("postinst = %q, %v", text, err)
	}
	if text, err := p.Script("prerm"); err != nil || text != "" {
		t.Errorf("prerm = %q, %v", text, err)
	}
	if _, err := p.Script("../manifest.json"); err == nil {
		t.Error("Script read a file that is not a maintainer script")
	}
	if got, want := p.Contents().Key(), "deb:"+sum+":usrmerge-v1"; got != want {
		t.Errorf("key = %s, want %s", got, want)
	}
	type meta struct {
		typ      closure.EntryType
		mode     fs.FileMode
		uid, gid int
		link     string
		body     string
	}
	want := map[string]meta{
		"usr/bin":                              {typ: closure.Dir, mode: 0o755},
		"usr/bin/tool":                         {typ: closure.Regular, mode: 0o755 | fs.ModeSetuid, body: "#!/bin/sh\necho tool\n"},
		"usr":                                  {typ: closure.Dir, mode: 0o755},
		"usr/bin/tool-link":                    {typ: closure.Symlink, mode: 0o777, link: "/bin/tool"},
		"usr/lib":                              {typ: closure.Dir, mode: 0o755},
		"usr/lib/x86_64-linux-gnu":             {typ: closure.Dir, mode: 0o755},
		"usr/lib/x86_64-linux-gnu/libfoo.so.1": {typ: closure.Regular, mode: 0o644, body: "ELF-ish"},
		"usr/share":                            {typ: closure.Dir, mode: 0o755},
		"usr/share/hard":                       {typ: closure.Hardlink, mode: 0o755 | fs.ModeSetuid, link: "usr/bin/tool"},
		"var":                                  {typ: closure.Dir, mode: 0o755},
		"var/spool":                            {typ: closure.Dir, mode: 0o777 | fs.ModeSticky},
		"usr/games":                            {typ: closure.Dir, mode: 0o755},
		"usr/games/owned":                      {typ: closure.Regular, mode: 0o640 | fs.ModeSetgid, uid: 5, gid: 60, body: "x"},
		"etc":                                  {typ: closure.Dir, mode: 0o755},
		"etc/readonly":                         {typ: closure.Dir, mode: 0o555},
		"etc/readonly/file":                    {typ: closure.Regular, mode: 0o444, body: "ro"},
	}
	seen := map[string]bool{}
	var regular int64
	for _, e := range p.Entries {
		if seen[e.Path] {
			t.Errorf("%s listed twice", e.Path)
		}
		seen[e.Path] = true
		for _, top := range debfile.MergedDirs() {
			if e.Path == top || strings.HasPrefix(e.Path, top+"/") {
				t.Errorf("entry %s lies under the merged-/usr symlink %s", e.Path, top)
			}
		}
		w, ok := want[e.Path]
		if !ok {
			t.Errorf("unexpected entry %s (%s)", e.Path, e.Type)
			continue
		}
		if e.Type != w.typ || e.Mode != w.mode || e.UID != w.uid || e.GID != w.gid || e.Link != w.link {
			t.Errorf("%s = %s %v %d:%d %q, want %s %v %d:%d %q", e.Path, e.Type, e.Mode, e.UID, e.GID, e.Link, w.typ, w.mode, w.uid, w.gid, w.link)
		}
		if e.Type == closure.Regular {
			regular += e.Size
			if e.Size != int64(len(w.body)) {
				t.Errorf("%s size %d, want %d", e.Path, e.Size, len(w.body))
			}
			if got := readEntry(t, e); got != w.body {
				t.Errorf("%s content %q, want %q", e.Path, got, w.body)
			}
		}
	}
	for path := range want {
		if !seen[path] {
			t.Errorf("missing entry %s", path)
		}
	}
	if p.InstalledBytes != regular || regular == 0 {
		t.Errorf("InstalledBytes = %d, regular sum %d", p.InstalledBytes, regular)
	}
	// Parents come before children, so a layer writer can stream in order.
	idx := map[string]int{}
	for i, e := range p.Entries {
		idx[e.Path] = i
	}
	for _, e := range p.Entries {
		if dir := filepath.Dir(e.Path); dir != "." && idx[dir] > idx[e.Path] {
			t.Errorf("%s comes before its folder %s", e.Path, dir)
		}
	}
}

func TestUnpackRejectsHostile(t *testing.T) {
	base := t.TempDir()
	sentinel := filepath.Join(base, "sentinel")
	if err := os.Mkdir(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	// The cache lives at base/cache, the root at base/cache/tmp/dir-*/root:
	// five ".." reach base.
	up := "./../../../../../sentinel"
	cases := []struct {
		name, entry string
		control     string
		files       []debtest.File
	}{
		{name: "traversal", entry: up + "/evil", files: []debtest.File{{Name: up + "/evil", Body: "pwned"}}},
		{name: "inner-traversal", entry: "./usr/../../sentinel/evil", files: []debtest.File{{Name: "./usr/../../sentinel/evil", Body: "pwned"}}},
		{name: "absolute", entry: sentinel + "/evil", files: []debtest.File{{Name: sentinel + "/evil", Body: "pwned"}}},
		{name: "symlink-abs-then-write", entry: "./usr/escape/evil", files: []debtest.File{
			{Name: "./usr/"}, {Name: "./usr/escape", Type: tar.TypeSymlink, Link: sentinel},
			{Name: "./usr/escape/evil", Body: "pwned"}}},
		{name: "symlink-rel-then-write", entry: "./usr/escape/evil", files: []debtest.File{
			{Name: "./usr/"}, {Name: "./usr/escape", Type: tar.TypeSymlink, Link: "../" + up},
			{Name: "./usr/escape/evil", Body: "pwned"}}},
		{name: "symlink-in-root-then-write", entry: "./bin/evil", files: []debtest.File{
			{Name: "./usr/"}, {Name: "./usr/bin", Type: tar.TypeSymlink, Link: "../etc"},
			{Name: "./bin/evil", Body: "pwned"}}},
		{name: "hardlink-outside", entry: "./usr/h", files: []debtest.File{
			{Name: "./usr/"}, {Name: "./usr/h", Type: tar.TypeLink, Link: up + "/target"}}},
		{name: "hardlink-absolute", entry: "./usr/h", files: []debtest.File{
			{Name: "./usr/"}, {Name: "./usr/h", Type: tar.TypeLink, Link: sentinel + "/target"}}},
		{name: "hardlink-missing", entry: "./usr/h", files: []debtest.File{
			{Name: "./usr/"}, {Name: "./usr/h", Type: tar.TypeLink, Link: "./usr/missing"}}},
		{name: "char-device", entry: "./dev/null", files: []debtest.File{{Name: "./dev/"}, {Name: "./dev/null", Type: tar.TypeChar}}},
		{name: "block-device", entry: "./dev/sda", files: []debtest.File{{Name: "./dev/"}, {Name: "./dev/sda", Type: tar.TypeBlock}}},
		{name: "fifo", entry: "./run/fifo", files: []debtest.File{{Name: "./run/"}, {Name: "./run/fifo", Type: tar.TypeFifo}}},
		{name: "top-level-lib-symlink-elsewhere", entry: "./lib", files: []debtest.File{{Name: "./lib", Type: tar.TypeSymlink, Link: sentinel}}},
		{name: "bomb-one-file", entry: "./usr/zeros", control: "Package: bomb\nVersion: 1\nArchitecture: all\nInstalled-Size: 1\n",
			files: []debtest.File{{Name: "./usr/"}, {Name: "./usr/zeros", Size: 64 << 20}}},
		{name: "bomb-many-files", entry: "./usr/z2", control: "Package: bomb\nVersion: 1\nArchitecture: all\nInstalled-Size: 1\n",
			files: []debtest.File{{Name: "./usr/"}, {Name: "./usr/z0", Size: 7 << 20}, {Name: "./usr/z1", Size: 7 << 20}, {Name: "./usr/z2", Size: 7 << 20}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := store.Open(filepath.Join(base, "cache"))
			if err != nil {
				t.Fatal(err)
			}
			debPath, sum := debtest.Build(t, t.TempDir(), "evil_1_all.deb", debtest.Deb{Control: c.control, Files: c.files, Comp: "zst"})
			_, err = debfile.Unpack(context.Background(), st, debPath, sum)
			if err == nil {
				t.Fatal("Unpack accepted a hostile .deb")
			}
			t.Log(err)
			if !errors.Is(err, debfile.ErrUnsafe) {
				t.Errorf("error does not wrap ErrUnsafe: %v", err)
			}
			for _, part := range []string{"evil_1_all.deb", "data.tar.zst", c.entry} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %q", err, part)
				}
			}
			assertEmpty(t, sentinel)
			assertEmpty(t, filepath.Join(base, "cache", "tmp"))
			assertEmpty(t, filepath.Join(base, "cache", "deb-unpacked"))
		})
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s was left behind in %s", e.Name(), dir)
	}
}

func TestUnpackNamesBlobByPackage(t *testing.T) {
	st := openStore(t)
	b, err := debtest.Bytes(debtest.Deb{Files: []debtest.File{{Name: "./dev/"}, {Name: "./dev/null", Type: tar.TypeChar}}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.PutBlob(strings.NewReader(string(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = debfile.UnpackBlob(context.Background(), st, sum)
	if err == nil || !strings.Contains(err.Error(), "test_1.0-1_amd64.deb: data.tar.xz: entry \"./dev/null\": device node") {
		t.Fatalf("want an error naming the package, got %v", err)
	}
}

func TestUnpackMergedUsrConflict(t *testing.T) {
	st := openStore(t)
	debPath, sum := debtest.Build(t, t.TempDir(), "clash.deb", debtest.Deb{Files: []debtest.File{
		{Name: "./lib/libx.so", Body: "one"}, {Name: "./usr/lib/libx.so", Body: "two"}}})
	_, err := debfile.Unpack(context.Background(), st, debPath, sum)
	if err == nil || !strings.Contains(err.Error(), "./lib/libx.so") || !strings.Contains(err.Error(), "./usr/lib/libx.so") {
		t.Fatalf("want an error naming both paths, got %v", err)
	}
	assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))

	// A file written over a symlink (same path) is refused too.
	sentinel := t.TempDir()
	debPath, sum = debtest.Build(t, t.TempDir(), "over.deb", debtest.Deb{Files: []debtest.File{
		{Name: "./usr/x", Type: tar.TypeSymlink, Link: sentinel + "/file"}, {Name: "./usr/x", Body: "pwned"}}})
	if _, err = debfile.Unpack(context.Background(), st, debPath, sum); err == nil || !strings.Contains(err.Error(), "usr/x") {
		t.Fatalf("want an error naming usr/x, got %v", err)
	}
	assertEmpty(t, sentinel)
	assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))
}

func TestUnpackChecksSHA256(t *testing.T) {
	st := openStore(t)
	debPath, _ := debtest.Build(t, t.TempDir(), "x.deb", sample())
	wrong := strings.Repeat("ab", 32)
	_, err := debfile.Unpack(context.Background(), st, debPath, wrong)
	if err == nil || !strings.Contains(err.Error(), "expected "+wrong) {
		t.Fatalf("want a sha256 mismatch, got %v", err)
	}
	assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))
	if _, err := debfile.Unpack(context.Background(), st, debPath, "NOTHEX"); err == nil {
		t.Fatal("a malformed sha256 was accepted")
	}
}

func TestUnpackRejectsCorrupt(t *testing.T) {
	good, err := debtest.Bytes(sample())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"not-ar":     []byte("hello world, not a deb"),
		"truncated":  good[:len(good)/2],
		"no-data":    debtest.Ar([]debtest.Member{{Name: "debian-binary", Data: []byte("2.0\n")}}),
		"format-3":   debtest.Ar([]debtest.Member{{Name: "debian-binary", Data: []byte("3.0\n")}}),
		"data-first": debtest.Ar([]debtest.Member{{Name: "debian-binary", Data: []byte("2.0\n")}, {Name: "data.tar", Data: nil}}),
	} {
		t.Run(name, func(t *testing.T) {
			st := openStore(t)
			p := filepath.Join(t.TempDir(), name+".deb")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			if _, err := debfile.Unpack(context.Background(), st, p, hex.EncodeToString(s[:])); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
			assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))
		})
	}
}

func TestUnpackDamagedCache(t *testing.T) {
	st := openStore(t)
	debPath, sum := debtest.Build(t, t.TempDir(), "x.deb", sample())
	p, err := debfile.Unpack(context.Background(), st, debPath, sum)
	if err != nil {
		t.Fatal(err)
	}
	// A truncated file is noticed on Open.
	if err := os.Truncate(filepath.Join(p.Dir, "usr/bin/tool"), 1); err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries {
		if e.Path == "usr/bin/tool" {
			if _, err := e.Open(); err == nil || !strings.Contains(err.Error(), "damaged") {
				t.Errorf("Open of a truncated cache file: %v", err)
			}
		}
	}
	// A lost manifest makes Unpack extract again.
	if err := os.Remove(filepath.Join(filepath.Dir(p.Dir), "manifest.json")); err != nil {
		t.Fatal(err)
	}
	p2, err := debfile.Unpack(context.Background(), st, debPath, sum)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, p2, sum)
}

func TestMergedPath(t *testing.T) {
	for in, want := range map[string]string{
		"/bin/sh": "usr/bin/sh", "lib64": "usr/lib64", "./lib/x86_64-linux-gnu/libc.so.6": "usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/bin/awk": "usr/bin/awk", "etc/passwd": "etc/passwd", "library/x": "library/x", "/sbin/": "usr/sbin",
	} {
		if got := debfile.MergedPath(in); got != want {
			t.Errorf("MergedPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseParagraph(t *testing.T) {
	f, err := debfile.ParseParagraph("Package: a\nDepends: b,\n c\n\nPackage: second\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 2 || f["Package"] != "a" || f["Depends"] != "b,\nc" {
		t.Errorf("got %q", f)
	}
	for _, bad := range []string{"", " cont\n", "no colon\n", "A: 1\nA: 2\n"} {
		if _, err := debfile.ParseParagraph(bad); err == nil {
			t.Errorf("ParseParagraph(%q) accepted", bad)
		}
	}
}

// TestUnpackRealHello unpacks Debian's hello package, fetched with apt.
func TestUnpackRealHello(t *testing.T) {
	testutil.RequireTool(t, "apt-get")
	dir := t.TempDir()
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "download", "-q", "hello")
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil && os.Geteuid() == 0 {
		// Fresh machines have no package lists yet.
		if upd, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			t.Fatalf("apt-get update: %v\n%s", uerr, upd)
		}
		out, err = download()
	}
	if err != nil {
		t.Fatalf("apt-get download hello: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "hello_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("apt-get download left %v", debs)
	}
	b, err := os.ReadFile(debs[0])
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	st := openStore(t)
	p, err := debfile.Unpack(context.Background(), st, debs[0], hex.EncodeToString(s[:]))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "hello" || p.Fields["Maintainer"] == "" || p.MD5Sums == "" {
		t.Errorf("package %s, fields %q", p.Name, p.Fields)
	}
	var found bool
	for _, e := range p.Entries {
		if e.Path == "usr/bin/hello" {
			found = true
			if e.Type != closure.Regular || e.Mode != 0o755 || e.UID != 0 || e.GID != 0 {
				t.Errorf("usr/bin/hello: %s %v %d:%d", e.Type, e.Mode, e.UID, e.GID)
			}
			if head := readEntry(t, e); !strings.HasPrefix(head, "\x7fELF") || int64(len(head)) != e.Size {
				t.Errorf("usr/bin/hello is not an ELF file of %d bytes", e.Size)
			}
		}
	}
	if !found {
		t.Fatal("usr/bin/hello is missing")
	}
	kib := p.InstalledBytes / 1024
	t.Logf("%s %s: %d entries, %d bytes", p.Name, p.Version, len(p.Entries), p.InstalledBytes)
	if is := p.Fields["Installed-Size"]; is == "" || kib == 0 {
		t.Errorf("Installed-Size %q, unpacked %d KiB", is, kib)
	}
}

func TestUnpackConcurrent(t *testing.T) {
	st := openStore(t)
	debPath, sum := debtest.Build(t, t.TempDir(), "x.deb", sample())
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			p, err := debfile.Unpack(context.Background(), st, debPath, sum)
			if err == nil && len(p.Entries) == 0 {
				err = errors.New("no entries")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(st.Root(), "deb-unpacked"))
	if err != nil || len(ents) != 1 {
		t.Errorf("deb-unpacked holds %d entries (%v), want 1", len(ents), err)
	}
	assertEmpty(t, filepath.Join(st.Root(), "tmp"))
}

// BenchmarkUnpack measures a cold unpack of a 1000-file, 8 MiB package.
func BenchmarkUnpack(b *testing.B) {
	d := debtest.Deb{Control: "Package: bench\nVersion: 1\nArchitecture: all\nInstalled-Size: 8192\n", Comp: "zst"}
	for i := range 1000 {
		d.Files = append(d.Files, debtest.File{Name: "./usr/share/bench/" + strings.Repeat("d", i%7) + "/f" + strings.Repeat("x", i%13) + string(rune('a'+i%26)) + "-" + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}), Size: 8 << 10})
	}
	dir := b.TempDir()
	debPath, sum := debtest.Build(b, dir, "bench.deb", d)
	b.SetBytes(1000 * 8 << 10)
	for i := 0; b.Loop(); i++ {
		st, err := store.Open(filepath.Join(dir, "cache", strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := debfile.Unpack(context.Background(), st, debPath, sum); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnpackCancelled(t *testing.T) {
	st := openStore(t)
	debPath, sum := debtest.Build(t, t.TempDir(), "x.deb", sample())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := debfile.Unpack(ctx, st, debPath, sum); !errors.Is(err, context.Canceled) {
		t.Fatalf("Unpack with a cancelled context: %v", err)
	}
	assertEmpty(t, filepath.Join(st.Root(), "deb-unpacked"))
	assertEmpty(t, filepath.Join(st.Root(), "tmp"))
}
