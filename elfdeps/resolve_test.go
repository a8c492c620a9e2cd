package elfdeps

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/testutil"
)

func TestResolve(t *testing.T) {
	f := newFixtures(t)
	ctx := context.Background()

	check := func(t *testing.T, out []closure.Entry, b *buildClosure, wantEdges, wantMissing []Edge) {
		t.Helper()
		edges, missing, err := Resolve(ctx, out, b.g)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if want := sortEdges(slices.Clone(wantEdges)); !slices.Equal(edges, want) {
			t.Errorf("edges:\n%s\nwant:\n%s", show(edges), show(want))
		}
		if want := sortEdges(slices.Clone(wantMissing)); !slices.Equal(missing, want) {
			t.Errorf("missing:\n%s\nwant:\n%s", show(missing), show(want))
		}
		for _, e := range edges {
			if strings.Contains(e.NodeID, "-dev") {
				t.Errorf("edge %+v points at a -dev package", e)
			}
		}
		if n := int(b.calls.Load()); n != len(b.g.Nodes) {
			t.Errorf("Entries called %d times for %d nodes: the index must be built once", n, len(b.g.Nodes))
		}
		// Same answer for the output listed in another order.
		rev := slices.Clone(out)
		slices.Reverse(rev)
		edges2, missing2, err := Resolve(ctx, rev, b.g)
		if err != nil || !slices.Equal(edges, edges2) || !slices.Equal(missing, missing2) {
			t.Errorf("reversed output gave other results (err %v):\n%s\n%s", err, show(edges2), show(missing2))
		}
	}

	t.Run("hello needs libc and the interpreter from libc6", func(t *testing.T) {
		b := debianClosure(t, f)
		out := []closure.Entry{dir("usr/local/bin"), hostEntry(t, "usr/local/bin/hello", f.path("hello"))}
		check(t, out, b, libcEdges(t, f, "usr/local/bin/hello"), nil)
	})

	t.Run("zlib program gets zlib1g, not zlib1g-dev", func(t *testing.T) {
		requireZlib(t, f)
		b := debianClosure(t, f)
		out := []closure.Entry{hostEntry(t, "usr/bin/zprog", f.path("zprog"))}
		check(t, out, b, append(libcEdges(t, f, "usr/bin/zprog"), zEdge(t, f, "usr/bin/zprog")), nil)
	})

	t.Run("a library's own needs count for the output file", func(t *testing.T) {
		requireZlib(t, f)
		b := debianClosure(t, f)
		b.add(t, "deb:libfoo1:amd64", closure.KindDeb, hostEntry(t, "opt/foo/lib/libfoo.so.1", f.path("zfoo/libfoo.so.1")))
		out := []closure.Entry{hostEntry(t, "usr/bin/app", f.path("app-zfoo"))}
		want := append(libcEdges(t, f, "usr/bin/app"),
			Edge{File: "usr/bin/app", Soname: "libfoo.so.1", Path: "opt/foo/lib/libfoo.so.1", NodeID: "deb:libfoo1:amd64"},
			zEdge(t, f, "usr/bin/app"))
		check(t, out, b, want, nil)
	})

	t.Run("a static binary needs nothing", func(t *testing.T) {
		b := debianClosure(t, f)
		out := []closure.Entry{hostEntry(t, "usr/bin/static", f.path("static"))}
		check(t, out, b, nil, nil)
	})

	t.Run("non-ELF, object files, truncated and unreadable ELF are skipped", func(t *testing.T) {
		b := debianClosure(t, f)
		hello, err := os.ReadFile(f.path("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parseObject(strings.NewReader(string(hello[:len(hello)/2]))); ok {
			t.Fatal("half of hello parsed: the truncated fixture tests nothing")
		}
		unreadable := hostEntry(t, "usr/bin/unreadable", f.path("hello"))
		unreadable.Open = func() (io.ReadCloser, error) { return nil, errors.New("permission denied") }
		out := []closure.Entry{
			bytesEntry("usr/bin/script", []byte("#!/bin/sh\necho hi\n")),
			bytesEntry("usr/bin/tiny", []byte("\x7fEL")),
			hostEntry(t, "usr/lib/hello.o", f.path("hello.o")),
			bytesEntry("usr/bin/truncated", hello[:len(hello)/2]),
			unreadable,
			symlink("usr/bin/hello-link", "/usr/local/bin/nowhere"),
			dir("usr/share"),
		}
		check(t, out, b, nil, nil)
	})

	t.Run("bundled libraries found by $ORIGIN need no node", func(t *testing.T) {
		b := debianClosure(t, f)
		out := []closure.Entry{
			hostEntry(t, "usr/local/bin/app", f.path("app-origin")),
			hostEntry(t, "usr/local/lib/libfoo.so.1", f.path("origin/libfoo.so.1")),
			hostEntry(t, "usr/local/lib/libbar.so.1", f.path("plain/libbar.so.1")),
		}
		want := libcEdges(t, f, "usr/local/bin/app")
		// The libraries are outputs themselves: they have no PT_INTERP, but
		// libc names ld.so by its soname.
		want = append(want, sharedLibcEdges(t, f, "usr/local/lib/libfoo.so.1")...)
		want = append(want, sharedLibcEdges(t, f, "usr/local/lib/libbar.so.1")...)
		check(t, out, b, want, nil)
	})

	t.Run("DT_RUNPATH is not inherited: a bundled library without its own misses its needs", func(t *testing.T) {
		b := debianClosure(t, f)
		out := []closure.Entry{
			hostEntry(t, "usr/local/bin/app", f.path("app-origin")),
			hostEntry(t, "usr/local/lib/libfoo.so.1", f.path("plain/libfoo.so.1")),
			hostEntry(t, "usr/local/lib/libbar.so.1", f.path("plain/libbar.so.1")),
		}
		want := libcEdges(t, f, "usr/local/bin/app")
		want = append(want, sharedLibcEdges(t, f, "usr/local/lib/libfoo.so.1")...)
		want = append(want, sharedLibcEdges(t, f, "usr/local/lib/libbar.so.1")...)
		check(t, out, b, want, []Edge{
			{File: "usr/local/bin/app", Soname: "libbar.so.1"},
			{File: "usr/local/lib/libfoo.so.1", Soname: "libbar.so.1"},
		})
	})

	t.Run("a library in no node is missing", func(t *testing.T) {
		b := debianClosure(t, f)
		out := []closure.Entry{hostEntry(t, "usr/local/bin/app", f.path("app-origin"))}
		check(t, out, b, libcEdges(t, f, "usr/local/bin/app"), []Edge{{File: "usr/local/bin/app", Soname: "libfoo.so.1"}})
	})

	t.Run("DT_RPATH is lent to loaded libraries, DT_RUNPATH is not", func(t *testing.T) {
		b := debianClosure(t, f)
		b.add(t, "deb:libfoo1:amd64", closure.KindDeb,
			hostEntry(t, "opt/foo/lib/libfoo.so.1", f.path("plain/libfoo.so.1")),
			hostEntry(t, "opt/foo/lib/libbar.so.1", f.path("plain/libbar.so.1")))
		out := []closure.Entry{
			hostEntry(t, "usr/bin/app-rpath", f.path("app-rpath")),
			hostEntry(t, "usr/bin/app-runpath", f.path("app-runpath")),
		}
		foo := func(file, lib string) Edge {
			return Edge{File: file, Soname: lib, Path: "opt/foo/lib/" + lib, NodeID: "deb:libfoo1:amd64"}
		}
		want := append(libcEdges(t, f, "usr/bin/app-rpath"), foo("usr/bin/app-rpath", "libfoo.so.1"), foo("usr/bin/app-rpath", "libbar.so.1"))
		want = append(want, libcEdges(t, f, "usr/bin/app-runpath")...)
		want = append(want, foo("usr/bin/app-runpath", "libfoo.so.1"))
		check(t, out, b, want, []Edge{{File: "usr/bin/app-runpath", Soname: "libbar.so.1"}})
	})

	t.Run("a library for another machine is passed over", func(t *testing.T) {
		b := debianClosure(t, f)
		bar, err := os.ReadFile(f.path("plain/libbar.so.1"))
		if err != nil {
			t.Fatal(err)
		}
		// e_machine sits at offset 18 in both ELF classes.
		other := slices.Clone(bar)
		binary.LittleEndian.PutUint16(other[18:], 0xb7) // EM_AARCH64
		if o, ok := parseObject(strings.NewReader(string(other))); !ok || o.machine != 0xb7 {
			t.Fatalf("patched libbar does not parse as aarch64 (%v)", ok)
		}
		b.add(t, "deb:libbar1:arm64", closure.KindDeb, bytesEntry("opt/cross/lib/libbar.so.1", other))
		b.add(t, "deb:libbar1:amd64", closure.KindDeb, bytesEntry("opt/foo/lib/libbar.so.1", bar))
		out := []closure.Entry{hostEntry(t, "usr/bin/app", f.path("app-bar"))}
		want := append(libcEdges(t, f, "usr/bin/app"),
			Edge{File: "usr/bin/app", Soname: "libbar.so.1", Path: "opt/foo/lib/libbar.so.1", NodeID: "deb:libbar1:amd64"})
		check(t, out, b, want, nil)
	})

	t.Run("the node is the file's owner, not the symlink's", func(t *testing.T) {
		b := debianClosure(t, f)
		b.add(t, "deb:libbar1:amd64", closure.KindDeb, hostEntry(t, "opt/foo/lib/libbar.so.1.0.0", f.path("plain/libbar.so.1")))
		b.add(t, "deb:libbar-dev:amd64", closure.KindDeb,
			symlink("opt/foo/lib/libbar.so.1", "libbar.so.1.0.0"),
			symlink("opt/foo/lib/libbar.so", "/opt/foo/lib/libbar.so.1"))
		out := []closure.Entry{hostEntry(t, "usr/bin/app", f.path("app-bar"))}
		want := append(libcEdges(t, f, "usr/bin/app"),
			Edge{File: "usr/bin/app", Soname: "libbar.so.1", Path: "opt/foo/lib/libbar.so.1.0.0", NodeID: "deb:libbar1:amd64"})
		check(t, out, b, want, nil)
	})

	t.Run("without the generated root links the interpreter is missing", func(t *testing.T) {
		b := debianClosure(t, f)
		if strings.HasPrefix(f.interp, "/usr/") {
			t.Fatalf("interpreter %s needs no root link; this case tests nothing here", f.interp)
		}
		delete(b.g.Nodes, "generated:etc")
		out := []closure.Entry{hostEntry(t, "usr/local/bin/hello", f.path("hello"))}
		// libc's own DT_NEEDED names the interpreter by its soname, which
		// the multiarch folder holds; only the PT_INTERP path is lost.
		check(t, out, b, sharedLibcEdges(t, f, "usr/local/bin/hello"), []Edge{{File: "usr/local/bin/hello", Soname: f.interp}})
	})
}

func TestResolveListError(t *testing.T) {
	g := closure.New()
	if err := g.Add(&closure.Node{ID: "deb:broken:amd64", Contents: failingContents{}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := Resolve(context.Background(), nil, g)
	if err == nil || !strings.Contains(err.Error(), "deb:broken:amd64") {
		t.Fatalf("Resolve = %v, want an error naming the node", err)
	}
}

type failingContents struct{}

func (failingContents) Key() string { return "broken" }
func (failingContents) Entries(context.Context) ([]closure.Entry, error) {
	return nil, errors.New("cache tree gone")
}

func requireZlib(t *testing.T, f *fixtures) {
	t.Helper()
	if f.hasZlib {
		return
	}
	msg := "/usr/include/zlib.h is missing: install zlib1g-dev"
	if testutil.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func show(es []Edge) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s -> %s -> %s (%s)\n", e.File, e.Soname, e.NodeID, e.Path)
	}
	if b.Len() == 0 {
		return "  (none)"
	}
	return b.String()
}
