package deb

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
)

func TestDistro(t *testing.T) {
	for _, c := range []struct{ suite, version, want string }{
		{"bookworm", "", "debian-12"},
		{"bookworm", "12.5", "debian-12"},
		{"trixie", "", "debian-13"},
		{"trixie", "13.1", "debian-13"},
		{"trixie-security", "", "debian-13"},
		{"forky", "", "debian-14"},
		{"stable", "13.2", "debian-13"}, // the Release file names the number
		{"sid", "", "debian"},           // no VERSION_ID, as syft reads it
		{"unstable", "", "debian"},
		{"testing", "", "debian"},
	} {
		if got := Distro(c.suite, c.version); got != c.want {
			t.Errorf("Distro(%q, %q) = %q, want %q", c.suite, c.version, got, c.want)
		}
	}
}

func TestPURL(t *testing.T) {
	if got, want := PURL("libc6", "2.36-9+deb12u4", "amd64", "glibc", "debian-12"), "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"; got != want {
		t.Errorf("PURL = %s, want %s", got, want)
	}
	if got, want := PURL("hello", "2.10-3", "amd64", "hello", "debian-13"), "pkg:deb/debian/hello@2.10-3?arch=amd64&distro=debian-13"; got != want {
		t.Errorf("PURL = %s, want %s", got, want)
	}
}

const dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: glibc\n\nFiles: *\nLicense: LGPL-2.1+\n\nFiles: debian/*\nLicense: GPL-2+\n\nLicense: LGPL-2.1+\n text\n .\n more\n"

func TestLicenses(t *testing.T) {
	if got, want := Licenses(dep5), []string{"GPL-2+", "LGPL-2.1+"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Licenses = %v, want %v", got, want)
	}
	perl := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-1+ or Artistic\n\nFiles: cpan/*\nLicense: Artistic or GPL-1+\n"
	if got := Licenses(perl); !reflect.DeepEqual(got, []string{"Artistic or GPL-1+", "GPL-1+ or Artistic"}) {
		t.Errorf("expressions: %v", got)
	}
	if got := Licenses("This is the Debian prepackaged version of foo.\n\nCopyright: GPL\n"); got != nil {
		t.Errorf("a free-form copyright file gave %v", got)
	}
}

// A trixie closure says debian-13 in every purl (it said debian-12 before
// the Debian source recorded the distro), and the licences come from each
// package's own copyright file.
func TestResolveRecordsPurlDistroAndLicense(t *testing.T) {
	pkgs := standardPackages()
	for i := range pkgs {
		if strings.HasPrefix(pkgs[i].stanza, "Package: libc6\n") {
			pkgs[i].files = append(pkgs[i].files, debtest.File{Name: "./usr/share/doc/libc6/copyright", Body: dep5})
		}
	}
	a := newTestArchive(t, pkgs)
	for _, c := range []struct{ suite, extra, want string }{
		{"trixie", "", "debian-13"},
		{"bookworm", "Version: 12.5\n", "debian-12"},
		{"sid", "", "debian"},
	} {
		a.suite, a.releaseExtra = c.suite, c.extra
		a.publish(t, pkgs, true)
		off := false
		sp := a.spec("hello")
		sp.Debian.Updates = &off
		res, err := New(sp, testStore(t)).Resolve(context.Background(), amd64Request(nil))
		if err != nil {
			t.Fatalf("%s: %v", c.suite, err)
		}
		for _, id := range []string{"deb:hello:amd64", "deb:libc6:amd64", "deb:libgcc-s1:amd64"} {
			n := res.Graph.Nodes[id]
			want := PURL(n.Name, n.Version, "amd64", "", c.want)
			if n.Meta[MetaPURL] != want || !strings.Contains(want, "distro="+c.want) {
				t.Errorf("%s: %s purl %q, want %q", c.suite, id, n.Meta[MetaPURL], want)
			}
			if n.Meta[MetaDistro] != c.want {
				t.Errorf("%s: %s distro %q, want %q", c.suite, id, n.Meta[MetaDistro], c.want)
			}
		}
		if got := res.Graph.Nodes["deb:libc6:amd64"].Meta[MetaLicense]; got != "GPL-2+, LGPL-2.1+" {
			t.Errorf("%s: libc6 licence %q", c.suite, got)
		}
		if got, ok := res.Graph.Nodes["deb:hello:amd64"].Meta[MetaLicense]; ok {
			t.Errorf("%s: hello has no copyright file but licence %q", c.suite, got)
		}
	}
}
