package deb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/spec"
)

// Keep names the kinds of files debian.keep asks to keep; strata prunes
// the others from every package (see prunedPath), and the spec's path
// filters (debian.paths, debian.packagePaths) drop and re-admit more.
type Keep struct {
	Docs, Man, Locales bool
	// Certs keeps the ca-certificates package whole (its certificates,
	// update-ca-certificates, its folders in etc) and makes the generator
	// write the NAME.pem and hash links; without it only the package's
	// copyright file and the generated bundle stay (see certsPruned).
	Certs bool
	// SpecOSRelease says the spec's osRelease writes the os-release
	// files, so the packages' (base-files') etc/os-release and
	// usr/lib/os-release are left out.
	SpecOSRelease bool
	// SpecNsswitch says the spec's nsswitch writes etc/nsswitch.conf,
	// so a package's is left out.
	SpecNsswitch bool
	// Paths is debian.paths, for every package; PackagePaths is
	// debian.packagePaths, by package name. Their globs match absolute
	// image paths ("/usr/share/zoneinfo/right/**").
	Paths        *spec.PathFilter
	PackagePaths map[string]*spec.PathFilter
}

// KeepOf reads debian.keep ("docs", "man", "locales", "certs").
func KeepOf(names []string) Keep {
	var k Keep
	for _, n := range names {
		switch n {
		case "docs":
			k.Docs = true
		case "man":
			k.Man = true
		case "locales":
			k.Locales = true
		case "certs":
			k.Certs = true
		}
	}
	return k
}

// pruneVersion versions the rule: a change to prunedPath changes every
// pruned package's Contents key.
const pruneVersion = "minimal-v1"

// caPackage is the package whose files the CA bundle is made of.
const caPackage = "ca-certificates"

// key is the Contents key suffix of package name pruned with k: the
// rule, what debian.keep brings back, and a hash of the path filters
// that apply to the package (none: no suffix, so specs without filters
// keep their keys).
func (k Keep) key(name string) string {
	s := ":" + pruneVersion
	if k.Docs {
		s += "+docs"
	}
	if k.Man {
		s += "+man"
	}
	if k.Locales {
		s += "+locales"
	}
	if name == caPackage && !k.Certs {
		s += "-cadata"
	}
	if k.SpecOSRelease {
		s += "-osrelease"
	}
	if k.SpecNsswitch {
		s += "-nsswitch"
	}
	if ex, in := k.filterOf(name); len(ex)+len(in) > 0 {
		h := sha256.New()
		for _, g := range ex {
			fmt.Fprintf(h, "exclude %q\n", g)
		}
		for _, g := range in {
			fmt.Fprintf(h, "include %q\n", g)
		}
		s += "+paths-" + hex.EncodeToString(h.Sum(nil))[:32]
	}
	return s
}

// filterOf returns the exclude and include globs that apply to package
// name: debian.paths' then debian.packagePaths[name]'s.
func (k Keep) filterOf(name string) (exclude, include []string) {
	for _, f := range []*spec.PathFilter{k.Paths, k.PackagePaths[name]} {
		if f != nil {
			exclude = append(exclude, f.Exclude...)
			include = append(include, f.Include...)
		}
	}
	return exclude, include
}

