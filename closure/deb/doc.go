// Package deb owns Debian packages as closure inputs: finding the mirror
// (spec, STRATA_DEBIAN_MIRROR, or the host's apt sources), the signed
// archive chain of trust (InRelease verified with OpenPGP against a
// keyring, then the SHA256 of every Packages index and every .deb), a
// cache of parsed Packages indexes in the store, a pure dependency resolver
// (Depends, Pre-Depends, alternatives, virtual packages, version relations,
// Multi-Arch qualifiers, Conflicts/Breaks, exclusions), the "debian" section
// of strata.lock, and the closure.Source that turns a spec's debian block
// into graph nodes (one per package plus the generated system files).
//
// Unpacking .debs lives in the sub-package debfile and the generated
// /etc and dpkg status files in sysfiles.
package deb
