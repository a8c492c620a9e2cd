package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Store is a cache rooted at a folder.
type Store struct {
	root string
	// held is the shared hold on the cache (see GC) while it is open.
	held *os.File
	// verified holds the blobs this process wrote (and hashed while
	// writing) or read to the end and checked: BlobFile hands them out
	// without hashing them again.
	verified sync.Map
}

// DefaultRoot is $STRATA_CACHE, else $XDG_CACHE_HOME/strata, else
// ~/.cache/strata.
func DefaultRoot() (string, error) {
	if d := os.Getenv("STRATA_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "strata"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache folder: %w (set STRATA_CACHE or --cache)", err)
	}
	return filepath.Join(home, ".cache", "strata"), nil
}

// Open opens (creating when missing) the store at root.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening cache %s: %w", root, err)
	}
	for _, d := range []string{"blobs/sha256", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("opening cache %s: %w (is it writable? choose another with --cache or STRATA_CACHE)", abs, err)
		}
	}
	s := &Store{root: abs}
	if err := s.hold(); err != nil {
		return nil, err
	}
	return s, nil
}

// Root is the store's folder.
func (s *Store) Root() string { return s.root }

// dir returns (creating) the folder for derived entries of one kind, e.g.
// "layers", "deb-unpacked", "deb-index".
func (s *Store) dir(kind string) (string, error) {
	d := filepath.Join(s.root, kind)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("creating cache folder %s: %w", d, err)
	}
	return d, nil
}

// blobPath is where the blob with the given hex sha256 lives (it may not exist).
func (s *Store) blobPath(hexDigest string) string {
	return filepath.Join(s.root, "blobs", "sha256", hexDigest)
}

// HasBlob reports whether a blob is present (its content is checked on read).
func (s *Store) HasBlob(hexDigest string) bool {
	p := s.blobPath(hexDigest)
	_, err := os.Stat(p)
	if err == nil {
		touch(p)
	}
	return err == nil
}

// ErrCorrupt is cache.ErrCorrupt.
var ErrCorrupt = cache.ErrCorrupt

var _ cache.Cache = (*Store)(nil)

// OpenBlob opens a blob; the reader fails at EOF with ErrCorrupt when the
// bytes do not hash to the name, and then deletes the blob.
func (s *Store) OpenBlob(hexDigest string) (io.ReadCloser, error) {
	p := s.blobPath(hexDigest)
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	touch(p)
	return &verifyReader{f: f, h: sha256.New(), want: hexDigest, path: p, s: s}, nil
}

type verifyReader struct {
	f    *os.File
	h    hash.Hash
	want string
	path string
	s    *Store
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			os.Remove(v.path)
			return n, fmt.Errorf("%w: %s has sha256 %s (removed; run again to fetch it anew)", ErrCorrupt, v.path, got)
		}
		v.s.verified.Store(v.want, true)
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.f.Close() }

// PutBlob stores r's bytes and returns their hex sha256. With want set, a
// mismatch is an error and nothing is stored.
func (s *Store) PutBlob(r io.Reader, want string) (string, error) {
	h := sha256.New()
	var got string
	tmp, err := s.writeTemp(io.TeeReader(r, h), atomicfile.WithMode(blobMode))
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	got = hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return "", fmt.Errorf("sha256 mismatch: expected %s, got %s", want, got)
	}
	if err := atomicfile.Rename(tmp, s.blobPath(got)); err != nil {
		return "", fmt.Errorf("storing blob %s: %w", got, err)
	}
	s.verified.Store(got, true)
	s.stampNew(got)
	return got, nil
}

// blobMode is the mode of every blob: read-only, because sinks hard-link
// blobs into OCI layouts (BlobFile) and a blob is never written in place.
const blobMode = 0o444

var (
	_ cache.Files      = (*Store)(nil)
	_ cache.IndexFiles = (*Store)(nil)
)