// prunedPath reports whether the image leaves out p (a path relative to
// the root, merged /usr already applied, as in md5sums) by default:
//   - man pages (usr/share/man/**) unless Man;
//   - info manuals, lintian overrides, doc-base entries and docs
//     (usr/share/info/**, usr/share/lintian/**, usr/share/doc-base/**,
//     usr/share/gtk-doc/**, usr/share/doc/NAME/** but NAME/copyright)
//     unless Docs; usr/share/doc, each usr/share/doc/NAME (a folder or a
//     link to another package's) and the copyright files stay: they carry
//     the licences;
//   - translations and compiled locales other than C and C.UTF-8
//     (usr/share/locale/**, usr/lib/locale/X/** but C.utf8 and C.UTF-8)
//     unless Locales.
//
// The folders named (usr/share/man, ...) themselves go too.
func (k Keep) prunedPath(p string) bool {
	under := func(dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	if k.forced(p) {
		return true
	}
	if !k.Man && under("usr/share/man") {
		return true
	}
	if !k.Docs {
		for _, d := range []string{"usr/share/info", "usr/share/lintian", "usr/share/doc-base", "usr/share/gtk-doc"} {
			if under(d) {
				return true
			}
		}
		if rest, ok := strings.CutPrefix(p, "usr/share/doc/"); ok {
			_, file, deeper := strings.Cut(rest, "/")
			return deeper && file != "copyright"
		}
	}
	if !k.Locales {
		if under("usr/share/locale") {
			return true
		}
		if rest, ok := strings.CutPrefix(p, "usr/lib/locale/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			return name != "C.utf8" && name != "C.UTF-8"
		}
	}
	return false
}

// forced reports the paths the spec writes itself, which no package's
// file may shadow and no include re-admits.
func (k Keep) forced(p string) bool {
	return (k.SpecOSRelease && (p == "etc/os-release" || p == "usr/lib/os-release")) ||
		(k.SpecNsswitch && p == "etc/nsswitch.conf")
}

// certsPruned reports whether the image leaves out p of package name
// because the generated layer stands in for it: without Certs, every file
// of ca-certificates but its usr/share/doc (where prunedPath keeps the
// copyright file) — the certificates are in the generated
// /etc/ssl/certs/ca-certificates.crt, update-ca-certificates is never
// run, and its etc folders are only that tool's.
func (k Keep) certsPruned(name, p string) bool {
	return name == caPackage && !k.Certs && p != "usr/share/doc" && !strings.HasPrefix(p, "usr/share/doc/")
}

// drops reports whether the image leaves out p of package name, given
// the package's exclude and include globs: the paths the spec writes
// itself always; else a path an include matches stays; else the default
// rules (prunedPath, certsPruned) and the excludes drop it. byUser says
// an exclude glob dropped it.
func (k Keep) drops(name, p string, exclude, include []string) (drop, byUser bool) {
	if k.forced(p) {
		return true, false
	}
	abs := "/" + p
	if matchAny(include, abs) {
		return false, false
	}
	if k.prunedPath(p) || k.certsPruned(name, p) {
		return true, false
	}
	if matchAny(exclude, abs) {
		return true, true
	}
	return false, false
}

// unmatchedGlobs lists, as messages, the globs of debian.paths that match
// no entry of any package and those of debian.packagePaths.NAME that match
// no entry of NAME: most likely typos, which would filter nothing.
func unmatchedGlobs(pkgs []*debfile.Package, k Keep) []string {
	var out []string
	check := func(field, of string, f *spec.PathFilter, pkgs []*debfile.Package) {
		if f == nil {
			return
		}
		for kind, globs := range map[string][]string{"exclude": f.Exclude, "include": f.Include} {
			for _, g := range globs {
				if !slices.ContainsFunc(pkgs, func(p *debfile.Package) bool {
					return slices.ContainsFunc(p.Entries, func(e closure.Entry) bool { return matchAny([]string{g}, "/"+e.Path) })
				}) {
					out = append(out, fmt.Sprintf("%s.%s glob %q matches no file of %s (a typo? globs are absolute image paths, like /usr/share/zoneinfo/right/**)", field, kind, g, of))
				}
			}
		}
	}
	check("debian.paths", "any package", k.Paths, pkgs)
	for _, name := range slices.Sorted(maps.Keys(k.PackagePaths)) {
		check("debian.packagePaths."+name, name, k.PackagePaths[name], slices.DeleteFunc(slices.Clone(pkgs), func(p *debfile.Package) bool { return p.Name != name }))
	}
	slices.Sort(out)
	return out
}

// matchAny reports whether a glob matches p. The spec checks the globs
// (doublestar.ValidatePattern), so a bad one matches nothing.
func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		if ok, err := doublestar.Match(g, p); ok && err == nil {
			return true
		}
	}
	return false
}

