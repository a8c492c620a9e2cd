package nix

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/stratabuild/strata/closure"
)

// NARHoldBytes bounds, per store path, the file contents a checked listing
// (storeContents.CheckedEntries) keeps in memory because the layer writer
// read them before the NAR's turn came: the tar is in bytewise path order
// ("a.b" before "a/x") and the NAR in per-folder name order ("a/x" before
// "a.b"). A file that does not fit is hashed on its way into the tar and
// read once more when the NAR reaches it, its second read checked against
// the first; only those files are read twice.
const NARHoldBytes = 8 << 20

// narFile is one regular file of a checked listing, in NAR order.
type narFile struct {
	path string
	size int64
}

// narLayout is a store path's NAR without the file contents: the bytes
// around them, known from the listing alone. The NAR is layout[:cut[0]],
// file 0's content and padding, layout[cut[0]:cut[1]], file 1, ...,
// layout[cut[len-1]:].
type narLayout struct {
	buf   []byte
	cut   []int
	files []narFile
}

func (l *narLayout) u64(v uint64) { l.buf = binary.LittleEndian.AppendUint64(l.buf, v) }

func (l *narLayout) str(ss ...string) {
	for _, s := range ss {
		l.u64(uint64(len(s)))
		l.buf = append(l.buf, s...)
		if r := len(s) % 8; r != 0 {
			l.buf = append(l.buf, narPadding[:8-r]...)
		}
	}
}

// size is the NAR's length.
func (l *narLayout) size() int64 {
	n := int64(len(l.buf))
	for _, f := range l.files {
		n += f.size + narPad(f.size)
	}
	return n
}

func narPad(n int64) int64 {
	if r := n % 8; r != 0 {
		return 8 - r
	}
	return 0
}

// listNAR lists the store path root as image entries (storeEntry) and lays
// out its NAR in the same walk; the entries' Open functions are left for
// the caller to set (file k of the layout is entries[at[k]]).
func listNAR(ctx context.Context, root string) ([]closure.Entry, *narLayout, []int, error) {
	lay := &narLayout{}
	var entries []closure.Entry
	var at []int
	lay.str("nix-archive-1")
	var node func(p string, fi fs.FileInfo) error
	node = func(p string, fi fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := storeEntry(p, fi)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		lay.str("(")
		switch e.Type {
		case closure.Regular:
			lay.str("type", "regular")
			if fi.Mode()&0o100 != 0 {
				lay.str("executable", "")
			}
			lay.str("contents")
			lay.u64(uint64(e.Size))
			lay.cut = append(lay.cut, len(lay.buf))
			lay.files = append(lay.files, narFile{path: p, size: e.Size})
			at = append(at, len(entries)-1)
		case closure.Symlink:
			lay.str("type", "symlink", "target", e.Link)
		case closure.Dir:
			lay.str("type", "directory")
			// os.ReadDir sorts by name bytewise, the order NAR wants.
			des, err := os.ReadDir(p)
			if err != nil {
				return fmt.Errorf("listing %s: %w", p, err)
			}
			for _, de := range des {
				cfi, err := de.Info()
				if err != nil {
					return fmt.Errorf("listing %s: %w", p, err)
				}
				lay.str("entry", "(", "name", de.Name(), "node")
				if err := node(filepath.Join(p, de.Name()), cfi); err != nil {
					return err
				}
				lay.str(")")
			}
		}
		lay.str(")")
		return nil
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listing %s: %w", root, err)
	}
	if err := node(root, fi); err != nil {
		return nil, nil, nil, err
	}
	return entries, lay, at, nil
}

// CheckedEntries implements closure.CheckedContents: the entries of
// Entries without the NAR pass that precedes it there. The NAR hash is
// computed from the bytes the layer writer reads through the entries'
// Open, in the same pass, and check compares it with the store's record
// once the writer is done (reading from disk whatever it did not read).
func (c *storeContents) CheckedEntries(ctx context.Context) ([]closure.Entry, func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if !c.info.HasHash {
		return nil, nil, fmt.Errorf("verifying %s: its narHash is unknown", c.info.Path)
	}
	es, lay, at, err := listNAR(ctx, c.info.Path)
	if err != nil {
		return nil, nil, err
	}
	nc := newNARCheck(ctx, c.info, lay)
	if c.hold != 0 {
		nc.hold = c.hold
	}
	for k, i := range at {
		es[i].Open = func() (io.ReadCloser, error) { return nc.open(k) }
	}
	return append(parentDirs(path.Dir(c.info.Path)), es...), nc.check, nil
}

