package elfdeps

import (
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/testutil"
)

// The fixtures are real ELF files: small C programs and shared libraries
// compiled by the host's gcc into a temp folder, and the host's own libc,
// interpreter and zlib, laid out merged-/usr style as Debian's packages ship
// them.

const (
	// bar and foo call libc, so that they need libc.so.6 even under
	// Debian gcc's default --as-needed.
	barC    = "#include <unistd.h>\nint bar(void) { return getpid() > 0 ? 42 : 0; }\n"
	fooC    = "#include <unistd.h>\nint bar(void);\nint foo(void) { return bar() + (getppid() > 0); }\n"
	appC    = "#include <stdio.h>\nint foo(void);\nint main(void) { printf(\"%d\\n\", foo()); return 0; }\n"
	barAppC = "#include <stdio.h>\nint bar(void);\nint main(void) { printf(\"%d\\n\", bar()); return 0; }\n"
	helloC  = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"
	zC      = "#include <stdio.h>\n#include <zlib.h>\nint main(void) { puts(zlibVersion()); return 0; }\n"
	// zfooC is a libfoo that needs zlib: a program linked only to it needs
	// libz.so.1 through it alone.
	zfooC = "#include <zlib.h>\nint foo(void) { return zlibVersion()[0]; }\n"
)

type fixtures struct {
	dir     string
	triple  string // gcc -print-multiarch, e.g. x86_64-linux-gnu
	interp  string // hello's PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2
	hasZlib bool
}

