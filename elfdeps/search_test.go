package elfdeps

import (
	"debug/elf"
	"slices"
	"testing"

	"github.com/stratabuild/strata/closure"
)

func TestSearchDirs(t *testing.T) {
	amd64 := func(mod func(*object)) *object {
		o := &object{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_X86_64}
		if mod != nil {
			mod(o)
		}
		return o
	}
	rpath := func(p ...string) func(*object) { return func(o *object) { o.rpath = p } }
	runpath := func(p ...string) func(*object) {
		return func(o *object) { o.runpath, o.hasRunpath = p, true }
	}
	x86 := []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib", "lib64", "usr/lib64"}
	with := func(first ...string) []string { return append(first, x86...) }

	for _, tc := range []struct {
		name  string
		chain []loaded
		want  []string
	}{
		{"amd64 system folders", []loaded{{amd64(nil), "usr/bin"}}, x86},
		{"arm64 system folders", []loaded{{&object{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_AARCH64}, "usr/bin"}},
			[]string{"lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib", "usr/lib", "lib64", "usr/lib64"}},
		{"i386 has no lib64", []loaded{{&object{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_386}, "usr/bin"}},
			[]string{"lib/i386-linux-gnu", "usr/lib/i386-linux-gnu", "lib", "usr/lib"}},
		{"armhf by the float-ABI flag", []loaded{{&object{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_ARM, flags: 0x05000400}, "usr/bin"}},
			[]string{"lib/arm-linux-gnueabihf", "usr/lib/arm-linux-gnueabihf", "lib", "usr/lib"}},
		{"armel without it", []loaded{{&object{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_ARM, flags: 0x05000200}, "usr/bin"}},
			[]string{"lib/arm-linux-gnueabi", "usr/lib/arm-linux-gnueabi", "lib", "usr/lib"}},
		{"ppc64el", []loaded{{&object{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_PPC64}, ""}},
			[]string{"lib/powerpc64le-linux-gnu", "usr/lib/powerpc64le-linux-gnu", "lib", "usr/lib", "lib64", "usr/lib64"}},
		{"unknown machine: plain folders", []loaded{{&object{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_M32}, ""}},
			[]string{"lib", "usr/lib"}},
		{"RUNPATH with $ORIGIN first, then system", []loaded{{amd64(runpath("$ORIGIN/../lib", "/opt/x")), "usr/local/bin"}},
			with("usr/local/bin/../lib", "opt/x")},
		{"${ORIGIN} and $LIB", []loaded{{amd64(rpath("${ORIGIN}/sub", "/opt/$LIB")), "app"}},
			with("app/sub", "opt/lib/x86_64-linux-gnu")},
		{"$ORIGIN at the root", []loaded{{amd64(runpath("$ORIGIN/lib")), ""}},
			[]string{"lib", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "usr/lib", "lib64", "usr/lib64"}},
		{"relative, empty and unknown-token elements are dropped", []loaded{{amd64(runpath("lib", "", "/opt/$PLATFORM/lib", "./x", "/ok")), "usr/bin"}},
			with("ok")},
		{"a duplicate is searched once", []loaded{{amd64(runpath("/usr/lib/x86_64-linux-gnu", "/opt")), "usr/bin"}},
			[]string{"usr/lib/x86_64-linux-gnu", "opt", "lib/x86_64-linux-gnu", "lib", "usr/lib", "lib64", "usr/lib64"}},
		{"RPATH is inherited, the library's own first", []loaded{
			{amd64(rpath("/a")), "usr/bin"},
			{amd64(rpath("$ORIGIN/b")), "opt/lib"},
		}, with("opt/lib/b", "a")},
		{"a RUNPATH turns the loaders' RPATH off", []loaded{
			{amd64(rpath("/a")), "usr/bin"},
			{amd64(runpath("/c")), "opt/lib"},
		}, with("c")},
		{"RUNPATH is not inherited", []loaded{
			{amd64(runpath("/a")), "usr/bin"},
			{amd64(nil), "opt/lib"},
		}, x86},
		{"a loader with RUNPATH lends no RPATH", []loaded{
			{amd64(rpath("/a")), "usr/bin"},
			{amd64(func(o *object) { o.rpath = []string{"/m"}; o.hasRunpath = true }), "opt/m"},
			{amd64(nil), "opt/lib"},
		}, with("a")},
		{"$ORIGIN is each object's own", []loaded{
			{amd64(rpath("$ORIGIN/x")), "usr/bin"},
			{amd64(rpath("$ORIGIN/y")), "opt/lib"},
		}, with("opt/lib/y", "usr/bin/x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := searchDirs(tc.chain); !slices.Equal(got, tc.want) {
				t.Errorf("searchDirs =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestIndexFile(t *testing.T) {
	reg := func(p string) closure.Entry { return closure.Entry{Path: p, Type: closure.Regular, Size: 1} }
	ix := &index{paths: map[string][]owned{}}
	for _, o := range []struct {
		node string
		e    closure.Entry
	}{
		{outputNode, reg("opt/app/lib/libown.so.1")},
		{outputNode, symlink("opt/app/lib/libfoo.so.1", "/usr/lib/libfoo.so.1.2")},
		{"generated", symlink("lib", "usr/lib")},
		{"generated", symlink("lib64", "usr/lib64")},
		{"generated", symlink("usr/local/bin", "../../opt/bin")},
		{"libc6", symlink("usr/lib64/ld.so", "/lib/x/ld.so")},
		{"libc6", reg("usr/lib/x/ld.so")},
		{"libc6", reg("usr/lib/x/libc.so.6")},
		{"libc6", closure.Entry{Path: "usr/lib/x/libc-hard.so", Type: closure.Hardlink, Link: "usr/lib/x/libc.so.6"}},
		{"libfoo1", reg("usr/lib/libfoo.so.1.2")},
		{"libfoo1", symlink("usr/lib/libfoo.so.1", "libfoo.so.1.2")},
		{"libfoo-dev", symlink("usr/lib/libfoo.so", "libfoo.so.1")},
		{"libfoo-other", reg("usr/lib/libfoo.so.1.2")},
		{"opt", reg("opt/lib/libq.so")},
		{"loop", symlink("loop/a", "b")},
		{"loop", symlink("loop/b", "a")},
		{"dangling", symlink("usr/lib/libgone.so.1", "libgone.so.1.0")},
		{"dir", dir("usr/share/doc")},
	} {
		ix.add(o.node, o.e)
	}
	for _, tc := range []struct {
		in, path, node string
	}{
		{"lib64/ld.so", "usr/lib/x/ld.so", "libc6"},
		{"/lib64/ld.so", "usr/lib/x/ld.so", "libc6"},
		{"lib/x/libc.so.6", "usr/lib/x/libc.so.6", "libc6"},
		{"usr/lib/x/libc-hard.so", "usr/lib/x/libc.so.6", "libc6"},
		{"usr/lib/libfoo.so", "usr/lib/libfoo.so.1.2", "libfoo1"}, // the first owner added (newIndex adds nodes in ID order)
		{"opt/app/lib/libfoo.so.1", "usr/lib/libfoo.so.1.2", "libfoo1"},
		{"opt/app/lib/libown.so.1", "opt/app/lib/libown.so.1", outputNode},
		// ".." after a symlinked folder is physical, as the kernel takes it.
		{"usr/local/bin/../lib/libq.so", "opt/lib/libq.so", "opt"},
		{"usr/lib/x/../../../../lib/x/ld.so", "usr/lib/x/ld.so", "libc6"},
		{"loop/a", "", ""},
		{"usr/lib/libgone.so.1", "", ""},
		{"usr/share/doc", "", ""},
		{"usr/lib/nothing.so", "", ""},
	} {
		p, o, ok := ix.file(tc.in)
		if tc.path == "" {
			if ok {
				t.Errorf("file(%q) = %q in %q, want not found", tc.in, p, o.node)
			}
			continue
		}
		if !ok || p != tc.path || o.node != tc.node {
			t.Errorf("file(%q) = %q in %q (%v), want %q in %q", tc.in, p, o.node, ok, tc.path, tc.node)
		}
	}
}