// BlobFile implements cache.Files: the path of blob hex, its bytes known
// to hash to the name. A blob this process wrote or already read through
// costs nothing; any other is hashed once here (a mismatch removes it and
// is ErrCorrupt). A blob left writable by an older strata is made
// read-only first.
func (s *Store) BlobFile(hexDigest string) (string, error) {
	p := s.blobPath(hexDigest)
	if _, ok := s.verified.Load(hexDigest); ok {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		s.verified.Delete(hexDigest)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o222 != 0 {
		if err := os.Chmod(p, blobMode); err != nil {
			return "", fmt.Errorf("making cache blob %s read-only: %w", p, err)
		}
	}
	if s.stampMatches(hexDigest, fi) {
		s.verified.Store(hexDigest, true)
		return p, nil
	}
	rc, err := s.OpenBlob(hexDigest)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return "", err
	}
	if after, err := os.Stat(p); err == nil && stampOf(after) == stampOf(fi) {
		s.writeStamp(hexDigest, after)
	}
	return p, nil
}

// A blob's stamp records its inode, size and modification time (ns) when
// its bytes were last checked, in blob-stamps/HEX; a later process takes a
// blob whose stat still matches as checked without hashing it. Any write
// to the file (also through a hard link in an OCI layout) sets its mtime
// to the time of the write, so an edited blob no longer matches and is
// hashed (and removed when wrong). Stamps are hints: they are written
// without fsync, and a missing or torn one only costs a hash.
func stampOf(fi os.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("v1 %d %d %d\n", ino, fi.Size(), fi.ModTime().UnixNano())
}

func (s *Store) stampPath(hexDigest string) string {
	return filepath.Join(s.root, "blob-stamps", hexDigest)
}

func (s *Store) stampMatches(hexDigest string, fi os.FileInfo) bool {
	b, err := os.ReadFile(s.stampPath(hexDigest))
	return err == nil && string(b) == stampOf(fi)
}

func (s *Store) writeStamp(hexDigest string, fi os.FileInfo) {
	p := s.stampPath(hexDigest)
	if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	tmp := fmt.Sprintf("%s.tmp-%d", p, os.Getpid())
	if os.WriteFile(tmp, []byte(stampOf(fi)), 0o644) != nil || os.Rename(tmp, p) != nil {
		os.Remove(tmp)
	}
}

// stampNew stamps a blob this process just wrote.
func (s *Store) stampNew(hexDigest string) {
	if fi, err := os.Stat(s.blobPath(hexDigest)); err == nil {
		s.writeStamp(hexDigest, fi)
	}
}

// writeTemp copies r into a fsynced temp file in the store and returns its path.
func (s *Store) writeTemp(r io.Reader, opts ...atomicfile.Option) (string, error) {
	tmp, err := atomicfile.WriteTemp(filepath.Join(s.root, "tmp"), atomicfile.TempPattern(putPrefix), func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	}, opts...)
	if err != nil {
		return "", fmt.Errorf("writing to cache: %w", err)
	}
	return tmp, nil
}

// PutDir makes the folder kind/key by calling fill on an empty temporary
// folder and renaming it into place when fill succeeds. If kind/key already
// exists it is returned untouched and fill is not called. Concurrent callers
// for the same key are serialised by a lock.
func (s *Store) PutDir(kind, key string, fill func(tmpDir string) error) (string, error) {
	base, err := s.dir(kind)
	if err != nil {
		return "", err
	}
	final := filepath.Join(base, key)
	if _, err := os.Stat(final); err == nil {
		touch(final)
		return final, nil
	}
	unlock, err := s.Lock(kind + "-" + key)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), atomicfile.TempPattern(dirPrefix))
	if err != nil {
		return "", fmt.Errorf("creating cache entry %s/%s: %w", kind, key, err)
	}
	if err := fill(tmp); err != nil {
		makeWritable(tmp)
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		makeWritable(tmp)
		os.RemoveAll(tmp)
		return "", fmt.Errorf("creating cache entry %s/%s: %w", kind, key, err)
	}
	return final, nil
}

