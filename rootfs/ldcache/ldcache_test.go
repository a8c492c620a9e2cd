package ldcache

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/testutil"
)

func TestLibcmp(t *testing.T) {
	// Ascending in glibc's order.
	order := []string{"a", "b", "libc.so", "libc.so.a", "libc.so.2", "libc.so.10", "libc.so.10.1", "libc0.so", "libc1", "libc2.so", "libc10"}
	for i := range order {
		for j := range order {
			got := libcmp(order[i], order[j])
			if (got < 0) != (i < j) || (got == 0) != (i == j) {
				t.Errorf("libcmp(%q, %q) = %d, want the sign of %d", order[i], order[j], got, i-j)
			}
		}
	}
}

// TestEncode checks the layout byte by byte for one entry.
func TestEncode(t *testing.T) {
	b := encode([]Entry{{Soname: "libz.so.1", Path: "/usr/lib/libz.so.1", Flags: 0x0303}})
	le := binary.LittleEndian
	if string(b[:20]) != "glibc-ld.so.cache1.1" || le.Uint32(b[20:]) != 1 || le.Uint32(b[24:]) != uint32(len("/usr/lib/libz.so.1")+1) || b[28] != 2 || le.Uint32(b[32:]) != 0 {
		t.Fatalf("header % x", b[:48])
	}
	e := b[48:72]
	key, value := le.Uint32(e[4:]), le.Uint32(e[8:])
	str := func(off uint32) string { s := b[off:]; return string(s[:bytes.IndexByte(s, 0)]) }
	if le.Uint32(e) != 0x0303 || value != 72 || str(value) != "/usr/lib/libz.so.1" || str(key) != "libz.so.1" || le.Uint64(e[16:]) != 0 {
		t.Errorf("entry % x: key %q value %q", e, str(key), str(value))
	}
	if len(b) != 72+len("/usr/lib/libz.so.1")+1 {
		t.Errorf("%d bytes", len(b))
	}
}

