package sbom

import (
	"strings"
)

// debianToSPDX maps DEP-5 short names (lower case) to SPDX identifiers.
var debianToSPDX = map[string]string{
	"gpl-1": "GPL-1.0-only", "gpl-1+": "GPL-1.0-or-later",
	"gpl-2": "GPL-2.0-only", "gpl-2+": "GPL-2.0-or-later",
	"gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later",
	"lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later",
	"lgpl-2.1": "LGPL-2.1-only", "lgpl-2.1+": "LGPL-2.1-or-later",
	"lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later",
	"agpl-3": "AGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later",
	"gfdl-1.2+": "GFDL-1.2-or-later", "gfdl-1.3+": "GFDL-1.3-or-later",
	"apache-2": "Apache-2.0", "apache-2.0": "Apache-2.0",
	"expat": "MIT", "mit": "MIT",
	"bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause",
	"isc": "ISC", "zlib": "Zlib", "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0",
	"artistic": "Artistic-1.0-Perl", "artistic-1.0": "Artistic-1.0", "artistic-2.0": "Artistic-2.0",
	"cc0": "CC0-1.0", "cc0-1.0": "CC0-1.0", "openssl": "OpenSSL",
	"psf-2": "PSF-2.0", "python-2.0": "Python-2.0", "curl": "curl", "x11": "X11", "ftl": "FTL",
	"bsl-1.0": "BSL-1.0", "unicode-dfs-2016": "Unicode-DFS-2016", "unlicense": "Unlicense",
	"libpng": "Libpng", "libtiff": "libtiff", "ijg": "IJG", "sleepycat": "Sleepycat",
	"wtfpl": "WTFPL", "0bsd": "0BSD", "postgresql": "PostgreSQL", "ofl-1.1": "OFL-1.1",
	"ntp": "NTP", "hpnd": "HPND",
}

// spdxIDs is the set of identifiers debianToSPDX yields, by lower case.
var spdxIDs = func() map[string]string {
	m := map[string]string{}
	for _, v := range debianToSPDX {
		m[strings.ToLower(v)] = v
	}
	return m
}()

// licenseExpr converts one DEP-5 license name or expression into an SPDX
// license expression; atoms without an SPDX identifier become
// LicenseRef-<name> and are returned in refs (ref id -> original name).
func licenseExpr(s string, refs map[string]string) string {
	s = strings.ReplaceAll(s, ",", " ")
	words := strings.Fields(s)
	var parts []string
	var atom []string
	flush := func() {
		if len(atom) == 0 {
			return
		}
		parts = append(parts, licenseAtom(strings.Join(atom, " "), refs))
		atom = nil
	}
	for _, w := range words {
		switch strings.ToLower(w) {
		case "or":
			flush()
			parts = append(parts, "OR")
		case "and":
			flush()
			parts = append(parts, "AND")
		default:
			atom = append(atom, w)
		}
	}
	flush()
	// Drop dangling operators.
	for len(parts) > 0 && (parts[0] == "OR" || parts[0] == "AND") {
		parts = parts[1:]
	}
	for len(parts) > 0 && (parts[len(parts)-1] == "OR" || parts[len(parts)-1] == "AND") {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, " ")
}

// spdxExceptions maps DEP-5 exception names (lower case) to SPDX
// exception identifiers, for "LICENSE with EXCEPTION".
var spdxExceptions = map[string]string{
	"gcc-exception-2.0": "GCC-exception-2.0", "gcc-exception-3.1": "GCC-exception-3.1",
	"classpath-exception-2.0": "Classpath-exception-2.0", "autoconf-exception-3.0": "Autoconf-exception-3.0",
	"font-exception-2.0": "Font-exception-2.0", "llvm-exception": "LLVM-exception",
}

func licenseAtom(a string, refs map[string]string) string {
	if f := strings.Fields(a); len(f) == 3 && strings.EqualFold(f[1], "with") {
		lic, exc := strings.ToLower(f[0]), strings.ToLower(f[2])
		id, ok := debianToSPDX[lic]
		if !ok {
			id, ok = spdxIDs[lic]
		}
		if e, known := spdxExceptions[exc]; ok && known {
			return id + " WITH " + e
		}
	}
	l := strings.ToLower(a)
	if id, ok := debianToSPDX[l]; ok {
		return id
	}
	if id, ok := spdxIDs[l]; ok {
		return id
	}
	ref := "LicenseRef-" + sanitizeID(a)
	refs[ref] = a
	return ref
}

// sanitizeID keeps [A-Za-z0-9.-] and turns every other run into one "-".
func sanitizeID(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-'
		if r == '+' {
			b.WriteString("-plus")
			dash = false
			continue
		}
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "unknown"
	}
	return out
}

// expression joins a component's licenses into one SPDX expression ("" for
// none); compound parts are parenthesized.
func expression(licenses []string, refs map[string]string) string {
	var parts []string
	for _, l := range licenses {
		e := licenseExpr(l, refs)
		if e == "" {
			continue
		}
		if strings.Contains(e, " ") && len(licenses) > 1 {
			e = "(" + e + ")"
		}
		parts = append(parts, e)
	}
	return strings.Join(parts, " AND ")
}
