package deb

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imagefs"
)

// statusDir holds one dpkg status paragraph per package, as distroless
// images (and strata's generated layer) write it.
const statusDir = "var/lib/dpkg/status.d/"

// FromImage recovers the Debian packages an image holds, from its final
// filesystem: every var/lib/dpkg/status.d/NAME paragraph becomes a KindDeb
// node (Package, Version, Architecture, Maintainer, Source,
// Installed-Size; Depends and Pre-Depends resolved against the packages
// present, the first alternative present wins, Provides honoured) with the
// same Meta facts Resolve records: purl, distro (from the image's
// os-release, as scanners read it) and the licences of
// usr/share/doc/NAME/copyright when it is machine-readable. Nodes come in
// ID order; roots are left to the caller, which sees every source's nodes.
func FromImage(fs *imagefs.FS) ([]*closure.Node, error) {
	files, err := fs.ReadFiles(func(p string) bool {
		return strings.HasPrefix(p, statusDir) || isCopyright(p) || p == "etc/os-release" || p == "usr/lib/os-release"
	}, maxCopyrightBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the dpkg status files: %w", err)
	}
	distro := imageDistro(files)
	type debPkg struct {
		node     *closure.Node
		depends  string
		provides []string
	}
	var debs []*debPkg
	seen := map[string]bool{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		name, ok := strings.CutPrefix(p, statusDir)
		if !ok || strings.Contains(name, "/") || strings.Contains(name, ".md5sums") {
			continue
		}
		paras, err := fieldMaps(string(files[p]))
		if err != nil {
			return nil, fmt.Errorf("reading /%s: %w", p, err)
		}
		for _, f := range paras {
			pkg := f["package"]
			if pkg == "" {
				continue
			}
			arch := f["architecture"]
			n := &closure.Node{
				ID: nodeID(pkg, arch), Kind: closure.KindDeb,
				Name: pkg, Version: f["version"], Arch: arch,
				Meta: map[string]string{MetaDistro: distro},
			}
			if seen[n.ID] {
				continue
			}
			seen[n.ID] = true
			if m := f["maintainer"]; m != "" {
				n.Meta["maintainer"] = m
			}
			src := ""
			if s, _, _ := strings.Cut(strings.TrimSpace(f["source"]), " "); s != "" {
				src = s
				n.Meta["source"] = s
			}
			n.Meta[MetaPURL] = PURL(pkg, n.Version, arch, src, distro)
			if kb, err := strconv.ParseInt(strings.TrimSpace(f["installed-size"]), 10, 64); err == nil {
				n.Size = kb * 1024
			}
			if c, ok := files[copyrightPath(pkg)]; ok {
				if ls := Licenses(string(c)); len(ls) > 0 {
					n.Meta[MetaLicense] = strings.Join(ls, ", ")
				}
			}
			deps := f["depends"]
			if pd := f["pre-depends"]; pd != "" {
				deps = pd + ", " + deps
			}
			debs = append(debs, &debPkg{node: n, depends: deps, provides: depNames(f["provides"])})
		}
	}
	byName := map[string][]*closure.Node{}
	for _, d := range debs {
		byName[d.node.Name] = append(byName[d.node.Name], d.node)
	}
	for _, d := range debs {
		for _, pv := range d.provides {
			byName[pv] = append(byName[pv], d.node)
		}
	}
	out := make([]*closure.Node, 0, len(debs))
	for _, d := range debs {
		got := map[string]bool{}
		for _, group := range strings.Split(d.depends, ",") {
			for _, alt := range strings.Split(group, "|") {
				cands := byName[depName(alt)]
				if len(cands) == 0 {
					continue
				}
				target := pickArch(cands, d.node.Arch)
				if target.ID != d.node.ID && !got[target.ID] {
					got[target.ID] = true
					d.node.Deps = append(d.node.Deps, target.ID)
				}
				break
			}
		}
		sort.Strings(d.node.Deps)
		out = append(out, d.node)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func isCopyright(p string) bool {
	return strings.HasPrefix(p, "usr/share/doc/") && strings.HasSuffix(p, "/copyright") && strings.Count(p, "/") == 4
}

// imageDistro is the purl distro of an image's packages as scanners read
// it from os-release: ID-VERSION_ID ("debian-12"), the codename's number
// when VERSION_ID is missing, plain "debian" for sid or no os-release.
func imageDistro(files map[string][]byte) string {
	b, ok := files["etc/os-release"]
	if !ok {
		b = files["usr/lib/os-release"]
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(k, "#") {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	if v := kv["VERSION_ID"]; v != "" {
		return "debian-" + v
	}
	return Distro(kv["VERSION_CODENAME"], "")
}

// depName is the package name of one relation alternative ("libc6 (>= 2)"
// -> "libc6", "python3:any" -> "python3").
func depName(alt string) string {
	alt = strings.TrimSpace(alt)
	if i := strings.IndexAny(alt, " ([\n"); i >= 0 {
		alt = alt[:i]
	}
	alt, _, _ = strings.Cut(alt, ":")
	return strings.TrimSpace(alt)
}

func depNames(list string) []string {
	var out []string
	for _, x := range strings.Split(list, ",") {
		if n := depName(x); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func pickArch(cands []*closure.Node, arch string) *closure.Node {
	best := cands[0]
	for _, c := range cands {
		if c.Arch == arch {
			return c
		}
		if c.Arch == "all" {
			best = c
		}
	}
	return best
}
