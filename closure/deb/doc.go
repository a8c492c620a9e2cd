// Package deb owns Debian packages as closure inputs.
//
// The mirror is the spec's debian.mirror, else STRATA_DEBIAN_MIRROR, else
// the host's apt source serving the suite (deb822 sources.list.d/*.sources
// first, then the one-line sources.list); it is never written to the lock.
//
// Update suites: unless debian.updates is false, SUITE-updates (from the
// apt source naming it, else the main mirror) and SUITE-security (from
// debian.securityMirror, else STRATA_DEBIAN_SECURITY_MIRROR, else the apt
// source naming it) are read too, each through the same chain of trust.
// Their packages join the main suite's in one Index, so the resolver
// takes the highest version of each name across the suites; each Package
// and LockedPackage remembers its suite, whose mirror Filename is
// relative to. A suite that cannot be found is skipped with a notice,
// unless debian.updates is set to true.
//
// Chain of trust: dists/SUITE/InRelease is verified (OpenPGP clear
// signature) against debian.keyring (a binary or armored keyring, or a
// folder of them; default the host's Debian archive keyring) and must be
// signed for the requested suite; the SHA256 it lists for each
// COMPONENT/binary-ARCH/Packages(.xz|.gz) is checked on download (by hash
// when the archive offers Acquire-By-Hash); the SHA256 each Packages stanza
// lists is checked for every .deb on its way into the store.
//
// Parsed indexes are cached in the store (deb-index/v3-SHA256-ARCH, see
// codec.go): the checked download is decompressed, parsed and written to
// the entry stanza by stanza, and the resolver reads the entry in place
// (the name and Provides tables mapped and bisected, a package record
// read only when it is visited), so no run holds the whole index in memory
// and a warm resolution costs one InRelease download per suite plus a few
// tens of milliseconds.
//
// Resolve is a pure, deterministic function over an Index: Depends and
// Pre-Depends (not Recommends, and Essential packages are not implied),
// alternatives, virtual packages and versioned Provides, dpkg version
// relations, architecture qualifiers with Multi-Arch, Conflicts/Breaks as
// errors, and exclusions that drop the dependencies only excluded
// packages could satisfy.
//
// Lock is the "debian" section of strata.lock. Source (closure.Source)
// ties it together: with a fitting lock it touches no index at all and
// downloads only the .debs missing from the store; it unpacks them with
// the sub-package debfile and adds the generated system files of the
// sub-package sysfiles as the node "generated:debian-system". Asked for an
// incremental result (closure.Request.Incremental), it returns the graph
// laid out from the lock at once and fills each package's contents as its
// .deb unpacks (graph.go).
package deb
