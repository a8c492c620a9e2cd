// Package sysfiles owns the small generated layer that stands in for what
// Debian maintainer scripts would have done (strata never runs them): the
// merged-/usr root symlinks, the CA bundle, update-alternatives links and
// the dpkg status.d records scanners read, plus the distro-neutral files of
// package rootfs (accounts, homes, /tmp, nsswitch) with Debian's
// os-release facts.
package sysfiles
