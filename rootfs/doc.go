// Package rootfs owns the distro-neutral files every image root needs and
// no package manager of strata's writes for it: /etc/passwd and
// /etc/group, the home folders of those accounts, /tmp, /etc/nsswitch.conf
// and /etc/os-release.
//
// Entries is pure: it takes accounts and os-release facts and returns
// closure entries with deterministic bytes, no I/O. The Debian source
// (closure/deb/sysfiles) calls it with Debian's facts and adds what only
// Debian has (merged-/usr links, the CA bundle, dpkg status.d). Source is
// the closure source for images without Debian inputs (files-only or Nix),
// which otherwise would have no accounts at all.
//
// The accounts are always root (0), nobody (65534) and nonroot (65532),
// as in distroless images, then the spec's users and groups in order. A
// home folder is created for every account whose home strata assigns:
// /root (0700), /home/nonroot and /home/NAME for a spec user without a
// home (0700, owned by the user's uid:gid). nobody's /nonexistent is never
// created, and neither is a home the spec names itself: that path belongs
// to the user (a files entry or a package provides it), and creating it
// would change the ownership of whatever ships there.
//
// os-release follows os-release(5). An image with no distribution gets
// the neutral facts of Neutral: ID=linux and NAME="Linux", which are the
// defaults os-release(5) prescribes when the file is absent, so scanners
// see exactly what they would infer anyway and no invented distribution.
package rootfs
