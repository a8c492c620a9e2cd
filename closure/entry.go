package closure

import (
	"context"
	"io"
	"io/fs"
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
