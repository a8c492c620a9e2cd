// Package sysfiles owns the small generated layer that stands in for what
// Debian maintainer scripts would have done (strata never runs them): the
// merged-/usr root symlinks, /etc/passwd and /etc/group, /tmp, /root,
// /home/nonroot, /etc/nsswitch.conf, /etc/os-release, the CA bundle, and
// the dpkg status.d records scanners read.
package sysfiles
