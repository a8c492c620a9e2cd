package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/spec"
)

// docPaths are a package's files, each with whether the default image
// keeps it.
var docPaths = []struct {
	path string
	kept bool
	kind string // what debian.keep brings it back with
}{
	{"usr/bin/tool", true, ""},
	{"usr/share/doc/tool/copyright", true, ""},
	{"usr/share/doc/tool/changelog.Debian.gz", false, "docs"},
	{"usr/share/doc/tool/examples/a.conf", false, "docs"},
	{"usr/share/info/tool.info.gz", false, "docs"},
	{"usr/share/lintian/overrides/tool", false, "docs"},
	{"usr/share/doc-base/tool", false, "docs"},
	{"usr/share/man/man1/tool.1.gz", false, "man"},
	{"usr/share/man/de/man1/tool.1.gz", false, "man"},
	{"usr/share/locale/de/LC_MESSAGES/tool.mo", false, "locales"},
	{"usr/lib/locale/C.utf8/LC_CTYPE", true, ""},
	{"usr/lib/locale/de_DE.utf8/LC_CTYPE", false, "locales"},
	{"usr/share/tool/data", true, ""},
}

func TestPrunedPath(t *testing.T) {
	for _, keep := range []Keep{{}, {Docs: true}, {Man: true}, {Locales: true}, {Docs: true, Man: true, Locales: true}} {
		for _, d := range docPaths {
			want := d.kept || (d.kind == "docs" && keep.Docs) || (d.kind == "man" && keep.Man) || (d.kind == "locales" && keep.Locales)
			if got := !keep.prunedPath(d.path); got != want {
				t.Errorf("keep %+v: %s kept = %v, want %v", keep, d.path, got, want)
			}
		}
	}
	for _, p := range []string{"usr/share/doc", "usr/share/doc/tool", "usr/share/doc/libgcc-s1"} {
		if (Keep{}).prunedPath(p) {
			t.Errorf("%s pruned: the doc folders (and links to another package's) hold the copyright files", p)
		}
	}
}

func TestPrunedPackage(t *testing.T) {
	p := &debfile.Package{Name: "tool", SHA256: strings.Repeat("a", 64)}
	var md5 strings.Builder
	for _, d := range docPaths {
		p.Entries = append(p.Entries, closure.Entry{Path: d.path, Type: closure.Regular, Mode: 0o644, Size: 3})
		md5.WriteString("0123456789abcdef0123456789abcdef  " + d.path + "\n")
		p.InstalledBytes += 3
	}
	md5.WriteString("0123456789abcdef0123456789abcdef  bin/tool2\n") // merged /usr: stays
	p.MD5Sums = md5.String()
	q, c := pruned(p, Keep{})
	if len(p.Entries) != len(docPaths) {
		t.Fatal("pruned changed its argument")
	}
	var kept []string
	for _, d := range docPaths {
		if d.kept {
			kept = append(kept, d.path)
		}
	}
	var got []string
	for _, e := range q.Entries {
		got = append(got, e.Path)
	}
	if !slices.Equal(got, kept) {
		t.Errorf("entries %v, want %v", got, kept)
	}
	if q.InstalledBytes != int64(3*len(kept)) {
		t.Errorf("installed bytes %d, want %d", q.InstalledBytes, 3*len(kept))
	}
	var md5Paths []string
	for _, l := range strings.Split(strings.TrimSpace(q.MD5Sums), "\n") {
		md5Paths = append(md5Paths, strings.SplitN(l, "  ", 2)[1])
	}
	if !slices.Equal(md5Paths, append(kept, "bin/tool2")) {
		t.Errorf("md5sums list %v, want what the image holds: %v", md5Paths, append(kept, "bin/tool2"))
	}
	if want := p.Contents().Key() + ":minimal-v1"; c.Key() != want {
		t.Errorf("key %s, want %s", c.Key(), want)
	}
	if _, c2 := pruned(p, Keep{Man: true}); c2.Key() == c.Key() {
		t.Error("debian.keep does not change the Contents key")
	}
}

