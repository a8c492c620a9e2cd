package closure

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
)

// EntryType is the kind of a filesystem entry.
type EntryType uint8

// Entry types. Sockets, devices and fifos are not representable: sources
// reject them with an error.
const (
	Regular EntryType = iota
	Dir
	Symlink
	Hardlink
)

func (t EntryType) String() string {
	switch t {
	case Regular:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case Hardlink:
		return "hardlink"
	}
	return "unknown"
}

// Entry is one filesystem entry a node puts in the image.
type Entry struct {
	// Path is slash-separated, relative to the image root, clean, with no
	// leading slash and no ".." element: "usr/bin/hello".
	Path string
	Type EntryType
	// Mode holds the permission bits plus fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky; the type bits are ignored (Type says it).
	Mode fs.FileMode
	UID  int
	GID  int
	// Size of a regular file's content.
	Size int64
	// Link is a symlink's target, or for a Hardlink the Path of the entry
	// it links to (in the same node).
	Link string
	// Open returns a regular file's content; it must yield exactly Size bytes.
	Open func() (io.ReadCloser, error)
}

// Contents is what a node puts in the image.
type Contents interface {
	// Key identifies the entries: two Contents with equal keys yield
	// identical entries and bytes. It is used as a layer cache key, so it
	// must cover everything that determines the bytes (a content hash, a
	// .deb's sha256, a narHash, plus any rewriting options).
	Key() string
	// Entries lists the node's entries in any order.
	Entries(ctx context.Context) ([]Entry, error)
}

// StaticContents is Contents backed by a fixed list; handy for generated
// files and tests.
type StaticContents struct {
	ID   string
	List []Entry
}

// Key implements Contents.
func (s StaticContents) Key() string { return s.ID }

// Entries implements Contents.
func (s StaticContents) Entries(context.Context) ([]Entry, error) { return s.List, nil }

// CheckedContents is Contents whose source records a hash of its bytes
// (a Nix store path's narHash) that a layer writer can check in the pass
// that writes the layer, instead of Entries reading everything once more
// beforehand.
type CheckedContents interface {
	Contents
	// CheckedEntries lists the entries as Entries does but leaves the
	// check for later: the entries' Open feed it, and check, called once
	// the caller has read what it wants, reads whatever was not read and
	// fails when the bytes differ from the record. A caller must not keep
	// anything made from the entries' bytes when check fails.
	CheckedEntries(ctx context.Context) (entries []Entry, check func() error, err error)
}

// PendingContents is Contents a source is still making (a .deb being
// downloaded and unpacked) while the caller already plans and builds:
// Entries waits until the source calls Fill or Fail. Its key is known up
// front, or (for generated files, keyed by what they hold) given by Fill,
// in which case Key waits too. Every PendingContents a source hands out
// must be filled or failed, whatever happens, or its readers wait forever.
type PendingContents struct {
	key    string
	ready  chan struct{}
	list   []Entry
	err    error
	once   sync.Once
	demand func()
	asked  sync.Once
	// filledKey is the key Fill gave when key was "".
	filledKey string
}

// NewPendingContents returns contents to be filled; key is "" when Fill
// gives it. demand, when not nil, is called once, the first time a reader
// asks for the entries, so the source can make them next.
func NewPendingContents(key string, demand func()) *PendingContents {
	return &PendingContents{key: key, ready: make(chan struct{}), demand: demand}
}

// Key implements Contents. A key left to Fill waits for it; failed
// contents have a key no layer is cached under, so a reader goes on to
// Entries and gets the error.
func (p *PendingContents) Key() string {
	if p.key != "" {
		return p.key
	}
	<-p.ready
	if p.err != nil {
		return "failed:" + p.err.Error()
	}
	return p.filledKey
}

// Entries implements Contents: it waits until the contents are made (or
// ctx ends).
func (p *PendingContents) Entries(ctx context.Context) ([]Entry, error) {
	if p.demand != nil {
		p.asked.Do(p.demand)
	}
	select {
	case <-p.ready:
		return p.list, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Done is closed once the contents are filled or failed.
func (p *PendingContents) Done() <-chan struct{} { return p.ready }

// WaitKey implements KeyWaiter: it returns once Key will not wait (at once
// when the key was known up front), or with the contents' error or ctx's.
func (p *PendingContents) WaitKey(ctx context.Context) error {
	if p.key != "" {
		return nil
	}
	select {
	case <-p.ready:
		return p.err
	default: // made wins over an ended ctx
	}
	select {
	case <-p.ready:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// KeyWaiter is Contents whose Key may wait for its source (a
// PendingContents keyed by what it will hold): a caller that must stay
// cancellable calls WaitKey before Key.
type KeyWaiter interface {
	WaitKey(ctx context.Context) error
}

// Fill sets the entries (and, for contents made without a key, the key);
// later calls to Fill or Fail do nothing.
func (p *PendingContents) Fill(key string, list []Entry) {
	p.once.Do(func() {
		if p.key == "" {
			if key == "" {
				p.err = errors.New("closure: pending contents filled without a key")
			}
			p.filledKey = key
		}
		p.list = list
		close(p.ready)
	})
}

// Fail makes every reader get err; later calls to Fill or Fail do
// nothing.
func (p *PendingContents) Fail(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.ready)
	})
}