// File states of a narCheck.
const (
	fileUnread  = iota // not read yet (or read only partly)
	fileReading        // being read as the NAR's next file: its bytes go straight into the hash
	fileHeld           // read ahead of its turn: content (or its sha256) kept
	fileHashed         // in the NAR hash
)

// narCheck computes a store path's NAR hash from the bytes a layer writer
// reads, whatever order it reads the files in.
type narCheck struct {
	ctx  context.Context
	info PathInfo
	lay  *narLayout

	mu        sync.Mutex
	h         hash.Hash
	next      int // the file the NAR hash waits for; the layout before it is in h
	state     []uint8
	held      map[int][]byte
	heldSum   map[int][sha256.Size]byte // read ahead, too large to hold: the sha256 of what was read
	heldBytes int64
	hold      int64 // NARHoldBytes but in tests
	// broken is set when a file's bytes went into the hash only in part
	// (a reader closed early or failing): check then serializes the whole
	// path from disk again, as Entries does.
	broken bool
	err    error
}

func newNARCheck(ctx context.Context, info PathInfo, lay *narLayout) *narCheck {
	nc := &narCheck{ctx: ctx, info: info, lay: lay, h: sha256.New(), state: make([]uint8, len(lay.files)),
		held: map[int][]byte{}, heldSum: map[int][sha256.Size]byte{}, hold: NARHoldBytes}
	nc.h.Write(lay.buf[:nc.layoutEnd(-1)])
	return nc
}

// layoutEnd is where the layout after file k (k = -1: before file 0)
// ends: at file k+1's content, or the layout's end.
func (nc *narCheck) layoutEnd(k int) int {
	if k+1 < len(nc.lay.cut) {
		return nc.lay.cut[k+1]
	}
	return len(nc.lay.buf)
}

// finish adds file k's padding and the layout up to the next file, and
// moves on to it; files held for their turn follow at once.
func (nc *narCheck) finish(k int) error {
	nc.h.Write(narPadding[:narPad(nc.lay.files[k].size)])
	nc.h.Write(nc.lay.buf[nc.lay.cut[k]:nc.layoutEnd(k)])
	nc.state[k] = fileHashed
	nc.next = k + 1
	for nc.next < len(nc.state) && nc.state[nc.next] == fileHeld {
		j := nc.next
		if b, ok := nc.held[j]; ok {
			nc.h.Write(b)
			delete(nc.held, j)
			nc.heldBytes -= int64(len(b))
		} else if err := nc.reread(j); err != nil {
			return err
		}
		nc.h.Write(narPadding[:narPad(nc.lay.files[j].size)])
		nc.h.Write(nc.lay.buf[nc.lay.cut[j]:nc.layoutEnd(j)])
		nc.state[j] = fileHashed
		nc.next = j + 1
	}
	return nil
}

// reread reads file j, which was too large to hold, into the hash and
// checks that it has the bytes the layer writer read.
func (nc *narCheck) reread(j int) error {
	f := nc.lay.files[j]
	want := nc.heldSum[j]
	delete(nc.heldSum, j)
	r, err := openSized(f.path, f.size)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", nc.info.Path, err)
	}
	defer r.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(nc.h, sum), io.LimitReader(r, f.size))
	if err != nil {
		return fmt.Errorf("verifying %s: %w", nc.info.Path, err)
	}
	if n != f.size || [sha256.Size]byte(sum.Sum(nil)) != want {
		return nc.modified(fmt.Sprintf("%s changed while it was read", f.path))
	}
	return nil
}

func (nc *narCheck) modified(what string) error {
	return fmt.Errorf("store path %s was modified (%s); repair it with `nix-store --verify --check-contents --repair` (or delete and rebuild the path)", nc.info.Path, what)
}