// The Debian source prunes by default, debian.keep brings them back, and
// the dpkg status.d md5sums (in the package's own contents) follow.
func TestSourcePrunes(t *testing.T) {
	var files []debtest.File
	var md5 strings.Builder
	for _, d := range docPaths {
		files = append(files, debtest.File{Name: "./" + d.path, Body: "abc"})
		md5.WriteString("900150983cd24fb0d6963f7d28e17f72  " + d.path + "\n")
	}
	pkg := archivePkg{stanza: "Package: tool\nVersion: 1\nArchitecture: amd64\n", files: files, md5sums: md5.String()}
	a := newTestArchive(t, []archivePkg{pkg})
	for _, keep := range [][]string{nil, {"docs", "man", "locales"}} {
		sp := a.spec("tool")
		sp.Debian.Keep = keep
		var log bytes.Buffer
		res, err := New(sp, testStore(t)).Resolve(context.Background(), amd64Request(&log))
		if err != nil {
			t.Fatal(err)
		}
		ents, err := res.Graph.Nodes["deb:tool:amd64"].Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docPaths {
			has := slices.ContainsFunc(ents, func(e closure.Entry) bool { return e.Path == d.path })
			if want := d.kept || keep != nil; has != want {
				t.Errorf("keep %v: %s in the image = %v, want %v", keep, d.path, has, want)
			}
		}
		sys, err := res.Graph.Nodes["deb:tool:amd64"].Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range sys {
			if e.Path != "var/lib/dpkg/status.d/tool.md5sums" {
				continue
			}
			found = true
			rc, _ := e.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if got := strings.Contains(string(b), "usr/share/man/"); got != (keep != nil) {
				t.Errorf("keep %v: md5sums list man pages = %v:\n%s", keep, got, b)
			}
		}
		if !found {
			t.Errorf("keep %v: no status.d/tool.md5sums", keep)
		}
	}
}

func TestPrunedOSRelease(t *testing.T) {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		if (Keep{}).prunedPath(p) || !(Keep{SpecOSRelease: true}).prunedPath(p) {
			t.Errorf("%s: pruned only when the spec's osRelease writes it", p)
		}
	}
}

// filterPaths are a package's entries (folders end in /).
var filterPaths = []string{
	"usr/", "usr/share/", "usr/share/zoneinfo/", "usr/share/zoneinfo/UTC",
	"usr/share/zoneinfo/right/", "usr/share/zoneinfo/right/UTC", "usr/share/zoneinfo/right/Europe/", "usr/share/zoneinfo/right/Europe/Paris",
	"usr/share/zoneinfo/posix/", "usr/share/zoneinfo/posix/UTC", "usr/share/zoneinfo/posix/Asia/", "usr/share/zoneinfo/posix/Asia/Tokyo",
	"usr/lib/", "usr/lib/python3/", "usr/lib/python3/__pycache__/", "usr/lib/python3/__pycache__/a.pyc", "usr/lib/python3/a.py",
	"usr/share/doc/", "usr/share/doc/tz/", "usr/share/doc/tz/copyright", "usr/share/doc/tz/README",
	"usr/share/empty/",
}

func filterPkg(name string) *debfile.Package {
	p := &debfile.Package{Name: name, SHA256: strings.Repeat("b", 64)}
	var md5 strings.Builder
	for _, f := range filterPaths {
		if d, ok := strings.CutSuffix(f, "/"); ok {
			p.Entries = append(p.Entries, closure.Entry{Path: d, Type: closure.Dir, Mode: 0o755})
			continue
		}
		p.Entries = append(p.Entries, closure.Entry{Path: f, Type: closure.Regular, Mode: 0o644, Size: 1})
		md5.WriteString("0123456789abcdef0123456789abcdef  " + strings.TrimPrefix(f, "usr/") + "\n")
	}
	// md5sums name some files by their unmerged path (lib/...), as dpkg
	// wrote them before merged /usr.
	p.MD5Sums = strings.ReplaceAll(md5.String(), "  share/", "  usr/share/")
	return p
}

