// Package sandbox runs one build step in isolation with bubblewrap (bwrap,
// Debian's package), and writes a build closure out as the step's root
// filesystem (Materialize).
//
// A step runs as `/bin/sh -e -c RUN` (or /usr/bin/sh when the root has no
// /bin/sh) in new user, mount, pid, ipc, uts and, unless Spec.Network,
// network namespaces (a new network namespace has only loopback), plus a
// cgroup namespace where the kernel allows one. Inside it runs as uid and
// gid 1000, whoever runs strata (root or a normal user), with no
// capabilities, in a new session, on host name "localhost", in /tmp.
//
// The file system is built, not inherited: "/" is a tmpfs remounted
// read-only once the mounts are in place; every top-level entry of
// Spec.Root is bound read-only onto it (symlinks such as bin -> usr/bin
// are recreated as symlinks), so the root needs no mount points of its
// own. A folder of the root that must hold a mount point (/etc for
// resolv.conf, or the parent of a Mount's Dst) is rebuilt the same way one
// level down. On top come /proc (a new procfs), /dev (bwrap's minimal one:
// null, zero, full, random, urandom, tty, shm, pts), /tmp (a fresh tmpfs),
// Spec.Out bound writable at OutPath, each Mount (read-only unless
// Writable) and, with Network, the host's /etc/resolv.conf read-only.
// Nothing else of the host is visible, so the only host folder a step
// can write to is Out (and a Mount marked Writable).
//
// The environment is exactly PATH, HOME=/homeless-shelter, TZ=UTC,
// LC_ALL=C.UTF-8, SOURCE_DATE_EPOCH, out=/out and Spec.Env (which may
// override PATH, HOME, TZ and LC_ALL but not out or SOURCE_DATE_EPOCH);
// the shell itself adds PWD and SHLVL.
//
// Ending: when ctx is done the whole process group of bwrap gets SIGKILL;
// bwrap's --die-with-parent and the pid namespace (its init dies, the
// kernel kills the rest) take every process of the step with it. bwrap
// also gets SIGKILL if strata dies.
//
// Errors: a step that exits non-zero is an *ExitError (the caller prints
// the log); a sandbox that cannot be created wraps ErrUnavailable and
// names what is missing and the fix (install bubblewrap; enable
// unprivileged user namespaces).
package sandbox