func newFixtures(t *testing.T) *fixtures {
	t.Helper()
	testutil.RequireTool(t, "gcc")
	f := &fixtures{dir: t.TempDir()}
	out, err := exec.Command("gcc", "-print-multiarch").Output()
	if err != nil {
		t.Fatalf("gcc -print-multiarch: %v", err)
	}
	f.triple = strings.TrimSpace(string(out))
	if f.triple == "" {
		t.Fatal("gcc -print-multiarch printed nothing: these tests need Debian's multiarch gcc")
	}
	_, err = os.Stat("/usr/include/zlib.h")
	f.hasZlib = err == nil
	for name, src := range map[string]string{"bar.c": barC, "foo.c": fooC, "app.c": appC, "barapp.c": barAppC, "hello.c": helloC, "z.c": zC, "zfoo.c": zfooC} {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"plain", "origin", "zfoo"} {
		if err := os.Mkdir(filepath.Join(f.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.cc(t, "-o", "hello", "hello.c")
	f.cc(t, "-c", "-o", "hello.o", "hello.c")
	f.cc(t, "-shared", "-fPIC", "-Wl,-soname,libbar.so.1", "-o", "plain/libbar.so.1", "bar.c")
	f.cc(t, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "plain/libfoo.so.1", "foo.c", "plain/libbar.so.1")
	f.cc(t, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN", "-o", "origin/libfoo.so.1", "foo.c", "plain/libbar.so.1")
	link := []string{"app.c", "plain/libfoo.so.1", "-Wl,-rpath-link," + filepath.Join(f.dir, "plain")}
	f.cc(t, append([]string{"-o", "app-origin", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib"}, link...)...)
	f.cc(t, append([]string{"-o", "app-rpath", "-Wl,--disable-new-dtags,-rpath,/opt/foo/lib"}, link...)...)
	f.cc(t, append([]string{"-o", "app-runpath", "-Wl,--enable-new-dtags,-rpath,/opt/foo/lib"}, link...)...)
	f.cc(t, "-o", "app-bar", "-Wl,--enable-new-dtags,-rpath,/opt/cross/lib:/opt/foo/lib", "barapp.c", "plain/libbar.so.1")
	if f.hasZlib {
		f.cc(t, "-o", "zprog", "z.c", "-lz")
		f.cc(t, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "zfoo/libfoo.so.1", "zfoo.c", "-lz")
		f.cc(t, "-o", "app-zfoo", "-Wl,--enable-new-dtags,-rpath,/opt/foo/lib", "app.c", "zfoo/libfoo.so.1")
	}
	if _, err := os.Stat("/usr/lib/" + f.triple + "/libc.a"); err == nil {
		f.cc(t, "-static", "-o", "static", "hello.c")
	} else {
		t.Fatalf("no /usr/lib/%s/libc.a for the static fixture: install libc6-dev", f.triple)
	}
	ef, err := elf.Open(filepath.Join(f.dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			f.interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if f.interp == "" {
		t.Fatal("gcc built hello without PT_INTERP")
	}
	return f
}

func (f *fixtures) cc(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("gcc", args...)
	cmd.Dir = f.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (f *fixtures) path(name string) string { return filepath.Join(f.dir, name) }

// hostEntry is a regular entry at image path p whose content is the host
// file at src (read through *os.File, an io.ReaderAt, as cached trees are).
func hostEntry(t *testing.T, p, src string) closure.Entry {
	t.Helper()
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		t.Fatalf("fixture %s: %v", src, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	return closure.Entry{Path: p, Type: closure.Regular, Mode: 0o755, Size: fi.Size(),
		Open: func() (io.ReadCloser, error) { return os.Open(real) }}
}

// bytesEntry is a regular entry whose reader is not an io.ReaderAt.
func bytesEntry(p string, b []byte) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Regular, Mode: 0o644, Size: int64(len(b)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

func symlink(p, target string) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Symlink, Mode: 0o777, Link: target}
}

func dir(p string) closure.Entry { return closure.Entry{Path: p, Type: closure.Dir, Mode: 0o755} }

// countingContents counts Entries calls: Resolve must list each node once.
type countingContents struct {
	closure.StaticContents
	calls *atomic.Int32
}

func (c countingContents) Entries(ctx context.Context) ([]closure.Entry, error) {
	c.calls.Add(1)
	return c.StaticContents.Entries(ctx)
}

type buildClosure struct {
	g     *closure.Graph
	calls atomic.Int32
}

func (b *buildClosure) add(t *testing.T, id string, kind closure.Kind, es ...closure.Entry) {
	t.Helper()
	n := &closure.Node{ID: id, Kind: kind, Name: id,
		Contents: countingContents{closure.StaticContents{ID: id, List: es}, &b.calls}}
	if err := b.g.Add(n); err != nil {
		t.Fatal(err)
	}
}

// debianClosure is a build closure laid out as strata unpacks Debian:
// libc6 ships the real libc and interpreter under usr/lib/<triple> with the
// interpreter's ABI path as a symlink (trixie's absolute one), the generated
// node the merged-/usr root links, libc6-dev only the linker script and a
// development symlink, zlib1g the real libz with its soname link and
// zlib1g-dev the libz.so link and header.
func debianClosure(t *testing.T, f *fixtures) *buildClosure {
	t.Helper()
	b := &buildClosure{g: closure.New()}
	libdir := "usr/lib/" + f.triple
	interpReal, err := filepath.EvalSymlinks(f.interp)
	if err != nil {
		t.Fatalf("host interpreter %s: %v", f.interp, err)
	}
	interpBase := path.Base(interpReal)
	libc6 := []closure.Entry{
		dir("usr"), dir("usr/lib"), dir(libdir),
		hostEntry(t, libdir+"/libc.so.6", "/usr/lib/"+f.triple+"/libc.so.6"),
		hostEntry(t, libdir+"/"+interpBase, interpReal),
	}
	// The interpreter's ABI path, merged into usr/, as a symlink into the
	// multiarch folder unless it already is there.
	abi := "usr/" + strings.TrimPrefix(f.interp, "/")
	if abi != libdir+"/"+interpBase {
		libc6 = append(libc6, dir(path.Dir(abi)), symlink(abi, "/lib/"+f.triple+"/"+interpBase))
	}
	b.add(t, "deb:libc6:amd64", closure.KindDeb, libc6...)
	b.add(t, "deb:libc6-dev:amd64", closure.KindDeb,
		dir("usr"), dir("usr/lib"), dir(libdir),
		hostEntry(t, libdir+"/libc.so", "/usr/lib/"+f.triple+"/libc.so"),
		symlink(libdir+"/libm.so", "libm.so.6"),
	)
	b.add(t, "generated:etc", closure.KindGenerated,
		symlink("bin", "usr/bin"), symlink("lib", "usr/lib"), symlink("lib64", "usr/lib64"), symlink("sbin", "usr/sbin"))
	if f.hasZlib {
		zreal, err := filepath.EvalSymlinks("/usr/lib/" + f.triple + "/libz.so.1")
		if err != nil {
			t.Fatal(err)
		}
		b.add(t, "deb:zlib1g:amd64", closure.KindDeb,
			dir("usr"), dir("usr/lib"), dir(libdir),
			hostEntry(t, libdir+"/"+path.Base(zreal), zreal),
			symlink(libdir+"/libz.so.1", path.Base(zreal)),
		)
		b.add(t, "deb:zlib1g-dev:amd64", closure.KindDeb,
			dir("usr"), dir("usr/include"), dir("usr/lib"), dir(libdir),
			hostEntry(t, "usr/include/zlib.h", "/usr/include/zlib.h"),
			symlink(libdir+"/libz.so", "/lib/"+f.triple+"/"+path.Base(zreal)),
		)
	}
	return b
}

// libcEdges are the edges every dynamic C program of the host has.
func libcEdges(t *testing.T, f *fixtures, file string) []Edge {
	t.Helper()
	interpReal, err := filepath.EvalSymlinks(f.interp)
	if err != nil {
		t.Fatal(err)
	}
	libdir := "usr/lib/" + f.triple
	return []Edge{
		{File: file, Soname: f.interp, Path: libdir + "/" + path.Base(interpReal), NodeID: "deb:libc6:amd64"},
		{File: file, Soname: "libc.so.6", Path: libdir + "/libc.so.6", NodeID: "deb:libc6:amd64"},
	}
}

// sharedLibcEdges are the edges of a file without PT_INTERP that needs libc
// (a shared library): libc.so.6, and ld.so by the soname libc's own
// DT_NEEDED gives it, found in the multiarch folder.
func sharedLibcEdges(t *testing.T, f *fixtures, file string) []Edge {
	t.Helper()
	es := libcEdges(t, f, file)
	es[0].Soname = path.Base(es[0].Path)
	return es
}

func zEdge(t *testing.T, f *fixtures, file string) Edge {
	t.Helper()
	zreal, err := filepath.EvalSymlinks("/usr/lib/" + f.triple + "/libz.so.1")
	if err != nil {
		t.Fatal(err)
	}
	return Edge{File: file, Soname: "libz.so.1", Path: "usr/lib/" + f.triple + "/" + path.Base(zreal), NodeID: "deb:zlib1g:amd64"}
}