// root is a merged-/usr image tree with gcc-built shared libraries.
func root(t *testing.T) string {
	t.Helper()
	testutil.RequireTool(t, "gcc")
	if runtime.GOARCH != "amd64" {
		t.Fatalf("this test lays out an amd64 tree; the host is %s", runtime.GOARCH)
	}
	dir := t.TempDir()
	r := filepath.Join(dir, "root")
	mk := func(p string) string {
		p = filepath.Join(r, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(p, s string) {
		if err := os.WriteFile(mk(p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(p, target string) {
		if err := os.Symlink(target, mk(p)); err != nil {
			t.Fatal(err)
		}
	}
	lib := func(p, soname string) {
		src := filepath.Join(dir, "x.c")
		if err := os.WriteFile(src, []byte("int f(void) { return 1; }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-shared", "-fPIC", "-o", mk(p), src}
		if soname != "" {
			args = append(args, "-Wl,-soname,"+soname)
		}
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	const m = "usr/lib/x86_64-linux-gnu/"
	for _, top := range []string{"bin", "lib", "lib64", "sbin"} {
		link(top, "usr/"+top)
	}
	lib(m+"libz.so.1.2.13", "libz.so.1")
	link(m+"libz.so.1", "libz.so.1.2.13")
	link(m+"libz.so", "/lib/x86_64-linux-gnu/libz.so.1.2.13") // a -dev link, absolute
	lib(m+"libfoo.so.2.0", "libfoo.so.2")
	link(m+"libfoo.so.2", "libfoo.so.2.0")
	lib(m+"libfoo.so.10.0", "libfoo.so.10")
	link(m+"libfoo.so.10", "libfoo.so.10.0")
	lib(m+"libnosoname.so", "")
	lib(m+"libnolink.so.3.1", "libnolink.so.3") // soname link missing: listed all the same
	write(m+"libc.so", "/* GNU ld script */\nGROUP ( libc.so.6 )\n")
	lib(m+"ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2")
	lib(m+"notalib.so.1", "notalib.so.1") // not lib* or ld-*
	lib("usr/lib/libtop.so.1", "libtop.so.1")
	lib("opt/app/lib/libapp.so.1", "libapp.so.1")
	lib("opt/app/lib/libfoo.so.2", "libfoo.so.2") // the same soname in another folder
	lib("opt/plug/libplug.so", "libplug.so")
	write("etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
	write("etc/ld.so.conf.d/a.conf", "# apps\n/opt/app/lib\n")
	write("etc/ld.so.conf.d/b.conf", "/opt/plug\n/opt/missing\n/lib/x86_64-linux-gnu\n")
	write("etc/ld.so.conf.d/c.txt", "/nowhere\n")
	return r
}

// entriesOf walks a folder into closure entries (a test's image).
func entriesOf(t *testing.T, r string) []closure.Entry {
	t.Helper()
	var list []closure.Entry
	err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == r {
			return err
		}
		rel, _ := filepath.Rel(r, p)
		e := closure.Entry{Path: filepath.ToSlash(rel), Mode: 0o644}
		switch {
		case d.IsDir():
			e.Type = closure.Dir
		case d.Type()&fs.ModeSymlink != 0:
			e.Type = closure.Symlink
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			info, err := d.Info()
			if err != nil {
				return err
			}
			e.Type, e.Size = closure.Regular, info.Size()
			e.Open = func() (io.ReadCloser, error) { return os.Open(p) }
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The generated cache lists, as glibc's own ldconfig prints it, exactly
// what `ldconfig -r ROOT -X` writes for the same tree.
func TestGenerateMatchesLdconfig(t *testing.T) {
	ldconfig := testutil.RequireTool(t, "ldconfig")
	r := root(t)
	data, list, err := Generate(context.Background(), Options{Entries: entriesOf(t, r), Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(t.TempDir(), "ours.cache")
	if err := os.WriteFile(ours, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// ldconfig -r chroots: root, or a user namespace that maps us to it.
	ref := "/etc/ref.cache"
	cmd := exec.Command(ldconfig, "-r", r, "-X", "-C", ref)
	if os.Geteuid() != 0 {
		cmd = exec.Command(testutil.RequireTool(t, "unshare"), "-r", ldconfig, "-r", r, "-X", "-C", ref)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	show := func(file string) string {
		out, err := exec.Command(ldconfig, "-p", "-C", file).CombinedOutput()
		if err != nil {
			t.Fatalf("ldconfig -p -C %s: %v\n%s", file, err, out)
		}
		var keep []string
		for _, l := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(l, "Cache generated by") && !strings.Contains(l, "libs found in cache") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	got, want := show(ours), show(filepath.Join(r, ref))
	if got != want {
		t.Errorf("ldconfig -p of the generated cache:\n%s\nof ldconfig's:\n%s", got, want)
	}
	for _, must := range []string{"libapp.so.1 (libc6,x86-64) => /opt/app/lib/libapp.so.1", "libplug.so (libc6,x86-64) => /opt/plug/libplug.so", "libz.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so"} {
		if !strings.Contains(got, must) {
			t.Errorf("missing %q in\n%s", must, got)
		}
	}
	if len(list) < 8 {
		t.Errorf("%d entries", len(list))
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, _, err := Generate(context.Background(), Options{Arch: "mips"}); err == nil || !strings.Contains(err.Error(), "amd64 or arm64") {
		t.Errorf("unknown arch: %v", err)
	}
	loop := []closure.Entry{{Path: "lib", Type: closure.Symlink, Link: "lib"}}
	if _, _, err := Generate(context.Background(), Options{Entries: loop, Arch: "amd64"}); err == nil || !strings.Contains(err.Error(), "symlinks") {
		t.Errorf("symlink loop: %v", err)
	}
	conf := "include /etc/ld.so.conf\n"
	self := []closure.Entry{{Path: "etc", Type: closure.Dir}, {Path: "etc/ld.so.conf", Type: closure.Regular, Size: int64(len(conf)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(conf)), nil
	}}}
	if _, _, err := Generate(context.Background(), Options{Entries: self, Arch: "amd64"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("include cycle: %v", err)
	}
	// An image with no libraries gets an empty, valid cache.
	data, list, err := Generate(context.Background(), Options{Arch: "arm64"})
	if err != nil || len(list) != 0 || len(data) != headerSize {
		t.Errorf("empty image: %d bytes, %d entries, %v", len(data), len(list), err)
	}
}

// TestGenerateHardlinkedLibrary: a library stored as a hardlink entry (a
// package shipping one file under two names) is read through the file it
// links to and listed under its own path.
func TestGenerateHardlinkedLibrary(t *testing.T) {
	ents := entriesOf(t, root(t))
	found := false
	for i, e := range ents {
		if e.Path == "opt/app/lib/libapp.so.1" {
			found = true
			real := e
			real.Path = "opt/store/libapp.so.1.0" // outside every searched folder
			ents[i] = closure.Entry{Path: e.Path, Type: closure.Hardlink, Link: real.Path, Mode: e.Mode}
			ents = append(ents, closure.Entry{Path: "opt/store", Type: closure.Dir, Mode: 0o755}, real)
			break
		}
	}
	if !found {
		t.Fatal("the fixture lacks opt/app/lib/libapp.so.1")
	}
	_, list, err := Generate(context.Background(), Options{Entries: ents, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(e Entry) bool { return e.Soname == "libapp.so.1" && e.Path == "/opt/app/lib/libapp.so.1" }) {
		t.Errorf("the hardlinked libapp.so.1 is not listed: %+v", list)
	}
	if slices.ContainsFunc(list, func(e Entry) bool { return strings.HasPrefix(e.Path, "/opt/store/") }) {
		t.Errorf("a library outside the searched folders is listed: %+v", list)
	}
}