// open opens file k for the layer writer.
func (nc *narCheck) open(k int) (io.ReadCloser, error) {
	f := nc.lay.files[k]
	r, err := openSized(f.path, f.size)
	if err != nil {
		return nil, err
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	fr := &narFileReader{nc: nc, k: k, r: r, size: f.size}
	switch {
	case nc.state[k] != fileUnread:
		// A second reader of the same file (one layer listing a path
		// twice compares both copies): its bytes are checked by size
		// only, as every read was before this check ran in one pass.
		fr.mode = passThrough
	case k == nc.next:
		nc.state[k] = fileReading
		fr.mode = intoHash
	case nc.heldBytes+f.size <= nc.hold:
		nc.state[k] = fileReading
		nc.heldBytes += f.size
		fr.mode = intoHeld
		fr.buf = make([]byte, 0, f.size)
	default:
		nc.state[k] = fileReading
		fr.mode = intoSum
		fr.sum = sha256.New()
	}
	return fr, nil
}

// Modes of a narFileReader.
const (
	passThrough = iota
	intoHash
	intoHeld
	intoSum
)

type narFileReader struct {
	nc   *narCheck
	k    int
	r    io.ReadCloser
	size int64
	n    int64
	mode int
	buf  []byte
	sum  hash.Hash
	done bool
}

func (fr *narFileReader) Read(p []byte) (int, error) {
	n, err := fr.r.Read(p)
	if n > 0 && fr.mode != passThrough && !fr.done {
		nc := fr.nc
		nc.mu.Lock()
		b := p[:n]
		if over := fr.n + int64(n) - fr.size; over > 0 {
			b = b[:int64(n)-over] // a file that grew: the NAR has the listed size
		}
		switch fr.mode {
		case intoHash:
			nc.h.Write(b)
		case intoHeld:
			fr.buf = append(fr.buf, b...)
		case intoSum:
			fr.sum.Write(b)
		}
		fr.n += int64(len(b))
		if fr.n == fr.size {
			fr.complete()
		}
		nc.mu.Unlock()
	}
	return n, err
}

// complete records a file read in full; nc.mu is held.
func (fr *narFileReader) complete() {
	nc := fr.nc
	fr.done = true
	switch fr.mode {
	case intoHash:
		if err := nc.finish(fr.k); err != nil && nc.err == nil {
			nc.err = err
		}
	case intoHeld, intoSum:
		nc.state[fr.k] = fileHeld
		if fr.mode == intoHeld {
			nc.held[fr.k] = fr.buf
		} else {
			nc.heldSum[fr.k] = [sha256.Size]byte(fr.sum.Sum(nil))
		}
		fr.buf, fr.sum = nil, nil
	}
}

func (fr *narFileReader) Close() error {
	nc := fr.nc
	nc.mu.Lock()
	if fr.mode != passThrough && !fr.done {
		if fr.size == 0 {
			fr.complete()
		} else {
			// Read in part: the hash (or the held copy) lacks bytes.
			fr.done = true
			switch fr.mode {
			case intoHash:
				nc.broken = true
			case intoHeld:
				nc.heldBytes -= int64(cap(fr.buf))
				nc.state[fr.k] = fileUnread
			case intoSum:
				nc.state[fr.k] = fileUnread
			}
		}
	}
	nc.mu.Unlock()
	return fr.r.Close()
}

// check finishes the NAR hash, reading the files the layer writer did not
// read, and compares it with the store's record.
func (nc *narCheck) check() error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.broken {
		return verify(nc.ctx, nc.info)
	}
	if nc.err != nil {
		return nc.err
	}
	for nc.next < len(nc.state) {
		k := nc.next
		if err := nc.ctx.Err(); err != nil {
			return err
		}
		if nc.state[k] == fileReading {
			// A reader still open: nothing the layer writer does.
			return fmt.Errorf("verifying %s: %s is still being read", nc.info.Path, nc.lay.files[k].path)
		}
		f := nc.lay.files[k]
		r, err := openSized(f.path, f.size)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", nc.info.Path, err)
		}
		n, err := io.Copy(nc.h, io.LimitReader(r, f.size))
		r.Close()
		if err != nil {
			return fmt.Errorf("verifying %s: %w", nc.info.Path, err)
		}
		if n != f.size {
			return nc.modified(fmt.Sprintf("%s shrank from %d to %d bytes", f.path, f.size, n))
		}
		if err := nc.finish(k); err != nil {
			return err
		}
	}
	var got Hash
	copy(got[:], nc.h.Sum(nil))
	size := nc.lay.size()
	if got != nc.info.NarHash || (nc.info.NarSize > 0 && size != nc.info.NarSize) {
		return fmt.Errorf("store path %s was modified: its contents hash to %s (%d bytes as a NAR) but the store records %s (%d bytes); repair it with `nix-store --verify --check-contents --repair` (or delete and rebuild the path)",
			nc.info.Path, got, size, nc.info.NarHash, nc.info.NarSize)
	}
	return nil
}

var _ closure.CheckedContents = (*storeContents)(nil)
