package deb

import (
	"fmt"
	"time"
)

// Limits on what strata reads from an archive before (or while) it is
// verified: a hostile or broken mirror must not make strata hold gigabytes
// or wait forever. docs/limits.md lists them with the knob for each.
const (
	// MaxInReleaseBytes bounds a dists/SUITE/InRelease download, which is
	// held in memory before its signature is checked. Debian's largest
	// (sid, every architecture) is well under 1 MiB.
	MaxInReleaseBytes = 16 << 20

	// MaxIndexLineBytes bounds one line of a Packages index (a field's
	// first line or one continuation line): a stanza line of Debian's
	// archive is at most a few KiB.
	MaxIndexLineBytes = 1 << 20

	// MaxUnsignedIndexBytes bounds a decompressed Packages index whose
	// uncompressed size the signed Release does not list (it then bounds
	// the stream instead of the signed size). Debian's largest Packages
	// file is about 100 MiB.
	MaxUnsignedIndexBytes = 1 << 30

	// StallTimeout is how long a transfer may go without receiving a byte
	// (waiting for the answer's headers included) before it is dropped
	// and tried again; STRATA_DEBIAN_STALL_TIMEOUT (a Go duration such as
	// "2m") replaces it.
	StallTimeout = 60 * time.Second
)

// StallTimeoutEnv names the environment variable replacing StallTimeout.
const StallTimeoutEnv = "STRATA_DEBIAN_STALL_TIMEOUT"

// stallTimeout is StallTimeout or the duration STRATA_DEBIAN_STALL_TIMEOUT
// gives.
func stallTimeout(getenv func(string) string) (time.Duration, error) {
	if getenv == nil {
		return StallTimeout, nil
	}
	v := getenv(StallTimeoutEnv)
	if v == "" {
		return StallTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: not a positive Go duration (write it like 60s or 2m; unset it for the default %v)", StallTimeoutEnv, v, StallTimeout)
	}
	return d, nil
}

// mib writes a byte count of a limit for messages.
func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
