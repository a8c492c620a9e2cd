package imagetest

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/closure/nix"
)

// Store hash parts used by the sample (32 characters of Nix's base32).
const (
	GlibcHash = "0c7kk3fqysqz8pbdzrfxhdak0hr7kfwr"
	HelloHash = "9v5jd8xz2ylsmrlb6yrk0gyqnx4h1w0r"
)

// Copyright is a machine-readable debian/copyright for the sample's libc6.
const Copyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: glibc

Files: *
Copyright: 1991-2023 Free Software Foundation, Inc.
License: LGPL-2.1+

Files: debian/*
Copyright: 1997-2023 Debian
License: GPL-2+

License: LGPL-2.1+
 This library is free software; you can redistribute it and/or
 modify it under the terms of the GNU Lesser General Public
 .
 more text

License: GPL-2+
 This program is free software.
`

// SampleLayers are the layers of Sample: two Debian layers with
// distroless-style status files, a Nix layer whose hello refers to glibc,
// and a files layer.
func SampleLayers() []LayerSpec {
	return []LayerSpec{
		{CreatedBy: "strata: deb libc6", Files: []File{
			Dir("etc"), Reg("etc/os-release", "ID=debian\nVERSION_ID=12\n"),
			Dir("usr"), Dir("usr/lib"), Exec("usr/lib/libc.so.6", "libc-bytes-0123456789"),
			Dir("usr/share"), Dir("usr/share/doc"), Dir("usr/share/doc/libc6"),
			Reg("usr/share/doc/libc6/copyright", Copyright),
			Dir("var"), Dir("var/lib"), Dir("var/lib/dpkg"), Dir("var/lib/dpkg/status.d"),
			Reg("var/lib/dpkg/status.d/libc6", "Package: libc6\nStatus: install ok installed\nSource: glibc\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nInstalled-Size: 12\nDepends: libgcc-s1\nDescription: GNU C Library\n shared libraries\n"),
			Reg("var/lib/dpkg/status.d/libc6.md5sums", "0123  usr/lib/libc.so.6\n"),
		}},
		{CreatedBy: "strata: deb hello libgcc-s1", Files: []File{
			Dir("usr"), Dir("usr/bin"), Exec("usr/bin/hello", "#!hello\n"),
			Dir("var"), Dir("var/lib"), Dir("var/lib/dpkg"), Dir("var/lib/dpkg/status.d"),
			Reg("var/lib/dpkg/status.d/hello", "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nMaintainer: Santiago Vila <sanvila@debian.org>\nInstalled-Size: 3\nDepends: libc6 (>= 2.34), libgcc-s1 | libgcc1\n"),
			Reg("var/lib/dpkg/status.d/libgcc-s1", "Package: libgcc-s1\nVersion: 12.2.0-14\nArchitecture: amd64\nMaintainer: Debian GCC Maintainers <debian-gcc@lists.debian.org>\nInstalled-Size: 1\nProvides: libgcc1\nDepends: libc6 (>= 2.35)\n"),
		}},
		{CreatedBy: "strata: nix hello-2.12.1", Files: []File{
			Dir("nix"), Dir("nix/store"),
			Dir("nix/store/" + GlibcHash + "-glibc-2.38"), Dir("nix/store/" + GlibcHash + "-glibc-2.38/lib"),
			Exec("nix/store/"+GlibcHash+"-glibc-2.38/lib/libc.so.6", "nix-libc-bytes"),
			Dir("nix/store/" + HelloHash + "-hello-2.12.1"), Dir("nix/store/" + HelloHash + "-hello-2.12.1/bin"),
			Exec("nix/store/"+HelloHash+"-hello-2.12.1/bin/hello", "ELF..../nix/store/"+GlibcHash+"-glibc-2.38/lib/ld-linux-x86-64.so.2...."),
		}},
		{CreatedBy: "strata: files app (files:0)", Files: []File{
			Dir("app"), Reg("app/config.json", `{"port":8080}`), Exec("app/run.sh", "#!/bin/sh\nexec hello\n"),
			Symlink("app/current", "run.sh"),
		}},
	}
}

// SampleConfig is the runtime config of Sample.
func SampleConfig() v1.Config {
	return v1.Config{
		Entrypoint:   []string{"/app/run.sh"},
		Env:          []string{"PATH=/usr/bin:/bin"},
		User:         "65532",
		WorkingDir:   "/app",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels:       map[string]string{"org.opencontainers.image.title": "sample"},
	}
}

// Sample is a strata-like image for linux/amd64.
func Sample() (v1.Image, error) {
	return Image(ImageSpec{OS: "linux", Arch: "amd64", Config: SampleConfig(), Layers: SampleLayers()})
}

// SampleGraph is a fixed closure: hello (deb) depends on libc6, libgcc-s1
// and perl-base; libgcc-s1 and perl-base depend on libc6; tzdata, the Nix
// hello (which depends on the Nix glibc) and a files entry are roots too.
func SampleGraph() *closure.Graph {
	g := closure.New()
	// The purls are what the sources record (bookworm packages; perl-base
	// as if read from a 12.5 Release file).
	add := func(n *closure.Node) {
		switch n.Kind {
		case closure.KindDeb:
			distro := deb.Distro("bookworm", "")
			if d := n.Meta["distro"]; d != "" {
				distro = d
			}
			n.Meta["purl"] = deb.PURL(n.Name, n.Version, n.Arch, n.Meta["source"], distro)
		case closure.KindNix:
			n.Meta["purl"] = nix.PURL(n.ID[len("nix:"):])
		}
		if err := g.Add(n); err != nil {
			panic(err)
		}
	}
	add(&closure.Node{ID: "deb:hello:amd64", Kind: closure.KindDeb, Name: "hello", Version: "2.10-3", Arch: "amd64", Size: 100_000,
		Deps: []string{"deb:libc6:amd64", "deb:libgcc-s1:amd64", "deb:perl-base:amd64"},
		Meta: map[string]string{"maintainer": "Santiago Vila <sanvila@debian.org>", "license": "GPL-3+", "sha256": "5b1c2a0b8cc4dc4ef8e2b6d3e7ee2b1ac1b1e0bbd5d2c0a4e1f5d6c7b8a9f0e1"}})
	add(&closure.Node{ID: "deb:libc6:amd64", Kind: closure.KindDeb, Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Size: 12_000_000,
		Meta: map[string]string{"maintainer": "GNU Libc Maintainers <debian-glibc@lists.debian.org>", "license": "GPL-2+, LGPL-2.1+", "sha256": "a3e4b5c6d7e8f90112233445566778899aabbccddeeff00112233445566778899"}})
	add(&closure.Node{ID: "deb:libgcc-s1:amd64", Kind: closure.KindDeb, Name: "libgcc-s1", Version: "12.2.0-14", Arch: "amd64", Size: 150_000,
		Deps: []string{"deb:libc6:amd64"}, Meta: map[string]string{"maintainer": "Debian GCC Maintainers <debian-gcc@lists.debian.org>", "license": "GPL-3+ with GCC-exception-3.1"}})
	add(&closure.Node{ID: "deb:perl-base:amd64", Kind: closure.KindDeb, Name: "perl-base", Version: "5.36.0-7+deb12u1", Arch: "amd64", Size: 7_000_000,
		Deps: []string{"deb:libc6:amd64"}, Meta: map[string]string{"license": "GPL-1+ or Artistic", "distro": "debian-12.5"}})
	add(&closure.Node{ID: "deb:tzdata:all", Kind: closure.KindDeb, Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all", Size: 2_000_000,
		Meta: map[string]string{"license": "public-domain"}})
	add(&closure.Node{ID: "nix:/nix/store/" + HelloHash + "-hello-2.12.1", Kind: closure.KindNix, Name: "hello", Version: "2.12.1", Size: 300_000,
		Deps: []string{"nix:/nix/store/" + GlibcHash + "-glibc-2.38"},
		Meta: map[string]string{"narHash": "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"}})
	add(&closure.Node{ID: "nix:/nix/store/" + GlibcHash + "-glibc-2.38", Kind: closure.KindNix, Name: "glibc", Version: "2.38", Size: 30_000_000,
		Meta: map[string]string{"narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}})
	add(&closure.Node{ID: "files:0", Kind: closure.KindFiles, Name: "app", Size: 20})
	g.Roots = []string{"deb:hello:amd64", "deb:tzdata:all", "nix:/nix/store/" + HelloHash + "-hello-2.12.1", "files:0"}
	return g
}
