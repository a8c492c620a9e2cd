package sysfiles_test

import (
	"context"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/closure/deb/sysfiles"
)

func unpackScripts(t *testing.T, control, postinst string, files ...debtest.File) *debfile.Package {
	t.Helper()
	d := debtest.Deb{Control: control, Files: files, Scripts: map[string]string{"postinst": postinst}}
	debPath, sum := debtest.Build(t, t.TempDir(), "p.deb", d)
	p, err := debfile.Unpack(context.Background(), newStore(t), debPath, sum)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGenerateAlternatives(t *testing.T) {
	mawk := unpackScripts(t, "Package: mawk\nVersion: 1.3.4\nArchitecture: amd64\n", `#!/bin/sh
set -e
if [ "$1" = configure ]; then
        update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 \
            --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/mawk.1.gz \
            --slave /usr/bin/nawk nawk /usr/bin/mawk
fi
`,
		debtest.File{Name: "./usr/bin/mawk", Mode: 0o755, Body: "\x7fELF mawk"},
		debtest.File{Name: "./usr/share/man/man1/mawk.1.gz", Body: "man"},
	)
	utilLinux := unpackScripts(t, "Package: util-linux\nVersion: 2.38\nArchitecture: amd64\n", `#!/bin/sh
# update-alternatives --install /usr/bin/commented c /bin/more 99
update-alternatives --install /usr/bin/pager pager /bin/more 50 \
	--slave /usr/share/man/man1/pager.1.gz pager.1.gz \
	/usr/share/man/man1/more.1.gz
update-alternatives --install "$BINPATH"/w w "$BINPATH"/w.procps 50
update-alternatives --install /usr/bin/ghost ghost /usr/bin/not-shipped 10
update-alternatives --install '/usr/bin/awk' "awk" /usr/bin/better-awk 10 || true
`,
		debtest.File{Name: "./bin/more", Mode: 0o755, Body: "\x7fELF more"},
		debtest.File{Name: "./usr/bin/w.procps", Mode: 0o755, Body: "\x7fELF w"},
		debtest.File{Name: "./usr/bin/better-awk", Mode: 0o755, Body: "\x7fELF awk"},
	)
	pkgs := []*debfile.Package{mawk, utilLinux}
	c, _, err := sysfiles.Generate(context.Background(), sysfiles.Options{Packages: pkgs, Suite: "bookworm", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	m := merged(t, c, pkgs...)
	for link, want := range map[string]string{
		"/usr/bin/awk":   "usr/bin/better-awk", // priority 10 beats mawk's 5
		"/usr/bin/pager": "usr/bin/more",       // /bin/more through the merged-/usr symlink
	} {
		if got := resolve(t, m, link); got != want {
			t.Errorf("%s resolves to %s, want %s", link, got, want)
		}
	}
	if e := m["usr/bin/awk"]; e.Type != closure.Symlink || e.Link != "/etc/alternatives/awk" {
		t.Errorf("usr/bin/awk = %s %q", e.Type, e.Link)
	}
	if e := m["etc/alternatives/pager"]; e.Type != closure.Symlink || e.Link != "/bin/more" {
		t.Errorf("etc/alternatives/pager = %s %q", e.Type, e.Link)
	}
	// Not made: the loser's slaves, a slave whose file is not shipped,
	// calls with shell variables, candidates whose file is not shipped,
	// and commented-out calls.
	for _, absent := range []string{"usr/bin/nawk", "usr/share/man/man1/awk.1.gz", "usr/share/man/man1/pager.1.gz", "usr/bin/w", "usr/bin/ghost", "usr/bin/commented", "etc/alternatives/nawk"} {
		if e, ok := m[absent]; ok {
			t.Errorf("%s was made (%s -> %s)", absent, e.Type, e.Link)
		}
	}

	// Alone, mawk wins awk and its slaves.
	c, _, err = sysfiles.Generate(context.Background(), sysfiles.Options{Packages: []*debfile.Package{mawk}, Suite: "bookworm", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	m = merged(t, c, mawk)
	for link, want := range map[string]string{
		"/usr/bin/awk":                 "usr/bin/mawk",
		"/usr/bin/nawk":                "usr/bin/mawk",
		"/usr/share/man/man1/awk.1.gz": "usr/share/man/man1/mawk.1.gz",
	} {
		if got := resolve(t, m, link); got != want {
			t.Errorf("%s resolves to %s, want %s", link, got, want)
		}
	}
}
