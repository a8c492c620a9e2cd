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
	"time"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Store is a cache rooted at a folder.
type Store struct {
	root  string
	users *os.File // the shared lock on locks/usersLock, held while open
}

// usersLock is the lock file every open Store holds shared: a process that
// gets it exclusively knows no other process uses the cache.
const usersLock = ".users"

// TempGrace is how long Open keeps a temp file or folder in cache/tmp whose
// owner process is not running while another process uses the cache: that
// owner may run in another pid namespace (a container sharing the cache
// folder), where its id means nothing here. With no other user every
// leftover goes at once.
const TempGrace = time.Hour

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
	st := &Store{root: abs}
	if err := st.lockUsers(); err != nil {
		return nil, err
	}
	return st, nil
}

// lockUsers takes the users lock and removes what killed builds left in
// cache/tmp (partial blobs, half-filled entries): everything when no other
// process has the cache open, else the temps of dead owners older than
// TempGrace (atomicfile.RemoveStale: the owner pid is in the name).
func (s *Store) lockUsers() error {
	f, err := os.OpenFile(filepath.Join(s.root, "locks", usersLock), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("locking cache: %w", err)
	}
	tmp := filepath.Join(s.root, "tmp")
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		if ents, err := os.ReadDir(tmp); err == nil {
			for _, e := range ents {
				p := filepath.Join(tmp, e.Name())
				makeWritable(p)
				os.RemoveAll(p)
			}
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
			f.Close()
			return fmt.Errorf("locking cache: %w", err)
		}
	} else {
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
			f.Close()
			return fmt.Errorf("locking cache: %w", err)
		}
		for _, prefix := range tempPrefixes {
			atomicfile.RemoveStale(tmp, prefix, atomicfile.StaleOptions{Grace: TempGrace})
		}
	}
	s.users = f
	return nil
}

// The prefixes of the store's temp names in cache/tmp.
const (
	putPrefix  = "put-"
	dirPrefix  = "dir-"
	blobPrefix = "blob-"
)

var tempPrefixes = []string{putPrefix, dirPrefix, blobPrefix}

// Close releases the cache (its users lock). The process exiting does the
// same; Close is for tests and long-lived callers that open many caches.
func (s *Store) Close() error {
	if s.users == nil {
		return nil
	}
	err := s.users.Close()
	s.users = nil
	return err
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
	_, err := os.Stat(s.blobPath(hexDigest))
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
	return &verifyReader{f: f, h: sha256.New(), want: hexDigest, path: p}, nil
}

type verifyReader struct {
	f    *os.File
	h    hash.Hash
	want string
	path string
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			os.Remove(v.path)
			return n, fmt.Errorf("%w: %s has sha256 %s (removed; run again to fetch it anew)", ErrCorrupt, v.path, got)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.f.Close() }

// PutBlob stores r's bytes and returns their hex sha256. With want set, a
// mismatch is an error and nothing is stored.
func (s *Store) PutBlob(r io.Reader, want string) (string, error) {
	h := sha256.New()
	var got string
	tmp, err := s.writeTemp(io.TeeReader(r, h))
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
	return got, nil
}

// writeTemp copies r into a fsynced temp file in the store and returns its path.
func (s *Store) writeTemp(r io.Reader) (string, error) {
	tmp, err := atomicfile.WriteTemp(filepath.Join(s.root, "tmp"), atomicfile.TempPattern(putPrefix), func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
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
	b, err := os.ReadFile(filepath.Join(s.root, kind, key))
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
	err := w.f.Sync()
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
