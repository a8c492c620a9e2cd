package deb

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/deb822"
	"github.com/stratabuild/strata/internal/purl"
)

// Facts the Debian source records in node Meta for SBOMs: the package URL,
// the purl distro qualifier and the DEP-5 licence names.
const (
	MetaPURL    = "purl"
	MetaDistro  = "distro"
	MetaLicense = "license"
)

// releaseNumbers maps Debian codenames to their release numbers, for
// suites whose Release file carries no Version (and for older locks).
var releaseNumbers = map[string]string{
	"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}

// Distro is the purl distro qualifier of a Debian suite, in the form
// scanners write it (syft: ID-VERSION_ID from os-release): "debian-12" for
// bookworm, "debian-13" for trixie. version is the Release file's Version
// ("12.5"; its major number counts) and wins when set; otherwise the
// codename (or its -updates/-security suite) is looked up. sid, unstable
// and experimental have no release number, as their os-release has no
// VERSION_ID: they are plain "debian".
func Distro(suite, version string) string {
	if major, _, _ := strings.Cut(strings.TrimSpace(version), "."); major != "" && isDigits(major) {
		return "debian-" + major
	}
	base, _, _ := strings.Cut(suite, "-")
	if n := releaseNumbers[base]; n != "" {
		return "debian-" + n
	}
	return "debian"
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// PURL is a Debian package's package URL:
//
//	pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=DISTRO[&upstream=SOURCE]
//
// upstream names the source package when it differs from the binary one.
func PURL(name, version, arch, source, distro string) string {
	if source == name {
		source = ""
	}
	return purl.New("deb", "debian", name, version,
		purl.Qualifier{Key: "arch", Value: arch},
		purl.Qualifier{Key: "distro", Value: distro},
		purl.Qualifier{Key: "upstream", Value: source})
}

// Licenses returns the licence short names a machine-readable (DEP-5)
// debian/copyright file gives in its Files paragraphs (and header), sorted
// and unique, each as written ("GPL-2+", "GPL-2+ or Artistic"). A file
// that is not machine-readable (no Format: field in its first paragraph)
// yields nil: its licences cannot be read reliably.
func Licenses(copyright string) []string {
	paras, err := fieldMaps(strings.ReplaceAll(copyright, "\r\n", "\n"))
	if err != nil || len(paras) == 0 {
		return nil // not deb822: not machine-readable either
	}
	seen := map[string]bool{}
	for i, f := range paras {
		if i == 0 {
			if _, ok := f["format"]; !ok {
				return nil
			}
		}
		if _, isFiles := f["files"]; i != 0 && !isFiles {
			continue // a stand-alone License paragraph only holds a text
		}
		first, _, _ := strings.Cut(f["license"], "\n")
		if first = strings.TrimSpace(first); first != "" {
			seen[first] = true
		}
	}
	if len(seen) == 0 {
		return nil
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// copyrightPath is where a package's DEP-5 copyright file lives.
func copyrightPath(pkg string) string { return "usr/share/doc/" + pkg + "/copyright" }

// contentLicenses reads the licences from a package's own copyright file
// ("" when the file is absent, a symlink, or not machine-readable).
func contentLicenses(ctx context.Context, name string, c closure.Contents) (string, error) {
	if c == nil {
		return "", nil
	}
	entries, err := c.Entries(ctx)
	if err != nil {
		return "", fmt.Errorf("listing the files of %s for its licences: %w", name, err)
	}
	want := copyrightPath(name)
	for _, e := range entries {
		if e.Path != want || e.Type != closure.Regular || e.Open == nil {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return "", fmt.Errorf("reading %s of %s: %w", want, name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxCopyrightBytes))
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("reading %s of %s: %w", want, name, err)
		}
		return strings.Join(Licenses(string(b)), ", "), nil
	}
	return "", nil
}

// maxCopyrightBytes bounds a copyright (or status) file read into memory.
const maxCopyrightBytes = 4 << 20

// fieldMaps reads deb822 text into one map per paragraph, with the field
// names lower-cased (the first of two same-named fields wins).
func fieldMaps(text string) ([]map[string]string, error) {
	ps, err := deb822.Read(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(ps))
	for i, p := range ps {
		m := make(map[string]string, len(p.Fields))
		for _, f := range p.Fields {
			k := strings.ToLower(f.Name)
			if _, dup := m[k]; !dup {
				m[k] = f.Value
			}
		}
		out[i] = m
	}
	return out, nil
}
