package deb_test

import (
	"testing"

	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/imagefs"
	"github.com/stratabuild/strata/imageref/imagetest"
)

// Packages read back from a trixie image say debian-13, as its os-release
// does; a copyright file deleted by a later layer gives no licence.
func TestFromImageTrixie(t *testing.T) {
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{Files: []imagetest.File{
			imagetest.Reg("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\nID=debian\n"),
			imagetest.Reg("usr/share/doc/libc6/copyright", imagetest.Copyright),
			imagetest.Reg("usr/share/doc/zlib1g/copyright", imagetest.Copyright),
			imagetest.Reg("var/lib/dpkg/status.d/libc6", "Package: libc6\nSource: glibc\nVersion: 2.41-12\nArchitecture: amd64\nInstalled-Size: 2\n"),
			imagetest.Reg("var/lib/dpkg/status.d/zlib1g", "Package: zlib1g\nVersion: 1:1.3.dfsg-3\nArchitecture: amd64\nDepends: libc6 (>= 2.14)\n"),
		}},
		{Files: []imagetest.File{imagetest.Whiteout("usr/share/doc/zlib1g/copyright")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := imagefs.Flatten(img, false)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := deb.FromImage(fs)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != "deb:libc6:amd64" || nodes[1].ID != "deb:zlib1g:amd64" {
		t.Fatalf("nodes %v", nodes)
	}
	libc, zlib := nodes[0], nodes[1]
	if got, want := libc.Meta[deb.MetaPURL], "pkg:deb/debian/libc6@2.41-12?arch=amd64&distro=debian-13&upstream=glibc"; got != want {
		t.Errorf("libc6 purl %s, want %s", got, want)
	}
	if got, want := zlib.Meta[deb.MetaPURL], "pkg:deb/debian/zlib1g@1%3A1.3.dfsg-3?arch=amd64&distro=debian-13"; got != want {
		t.Errorf("zlib1g purl %s, want %s", got, want)
	}
	if libc.Meta[deb.MetaLicense] != "GPL-2+, LGPL-2.1+" || zlib.Meta[deb.MetaLicense] != "" {
		t.Errorf("licences %q %q", libc.Meta[deb.MetaLicense], zlib.Meta[deb.MetaLicense])
	}
	if len(zlib.Deps) != 1 || zlib.Deps[0] != libc.ID || libc.Size != 2048 {
		t.Errorf("zlib1g deps %v, libc6 size %d", zlib.Deps, libc.Size)
	}
}