// pruned returns p without the paths k drops (see drops): its entries,
// its md5sums lines (so status.d lists only what the image holds) and its
// installed size; p itself is not changed. A folder stays while anything
// under it stays; else it goes when a rule drops it or when an exclude
// glob emptied it (every entry under it left out, one of them by an
// exclude). The second result is the Contents of the pruned package,
// keyed by the .deb and the rules.
func pruned(p *debfile.Package, k Keep) (*debfile.Package, closure.Contents) {
	exclude, include := k.filterOf(p.Name)
	keptUnder := map[string]bool{}    // a folder with something kept under it
	emptiedUnder := map[string]bool{} // a folder with an entry an exclude dropped
	mark := func(m map[string]bool, path string) {
		for d := parentDir(path); d != "" && !m[d]; d = parentDir(d) {
			m[d] = true
		}
	}
	dropped := make([]bool, len(p.Entries))
	var dirs []int
	for i, e := range p.Entries {
		if e.Type == closure.Dir {
			dirs = append(dirs, i)
			continue
		}
		drop, byUser := k.drops(p.Name, e.Path, exclude, include)
		dropped[i] = drop
		switch {
		case !drop:
			mark(keptUnder, e.Path)
		case byUser:
			mark(emptiedUnder, e.Path)
		}
	}
	// Deepest folders first, so a kept folder keeps its parents.
	sort.SliceStable(dirs, func(a, b int) bool {
		return strings.Count(p.Entries[dirs[a]].Path, "/") > strings.Count(p.Entries[dirs[b]].Path, "/")
	})
	for _, i := range dirs {
		path := p.Entries[i].Path
		drop, byUser := k.drops(p.Name, path, exclude, include)
		switch {
		case keptUnder[path]:
			drop = false
		case !drop && emptiedUnder[path]:
			drop, byUser = true, true
		}
		dropped[i] = drop
		switch {
		case !drop:
			mark(keptUnder, path)
		case byUser:
			mark(emptiedUnder, path)
		}
	}
	// A kept hardlink whose target is dropped (debian.paths excluding
	// /usr/bin/perl, keeping perl5.36.0): the first kept member of the
	// group becomes a regular file with the target's content, and the
	// others link to it.
	var at map[string]int // path -> entry index, built when needed
	standIn := map[string]string{}
	q := *p
	q.Entries = make([]closure.Entry, 0, len(p.Entries))
	q.InstalledBytes = 0
	for i, e := range p.Entries {
		if dropped[i] {
			continue
		}
		if e.Type == closure.Hardlink {
			if at == nil {
				at = make(map[string]int, len(p.Entries))
				for j, f := range p.Entries {
					at[f.Path] = j
				}
			}
			if j, ok := at[e.Link]; ok && dropped[j] {
				if first, ok := standIn[e.Link]; ok {
					e.Link = first
				} else {
					t := p.Entries[j]
					standIn[e.Link] = e.Path
					e.Type, e.Link, e.Size, e.Open = t.Type, "", t.Size, t.Open
					e.Mode, e.UID, e.GID = t.Mode, t.UID, t.GID
				}
			}
		}
		q.Entries = append(q.Entries, e)
		if e.Type == closure.Regular {
			q.InstalledBytes += e.Size
		}
	}
	if p.MD5Sums != "" {
		var b strings.Builder
		for _, line := range strings.SplitAfter(p.MD5Sums, "\n") {
			if line == "" {
				continue
			}
			// "MD5  path": two spaces, the path relative to the root.
			_, rel, ok := strings.Cut(strings.TrimRight(line, "\n"), "  ")
			if ok {
				if drop, _ := k.drops(p.Name, debfile.MergedPath(rel), exclude, include); drop {
					continue
				}
			}
			b.WriteString(line)
		}
		q.MD5Sums = b.String()
	}
	return &q, closure.StaticContents{ID: packageKey(p.SHA256, p.Name, k), List: q.Entries}
}

// packageKey is the contents key of the package name in the .deb with this
// sha256, pruned by k: known from the lock, before the .deb is read.
func packageKey(sha256, name string, k Keep) string {
	return debfile.ContentsKey(sha256) + k.key(name)
}

// certSource is ca-certificates as the CA bundle sees it: the package
// whole but for what the spec's path filters drop, so a certificate an
// exclude names is not trusted (the default cut, which only stands in for
// the bundle, does not apply). Filters that drop every certificate the
// package ships are an error naming them (the bundle would be empty).
func certSource(p *debfile.Package, k Keep) (*debfile.Package, error) {
	exclude, include := k.filterOf(p.Name)
	q := *p
	q.Entries = make([]closure.Entry, 0, len(p.Entries))
	shipped, kept := 0, 0
	for _, e := range p.Entries {
		isCert := e.Type == closure.Regular && strings.HasPrefix(e.Path, "usr/share/ca-certificates/") && strings.HasSuffix(e.Path, ".crt")
		if isCert {
			shipped++
		}
		if abs := "/" + e.Path; matchAny(exclude, abs) && !matchAny(include, abs) {
			continue
		}
		if isCert {
			kept++
		}
		q.Entries = append(q.Entries, e)
	}
	if shipped > 0 && kept == 0 {
		return nil, fmt.Errorf("building the CA bundle: the path filters (debian.paths, debian.packagePaths.%s) exclude all %d certificates of %s %s (usr/share/ca-certificates/**/*.crt), so the bundle would be empty: add an include such as /usr/share/ca-certificates/mozilla/** for the ones to trust, or remove %s from debian.packages", caPackage, shipped, p.Name, p.Version, caPackage)
	}
	return &q, nil
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}
