package deb

import (
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
)

// Keep names the kinds of files debian.keep asks to keep; strata prunes
// the others from every package (see pruned).
type Keep struct {
	Docs, Man, Locales bool
	// SpecOSRelease says the spec's osRelease writes the os-release
	// files, so the packages' (base-files') etc/os-release and
	// usr/lib/os-release are left out.
	SpecOSRelease bool
	// SpecNsswitch says the spec's nsswitch writes etc/nsswitch.conf,
	// so a package's is left out.
	SpecNsswitch bool
}

// KeepOf reads debian.keep ("docs", "man", "locales").
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
		}
	}
	return k
}

// pruneVersion versions the rule: a change to prunedPath changes every
// pruned package's Contents key.
const pruneVersion = "minimal-v1"

// key is the Contents key suffix of a package pruned with k.
func (k Keep) key() string {
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
	if k.SpecOSRelease {
		s += "-osrelease"
	}
	if k.SpecNsswitch {
		s += "-nsswitch"
	}
	return s
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
	if k.SpecOSRelease && (p == "etc/os-release" || p == "usr/lib/os-release") {
		return true
	}
	if k.SpecNsswitch && p == "etc/nsswitch.conf" {
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

// pruned returns p without the paths k prunes: its entries, its md5sums
// lines (so status.d lists only what the image holds) and its installed
// size; p itself is not changed. The second result is the Contents of the
// pruned package, keyed by the .deb and the rule.
func pruned(p *debfile.Package, k Keep) (*debfile.Package, closure.Contents) {
	q := *p
	q.Entries = make([]closure.Entry, 0, len(p.Entries))
	q.InstalledBytes = 0
	for _, e := range p.Entries {
		if k.prunedPath(e.Path) {
			continue
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
			if ok && k.prunedPath(debfile.MergedPath(rel)) {
				continue
			}
			b.WriteString(line)
		}
		q.MD5Sums = b.String()
	}
	return &q, closure.StaticContents{ID: p.Contents().Key() + k.key(), List: q.Entries}
}
