package build

import (
	"context"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
)

func dir(p string) closure.Entry { return closure.Entry{Path: p, Type: closure.Dir, Mode: 0o755} }

func filesNode(i string, dst string, entries ...closure.Entry) *closure.Node {
	n := staticNode("files:"+i, closure.KindFiles, entries...)
	n.Meta["dst"] = dst
	return n
}

// A files entry may not cross or replace a symlink or folder another input
// provides (issue 15 hole 9); the error names both inputs and, through a
// link, the path to write instead. A file over a file stays allowed.
func TestCheckBreakers(t *testing.T) {
	system := staticNode("generated:debian-system", closure.KindGenerated, link("bin", "usr/bin"), link("lib64", "/usr/lib64"), dir("usr"), dir("usr/bin"))
	system.Name = "debian-system"
	libc := &closure.Node{ID: "deb:libc6", Kind: closure.KindDeb, Name: "libc6", Meta: map[string]string{},
		Contents: closure.StaticContents{ID: "t:libc6", List: []closure.Entry{dir("usr/lib"), file("usr/lib/x86_64-linux-gnu/libc.so.6", "elf"), file("etc/nsswitch.conf", "a")}}}
	cases := []struct {
		name  string
		files *closure.Node
		want  []string // nil: accepted
	}{
		{"dst /bin/sh crosses merged /usr", filesNode("000", "/bin/sh", file("bin/sh", "#!")),
			[]string{"files[0] (dst /bin/sh)", "/bin", "the generated layer debian-system", "symlink to usr/bin", "write to /usr/bin/sh instead"}},
		{"absolute link", filesNode("000", "/lib64/ld.so", file("lib64/ld.so", "elf")),
			[]string{"files[0]", "/lib64", "write to /usr/lib64/ld.so instead"}},
		{"file hides a folder", filesNode("001", "/usr/lib", file("usr/lib", "oops")),
			[]string{"files[1] (dst /usr/lib)", "puts a file at /usr/lib", "Debian package libc6 provides as a folder"}},
		{"folder over a symlink", filesNode("000", "/bin", dir("bin"), file("bin/app", "x")),
			[]string{"files[0] (dst /bin)", "puts a folder at /bin", "symlink to usr/bin"}},
		{"file replaces a symlink", filesNode("000", "/bin", file("bin", "x")),
			[]string{"puts a file at /bin", "write to /usr/bin instead"}},
		{"under another input's file", filesNode("000", "/etc/nsswitch.conf/x", file("etc/nsswitch.conf/x", "x")),
			[]string{"under /etc/nsswitch.conf", "Debian package libc6 provides as a file"}},
		{"through the link's target is fine", filesNode("000", "/usr/bin/sh", file("usr/bin/sh", "#!")), nil},
		{"file over a file is fine", filesNode("000", "/etc/nsswitch.conf", file("etc/nsswitch.conf", "b")), nil},
		{"folder into a folder is fine", filesNode("000", "/usr/lib/app", dir("usr/lib/app"), file("usr/lib/app/x", "x")), nil},
		{"the same symlink is fine", filesNode("000", "/bin", link("bin", "usr/bin")), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, plan := graphOf(t, system, libc, c.files)
			err := checkBreakers(context.Background(), g, plan)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Two files entries are inputs too: one may not put a file where the
// other's folder is.
func TestCheckBreakersBetweenFiles(t *testing.T) {
	a := filesNode("000", "/srv/app", dir("srv/app"), file("srv/app/x", "x"))
	b := filesNode("001", "/srv", file("srv", "x"))
	g, plan := graphOf(t, a, b)
	err := checkBreakers(context.Background(), g, plan)
	if err == nil || !strings.Contains(err.Error(), "files[1] (dst /srv)") || !strings.Contains(err.Error(), "files[0] (dst /srv/app)") {
		t.Fatalf("err = %v", err)
	}
}

// checkImage, which every build runs before writing layers, refuses it.
func TestCheckImageRefusesBreakers(t *testing.T) {
	system := staticNode("generated:debian-system", closure.KindGenerated, link("bin", "usr/bin"))
	g, plan := graphOf(t, system, filesNode("000", "/bin/sh", file("bin/sh", "#!")))
	s := testSpec(t, "name: app\n")
	err := checkImage(context.Background(), s, closure.Platform{OS: "linux", Arch: "amd64"}, g, plan, nil, nil)
	if err == nil || !strings.Contains(err.Error(), s.Path) || !strings.Contains(err.Error(), "write to /usr/bin/sh instead") {
		t.Fatalf("err = %v", err)
	}
}
