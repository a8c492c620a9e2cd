package deb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
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

	// MaxIndexFieldBytes bounds one field of a Packages index, its
	// continuation lines included: without it a field of many short
	// continuation lines grows unbounded below MaxIndexLineBytes. The
	// largest field of Debian's bookworm amd64 index (a Provides of a
	// Rust crate) is about 74 KiB.
	MaxIndexFieldBytes = 4 << 20

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

	// MinTransferBytes is the least a transfer must receive per
	// StallTimeout, measured over windows of two StallTimeouts from the
	// answer's headers on: a server sending a byte now and then (which
	// the stall deadline alone never catches) is dropped after one window
	// and not retried. 1 KiB per minute is far below any usable link.
	MinTransferBytes = 1 << 10
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

// indexBound is the decompressed stream of a Packages file, cut off past
// its bound: the uncompressed size the signed Release lists for it (its
// checksum is then checked at the end too), else MaxUnsignedIndexBytes.
type indexBound struct {
	r      io.Reader
	url    string
	signed *FileSum // nil when the Release lists no uncompressed file
	limit  int64
	n      int64
	h      hash.Hash
	err    error
}

// boundIndex wraps r, the decompressed stream of file (read from url),
// with the bound the signed rel gives it.
func boundIndex(r io.Reader, rel *Release, file indexFile, url string) *indexBound {
	b := &indexBound{r: r, url: url, limit: MaxUnsignedIndexBytes, h: sha256.New()}
	if plain := strings.TrimSuffix(strings.TrimSuffix(file.path, ".xz"), ".gz"); plain != file.path {
		if s, ok := rel.SHA256[plain]; ok {
			b.signed, b.limit = &s, s.Size
		}
	}
	return b
}

func (b *indexBound) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Never hand out more than one byte past the bound.
	if room := b.limit + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.h.Write(p[:n])
	if b.n > b.limit {
		if b.signed != nil {
			b.err = fmt.Errorf("%w: %s decompresses to more than the %d bytes the signed Release lists for it: refusing it (the archive is broken or hostile; set debian.mirror to another mirror)", errIntegrity, b.url, b.limit)
		} else {
			b.err = fmt.Errorf("%w: %s decompresses to more than %s (MaxUnsignedIndexBytes, the cap on an index whose uncompressed size the signed Release does not list): refusing it", errIntegrity, b.url, mib(b.limit))
		}
		return n, b.err
	}
	return n, err
}

// finish checks, once the stream was read to its end, that it has the
// signed size and checksum; parseErr is the parser's error, which a bound
// error explains.
func (b *indexBound) finish(parseErr error) error {
	if b.err != nil {
		return b.err
	}
	if parseErr != nil {
		return parseErr
	}
	if b.signed == nil {
		return nil
	}
	if got := hex.EncodeToString(b.h.Sum(nil)); b.n != b.signed.Size || got != b.signed.SHA256 {
		return fmt.Errorf("%w: %s decompresses to %d bytes with sha256 %s, the signed Release lists %d bytes with sha256 %s: refusing it (the archive is broken or hostile; set debian.mirror to another mirror)", errIntegrity, b.url, b.n, got, b.signed.Size, b.signed.SHA256)
	}
	return nil
}
