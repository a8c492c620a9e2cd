package deb

import (
	"context"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/store"
)

func unpackTest(t *testing.T, st *store.Store, name string, files ...debtest.File) *debfile.Package {
	t.Helper()
	ctl := "Package: " + name + "\nVersion: 1\nArchitecture: amd64\nMaintainer: T <t@example.invalid>\nInstalled-Size: 1\nDescription: x\n"
	path, sum := debtest.Build(t, t.TempDir(), name+".deb", debtest.Deb{Control: ctl, Files: files})
	p, err := debfile.Unpack(context.Background(), st, path, sum)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOverlapsBetweenPackages(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := unpackTest(t, st, "pkga", debtest.File{Name: "./usr/"}, debtest.File{Name: "./usr/share/x", Mode: 0o644, Body: "same"}, debtest.File{Name: "./bin/tool", Mode: 0o755, Body: "A"})
	b := unpackTest(t, st, "pkgb", debtest.File{Name: "./usr/"}, debtest.File{Name: "./usr/share/x", Mode: 0o644, Body: "same"})
	c := unpackTest(t, st, "pkgc", debtest.File{Name: "./usr/bin/tool", Mode: 0o755, Body: "C"})
	if err := checkOverlaps([]*debfile.Package{a, b}); err != nil {
		t.Errorf("identical file and shared folder refused: %v", err)
	}
	// bin/tool and usr/bin/tool meet after the merged-/usr rewrite.
	err = checkOverlaps([]*debfile.Package{a, b, c})
	if err == nil || !strings.Contains(err.Error(), "pkga and pkgc both ship /usr/bin/tool") || !strings.Contains(err.Error(), "debian.exclude") {
		t.Errorf("conflicting file: %v", err)
	}
}
