package cache

import (
	"errors"
	"io"
)

// ErrNotFound is returned (wrapped) by Index.Get for a missing record.
var ErrNotFound = errors.New("not in the cache")

// ErrCorrupt is returned (wrapped) when a cache entry's bytes do not match
// its name; the entry is removed so the next run fetches it again.
var ErrCorrupt = errors.New("cache entry is corrupt")

// Blobs holds content named by its sha256 (64 lowercase hex digits).
type Blobs interface {
	// HasBlob reports whether the blob is present.
	HasBlob(hex string) bool
	// OpenBlob opens a blob; reading it to EOF fails with ErrCorrupt when
	// the bytes do not hash to the name.
	OpenBlob(hex string) (io.ReadCloser, error)
	// PutBlob stores r's bytes and returns their sha256; with want set, a
	// mismatch is an error and nothing is stored.
	PutBlob(r io.Reader, want string) (string, error)
	// CreateBlob returns a writer for a blob whose digest its producer
	// computes while writing (a layer): Commit names it, Abort drops it.
	CreateBlob() (BlobWriter, error)
}

// Files is implemented by a Blobs whose blobs are local files, so that a
// sink can link, reflink or copy_file_range a blob instead of reading it
// through Go.
type Files interface {
	// BlobFile returns the path of blob hex once its bytes are known to
	// hash to the name (without reading it again when this process wrote
	// or checked it). The file is read-only: callers never write it, and
	// a hard link to it is the same file.
	BlobFile(hex string) (string, error)
}

// BlobWriter is a blob being written. Exactly one of Commit or Abort must
// be called.
type BlobWriter interface {
	io.Writer
	// Commit makes the bytes written so far durable as the blob hex (the
	// producer hashed them while writing; they are not read back).
	Commit(hex string) error
	// Abort removes what was written; it is a no-op after Commit.
	Abort()
}

// Index maps keys to small records, within a kind ("layers", "deb-index").
type Index interface {
	// Get returns the record, or an error wrapping ErrNotFound.
	Get(kind, key string) ([]byte, error)
	// Put writes the record atomically.
	Put(kind, key string, rec []byte) error
	// Delete removes a record that turned out unreadable.
	Delete(kind, key string) error
}

// IndexFiles is implemented by an Index whose records are local files, so
// that a large record (a parsed Debian index) is written streaming and
// mapped read-only instead of held in memory.
type IndexFiles interface {
	// IndexFile returns the path of record kind/key, or an error wrapping
	// ErrNotFound. The file is never written in place (only replaced by a
	// rename), so an open or mapped copy stays valid.
	IndexFile(kind, key string) (string, error)
	// WriteIndex stores as record kind/key, atomically, what write writes;
	// nothing is stored when write fails.
	WriteIndex(kind, key string, write func(io.Writer) error) error
}

// Trees holds local folders by key.
type Trees interface {
	// PutDir returns the folder kind/key, first making it by calling fill
	// on an empty temporary folder when it is missing (atomically;
	// concurrent callers for the same key wait for one another).
	PutDir(kind, key string, fill func(tmpDir string) error) (string, error)
	// RemoveDir drops a damaged folder so that PutDir makes it anew.
	RemoveDir(kind, key string) error
}

// Locks gives inter-process mutual exclusion by name.
type Locks interface {
	// Lock takes the lock name and returns the function that releases it.
	Lock(name string) (unlock func(), err error)
}

// Cache is everything a build caches through.
type Cache interface {
	Blobs
	Index
	Trees
	Locks
}