func TestPathFilters(t *testing.T) {
	cases := []struct {
		name string
		keep Keep
		gone []string // entries left out besides the default pruning (usr/share/doc/tz/README)
	}{
		{"none", Keep{}, nil},
		{"exclude a tree: the folder goes too", Keep{Paths: &spec.PathFilter{Exclude: []string{"/usr/share/zoneinfo/right/**"}}},
			[]string{"usr/share/zoneinfo/right", "usr/share/zoneinfo/right/UTC", "usr/share/zoneinfo/right/Europe", "usr/share/zoneinfo/right/Europe/Paris"}},
		{"exclude files: emptied folders go, others stay", Keep{Paths: &spec.PathFilter{Exclude: []string{"/**/*.pyc", "/usr/share/zoneinfo/posix/*"}}},
			[]string{"usr/lib/python3/__pycache__", "usr/lib/python3/__pycache__/a.pyc", "usr/share/zoneinfo/posix/UTC"}}, // posix/Asia matches, but Tokyo under it stays
		{"include re-admits, and keeps the folders above it", Keep{Paths: &spec.PathFilter{Exclude: []string{"/usr/share/zoneinfo/**"}, Include: []string{"/usr/share/zoneinfo/posix/Asia/Tokyo"}}},
			[]string{"usr/share/zoneinfo/UTC", "usr/share/zoneinfo/right", "usr/share/zoneinfo/right/UTC", "usr/share/zoneinfo/right/Europe", "usr/share/zoneinfo/right/Europe/Paris", "usr/share/zoneinfo/posix/UTC"}},
		{"package filter joins the global one", Keep{
			Paths:        &spec.PathFilter{Exclude: []string{"/usr/share/zoneinfo/right/**"}},
			PackagePaths: map[string]*spec.PathFilter{"tz": {Include: []string{"/usr/share/zoneinfo/right/UTC"}}, "other": {Exclude: []string{"/usr/lib/**"}}}},
			[]string{"usr/share/zoneinfo/right/Europe", "usr/share/zoneinfo/right/Europe/Paris"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filterPkg("tz")
			q, contents := pruned(p, c.keep)
			var got []string
			for _, e := range q.Entries {
				got = append(got, e.Path)
			}
			var want []string
			for _, f := range filterPaths {
				f = strings.TrimSuffix(f, "/")
				if f != "usr/share/doc/tz/README" && !slices.Contains(c.gone, f) {
					want = append(want, f)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("entries\n %v\nwant\n %v", got, want)
			}
			// md5sums list exactly the regular files kept.
			var md5 []string
			for _, l := range strings.Split(strings.TrimSpace(q.MD5Sums), "\n") {
				md5 = append(md5, debfile.MergedPath(strings.SplitN(l, "  ", 2)[1]))
			}
			var files []string
			for _, e := range q.Entries {
				if e.Type == closure.Regular {
					files = append(files, e.Path)
				}
			}
			slices.Sort(md5)
			slices.Sort(files)
			if !slices.Equal(md5, files) {
				t.Errorf("md5sums list %v, the image holds %v", md5, files)
			}
			_, plain := pruned(p, Keep{})
			if (contents.Key() == plain.Key()) != (c.gone == nil) {
				t.Errorf("key %s vs unfiltered %s: filters must be in the key (and no filter keeps it)", contents.Key(), plain.Key())
			}
		})
	}
	// Another package's filter leaves this one's key alone.
	_, plain := pruned(filterPkg("tz"), Keep{})
	_, other := pruned(filterPkg("tz"), Keep{PackagePaths: map[string]*spec.PathFilter{"other": {Exclude: []string{"/usr/**"}}}})
	if plain.Key() != other.Key() {
		t.Errorf("another package's filter changed the key: %s vs %s", plain.Key(), other.Key())
	}
	// The spec's own files stay out whatever an include says.
	if drop, _ := (Keep{SpecNsswitch: true}).drops("x", "etc/nsswitch.conf", nil, []string{"/etc/**"}); !drop {
		t.Error("an include re-admitted a package's nsswitch.conf over the spec's")
	}
}

func TestCertsPruned(t *testing.T) {
	p := &debfile.Package{Name: caPackage, SHA256: strings.Repeat("c", 64)}
	for _, f := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "etc/ca-certificates/", "etc/ca-certificates/update.d/",
		"usr/", "usr/sbin/", "usr/sbin/update-ca-certificates", "usr/share/", "usr/share/ca-certificates/", "usr/share/ca-certificates/mozilla/",
		"usr/share/ca-certificates/mozilla/A.crt", "usr/share/doc/", "usr/share/doc/ca-certificates/", "usr/share/doc/ca-certificates/copyright",
		"usr/share/doc/ca-certificates/README.Debian"} {
		if d, ok := strings.CutSuffix(f, "/"); ok {
			p.Entries = append(p.Entries, closure.Entry{Path: d, Type: closure.Dir})
		} else {
			p.Entries = append(p.Entries, closure.Entry{Path: f, Type: closure.Regular, Size: 1})
		}
	}
	q, c := pruned(p, Keep{})
	var got []string
	for _, e := range q.Entries {
		got = append(got, e.Path)
	}
	if want := []string{"usr", "usr/share", "usr/share/doc", "usr/share/doc/ca-certificates", "usr/share/doc/ca-certificates/copyright"}; !slices.Equal(got, want) {
		t.Errorf("ca-certificates keeps %v, want only its copyright file: %v", got, want)
	}
	k, ck := pruned(p, Keep{Certs: true})
	if len(k.Entries) != len(p.Entries)-1 || ck.Key() == c.Key() { // README.Debian is a doc
		t.Errorf("keep: [certs] kept %d of %d entries, keys %s %s", len(k.Entries), len(p.Entries), c.Key(), ck.Key())
	}
	// The bundle's certificates: all but those an exclude drops.
	p.Entries = append(p.Entries, closure.Entry{Path: "usr/share/ca-certificates/mozilla/B.crt", Type: closure.Regular, Size: 1})
	src, err := certSource(p, Keep{PackagePaths: map[string]*spec.PathFilter{caPackage: {Exclude: []string{"/usr/share/ca-certificates/**/A.crt"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(src.Entries, func(e closure.Entry) bool { return e.Path == "usr/share/ca-certificates/mozilla/B.crt" }) ||
		slices.ContainsFunc(src.Entries, func(e closure.Entry) bool { return e.Path == "usr/share/ca-certificates/mozilla/A.crt" }) {
		t.Error("certSource must keep B.crt and leave out the excluded A.crt")
	}
	// Filters dropping every certificate name themselves and an include.
	for _, k := range []Keep{
		{Paths: &spec.PathFilter{Exclude: []string{"/usr/share/ca-certificates/**"}}},
		{PackagePaths: map[string]*spec.PathFilter{caPackage: {Exclude: []string{"/**/*.crt"}}}},
	} {
		_, err := certSource(p, k)
		for _, w := range []string{"exclude all 2 certificates of ca-certificates", "debian.paths", "debian.packagePaths.ca-certificates", "add an include such as /usr/share/ca-certificates/mozilla/**"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("filters dropping every certificate: error %v does not contain %q", err, w)
			}
		}
	}
	// Other packages are not touched by the rule.
	p.Name = "not-ca"
	p.Entries = p.Entries[:len(p.Entries)-1]
	if q, _ := pruned(p, Keep{}); len(q.Entries) != len(p.Entries)-1 {
		t.Errorf("the certs rule pruned another package: %d of %d", len(q.Entries), len(p.Entries))
	}
}

// TestPathFiltersSplitHardlinks: excluding a hardlink group's target
// (/usr/bin/perl) while keeping its other names makes the first kept one a
// regular file with the content, the rest links to it, and the layer
// normalises; a .deb built with real tar hardlinks.
func TestPathFiltersSplitHardlinks(t *testing.T) {
	files := []debtest.File{
		{Name: "./usr/bin/perl", Body: "#!perl binary", Mode: 0o755},
		{Name: "./usr/bin/perl5.36.0", Type: tar.TypeLink, Link: "./usr/bin/perl"},
		{Name: "./usr/bin/perl5.36", Type: tar.TypeLink, Link: "./usr/bin/perl"},
	}
	pkg := archivePkg{stanza: "Package: perl\nVersion: 1\nArchitecture: amd64\n", files: files}
	a := newTestArchive(t, []archivePkg{pkg})
	for _, c := range []struct {
		exclude []string
		want    string // path:type[:link] of usr/bin's entries
	}{
		{nil, "usr/bin/perl:file usr/bin/perl5.36.0:hardlink:usr/bin/perl usr/bin/perl5.36:hardlink:usr/bin/perl"},
		{[]string{"/usr/bin/perl"}, "usr/bin/perl5.36.0:file usr/bin/perl5.36:hardlink:usr/bin/perl5.36.0"},
		{[]string{"/usr/bin/perl", "/usr/bin/perl5.36.0"}, "usr/bin/perl5.36:file"},
	} {
		sp := a.spec("perl")
		sp.Debian.Paths = &spec.PathFilter{Exclude: c.exclude}
		res, err := New(sp, testStore(t)).Resolve(context.Background(), amd64Request(nil))
		if err != nil {
			t.Fatalf("exclude %v: %v", c.exclude, err)
		}
		ents, err := res.Graph.Nodes["deb:perl:amd64"].Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			if !strings.HasPrefix(e.Path, "usr/bin/") {
				continue
			}
			s := e.Path + ":" + e.Type.String()
			if e.Link != "" {
				s += ":" + e.Link
			}
			got = append(got, s)
			if e.Type == closure.Regular {
				rc, err := e.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if string(b) != "#!perl binary" || e.Size != int64(len(b)) || e.Mode&0o777 != 0o755 {
					t.Errorf("exclude %v: %s holds %q, size %d, mode %v", c.exclude, e.Path, b, e.Size, e.Mode)
				}
			}
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("exclude %v: usr/bin holds\n %s\nwant\n %s", c.exclude, g, c.want)
		}
		if _, err := layer.Normalize(ents); err != nil {
			t.Errorf("exclude %v: the layer does not normalise: %v", c.exclude, err)
		}
	}
}

// TestPathFiltersUnmatchedGlob: a glob matching no file (a typo) is
// warned about through the events log, naming its field; globs that match
// are not.
func TestPathFiltersUnmatchedGlob(t *testing.T) {
	pkg := archivePkg{stanza: "Package: tz\nVersion: 1\nArchitecture: amd64\n", files: []debtest.File{
		{Name: "./usr/share/zoneinfo/right/UTC", Body: "x"}, {Name: "./usr/share/zoneinfo/UTC", Body: "y"}}}
	a := newTestArchive(t, []archivePkg{pkg})
	sp := a.spec("tz")
	sp.Debian.Paths = &spec.PathFilter{Exclude: []string{"/usr/share/zoneinfo/rigth/**", "/usr/share/zoneinfo/right/**"}, Include: []string{"/usr/share/zoneinfo/UTC"}}
	sp.Debian.PackagePaths = map[string]*spec.PathFilter{"tz": {Include: []string{"usr/share/zoneinfo/right/UTC"}}}
	var log bytes.Buffer
	if _, err := New(sp, testStore(t)).Resolve(context.Background(), amd64Request(&log)); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`debian.paths.exclude glob "/usr/share/zoneinfo/rigth/**" matches no file of any package (a typo?`,
		`debian.packagePaths.tz.include glob "usr/share/zoneinfo/right/UTC" matches no file of tz`,
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
	for _, g := range []string{`"/usr/share/zoneinfo/right/**"`, `"/usr/share/zoneinfo/UTC"`} {
		if strings.Contains(log.String(), g) {
			t.Errorf("a glob that matches is warned about: %s\n%s", g, log.String())
		}
	}
}