// makeWritable lets RemoveAll delete trees that contain read-only folders.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// putFile writes kind/key atomically from r (temp, fsync, rename) and
// returns its path.
func (s *Store) putFile(kind, key string, r io.Reader) (string, error) {
	base, err := s.dir(kind)
	if err != nil {
		return "", err
	}
	tmp, err := s.writeTemp(r)
	if err != nil {
		return "", err
	}
	final := filepath.Join(base, key)
	if err := atomicfile.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("creating cache entry %s/%s: %w", kind, key, err)
	}
	return final, nil
}

// Lock takes an exclusive, inter-process lock named name and returns the
// function that releases it.
func (s *Store) Lock(name string) (func(), error) {
	name = strings.NewReplacer("/", "_", string(os.PathSeparator), "_").Replace(name)
	f, err := os.OpenFile(filepath.Join(s.root, "locks", name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking cache: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking cache: %w", err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// StateFile is the path of a small state file strata keeps in the cache
// folder (the push history), for code that locks and rewrites it itself.
func (s *Store) StateFile(name string) string { return filepath.Join(s.root, name) }

// Get implements cache.Index.
func (s *Store) Get(kind, key string) ([]byte, error) {
	p := filepath.Join(s.root, kind, key)
	b, err := os.ReadFile(p)
	if err == nil {
		touch(p)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s/%s: %w", kind, key, cache.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cache entry %s/%s: %w", kind, key, err)
	}
	return b, nil
}

// Put implements cache.Index.
func (s *Store) Put(kind, key string, rec []byte) error {
	_, err := s.putFile(kind, key, bytes.NewReader(rec))
	return err
}

// IndexFile implements cache.IndexFiles.
func (s *Store) IndexFile(kind, key string) (string, error) {
	p := filepath.Join(s.root, kind, key)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s/%s: %w", kind, key, cache.ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("reading cache entry %s/%s: %w", kind, key, err)
	}
	touch(p)
	return p, nil
}

// WriteIndex implements cache.IndexFiles.
func (s *Store) WriteIndex(kind, key string, write func(io.Writer) error) error {
	base, err := s.dir(kind)
	if err != nil {
		return err
	}
	var werr error
	tmp, err := atomicfile.WriteTemp(filepath.Join(s.root, "tmp"), atomicfile.TempPattern(putPrefix), func(w io.Writer) error {
		werr = write(w)
		return werr
	})
	if werr != nil {
		return werr // the producer's own error (a parse failure), as it is
	}
	if err != nil {
		return fmt.Errorf("writing cache entry %s/%s: %w", kind, key, err)
	}
	if err := atomicfile.Rename(tmp, filepath.Join(base, key)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("creating cache entry %s/%s: %w", kind, key, err)
	}
	return nil
}

// Delete implements cache.Index.
func (s *Store) Delete(kind, key string) error {
	err := os.Remove(filepath.Join(s.root, kind, key))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// RemoveDir implements cache.Trees.
func (s *Store) RemoveDir(kind, key string) error {
	d := filepath.Join(s.root, kind, key)
	makeWritable(d)
	return os.RemoveAll(d)
}

// CreateBlob implements cache.Blobs.
func (s *Store) CreateBlob() (cache.BlobWriter, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), atomicfile.TempPattern(blobPrefix))
	if err != nil {
		return nil, fmt.Errorf("writing to cache: %w", err)
	}
	return &blobWriter{s: s, f: f}, nil
}

type blobWriter struct {
	s    *Store
	f    *os.File
	done bool
}

func (w *blobWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *blobWriter) Commit(hex string) error {
	if w.done {
		return errors.New("blob already committed or aborted")
	}
	w.done = true
	err := w.f.Chmod(blobMode)
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = atomicfile.Rename(w.f.Name(), w.s.blobPath(hex))
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("storing blob %s: %w", hex, err)
	}
	w.s.verified.Store(hex, true)
	w.s.stampNew(hex)
	return nil
}

func (w *blobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}
