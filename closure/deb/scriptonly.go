package deb

import "strings"

// A script-only dependency is a Depends or Pre-Depends edge that exists
// only so a maintainer script can run. strata never runs maintainer
// scripts: it writes their effects itself (package sysfiles: the CA
// bundle and its hash links, update-alternatives links, dpkg status.d),
// so the resolver drops these edges and says so in a Notice. The rule is
// the table in scriptOnly and nothing else: each case names the package
// that depends (or any package), the dependency as the relation names it
// (a real or a virtual package), and why only scripts use it. A relation is
// dropped when every one of its alternatives is script-only for its
// owner and none of them is already in the closure. A package named in
// debian.packages, or pulled in by another package's ordinary
// dependency, is installed as usual.
//
// The edges come from bookworm's and trixie's Packages indexes:
//
//	ca-certificates  Depends: openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0
//	tzdata           Depends: debconf (>= 0.5) | debconf-2.0
//	nginx-common     Depends: debconf (>= 0.5) | debconf-2.0
//	iproute2         Depends: debconf (>= 0.5) | debconf-2.0, ...
//	base-files       Pre-Depends: awk
//	python3-minimal  Depends: dpkg (>= 1.13.20)
//	readline-common  Depends: dpkg (>= 1.15.4) | install-info
//
// scriptOnly returns why dep is a script-only dependency of owner, or ""
// when it is not. debconf and debconf-2.0 are script-only for any
// package but debconf's own family.
func scriptOnly(owner, dep string) string {
	const debconf = "debconf asks configuration questions while maintainer scripts run"
	switch {
	case (dep == "debconf" || dep == "debconf-2.0") && !strings.HasPrefix(owner, "debconf"):
		// debconf's own family (debconf-utils, debconf-i18n) uses it.
		return debconf
	case owner == "ca-certificates" && dep == "openssl":
		return "update-ca-certificates (run by postinst) calls `openssl rehash`; strata writes the bundle and the hash links itself"
	case owner == "base-files" && dep == "awk":
		return "its maintainer scripts call awk"
	case owner == "python3-minimal" && dep == "dpkg":
		return "its maintainer scripts call dpkg to compare versions"
	case owner == "readline-common" && (dep == "dpkg" || dep == "install-info"):
		return "its postinst registers the info manual with install-info"
	}
	return ""
}

// scriptOnlyRel returns why every alternative of rel is a script-only
// dependency of owner, or "" when one is not.
func scriptOnlyRel(owner string, rel relation) string {
	if owner == "" || len(rel) == 0 {
		return ""
	}
	why := ""
	for _, a := range rel {
		w := scriptOnly(owner, a.Name)
		if w == "" {
			return ""
		}
		if why == "" {
			why = w
		}
	}
	return why
}
