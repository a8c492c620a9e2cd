package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stratabuild/strata/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Entry types of List.
const (
	TypeBlob   = "blob"   // blobs/sha256/HEX
	TypeRecord = "record" // KIND/KEY, a small file (cache.Index)
	TypeTree   = "tree"   // KIND/KEY, a folder (cache.Trees)
)

// BlobsKind is the Kind of blob entries in List.
const BlobsKind = "blobs"

// Entry is one thing the cache holds.
type Entry struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
	Type string `json:"type"`
	// Size is the bytes on disk (a tree's regular files summed).
	Size int64 `json:"size"`
	// Used is when the entry was last used (read or written).
	Used time.Time `json:"used"`
}

// Path is the entry's file or folder under the store.
func (s *Store) Path(e Entry) string {
	if e.Type == TypeBlob {
		return s.blobPath(e.Key)
	}
	return filepath.Join(s.root, e.Kind, e.Key)
}

// notEntries are the store's own folders and state files, not entries
// (blob-stamps belong to their blobs: removed with them).
var notEntries = map[string]bool{"blobs": true, "tmp": true, "locks": true, "blob-stamps": true}

// List returns every entry, sorted by kind and key.
func (s *Store) List() ([]Entry, error) {
	var out []Entry
	blobs, err := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	if err != nil {
		return nil, fmt.Errorf("listing the cache %s: %w", s.root, err)
	}
	for _, b := range blobs {
		if fi, err := b.Info(); err == nil && fi.Mode().IsRegular() {
			out = append(out, Entry{Kind: BlobsKind, Key: b.Name(), Type: TypeBlob, Size: fi.Size(), Used: used(fi)})
		}
	}
	kinds, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("listing the cache %s: %w", s.root, err)
	}
	for _, k := range kinds {
		if !k.IsDir() || notEntries[k.Name()] {
			continue // state files such as push-history.json
		}
		ents, err := os.ReadDir(filepath.Join(s.root, k.Name()))
		if err != nil {
			return nil, fmt.Errorf("listing the cache %s: %w", s.root, err)
		}
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			en := Entry{Kind: k.Name(), Key: e.Name(), Type: TypeRecord, Size: fi.Size(), Used: used(fi)}
			if fi.IsDir() {
				en.Type, en.Size = TypeTree, treeSize(filepath.Join(s.root, k.Name(), e.Name()))
			}
			out = append(out, en)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// used is the later of a file's access and modification times: the store
// sets the access time whenever it hands an entry out (touch).
func used(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		if a := time.Unix(st.Atim.Sec, st.Atim.Nsec); a.After(t) {
			t = a
		}
	}
	return t.UTC()
}

func treeSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// touch records that an entry was used: its access time only, so no
// content, mode or modification time changes (tree hashes stay).
func touch(path string) {
	now := unix.NsecToTimespec(time.Now().UnixNano())
	unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{now, {Nsec: unix.UTIME_OMIT}}, unix.AT_SYMLINK_NOFOLLOW) //nolint:errcheck // best effort: an LRU hint
}

// holdLock is the lock every open store holds shared and gc takes
// exclusively: gc never runs while a build has the cache open.
const holdLock = "gc"

// hold takes holdLock shared for as long as the process runs (or until
// the store's GC takes it over).
func (s *Store) hold() error {
	f, err := os.OpenFile(filepath.Join(s.root, "locks", holdLock), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("locking cache: %w", err)
	}
	tmp := filepath.Join(s.root, "tmp")
	alone := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
	if alone {
		// No other process has the cache open: whatever cache/tmp holds
		// was left by a killed build (partial blobs, half-filled entries).
		if ents, err := os.ReadDir(tmp); err == nil {
			for _, e := range ents {
				p := filepath.Join(tmp, e.Name())
				makeWritable(p)
				os.RemoveAll(p)
			}
		}
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		f.Close()
		return fmt.Errorf("locking cache: %w", err)
	}
	if !alone {
		// Others use the cache: only dead owners' temps (the pid is in
		// the name) older than TempGrace go.
		for _, prefix := range tempPrefixes {
			atomicfile.RemoveStale(tmp, prefix, atomicfile.StaleOptions{Grace: TempGrace})
		}
	}
	s.held = f
	return nil
}

// TempGrace is how long Open keeps a temp file or folder in cache/tmp whose
// owner process is not running while another process uses the cache: that
// owner may run in another pid namespace (a container sharing the cache
// folder), where its id means nothing here. With no other user every
// leftover goes at once.
const TempGrace = time.Hour

// The prefixes of the store's temp names in cache/tmp.
const (
	putPrefix  = "put-"
	dirPrefix  = "dir-"
	blobPrefix = "blob-"
)

var tempPrefixes = []string{putPrefix, dirPrefix, blobPrefix}

// Close gives up the store's hold on the cache (a process that ends
// needs no Close: the hold goes with it).
func (s *Store) Close() error {
	if s.held == nil {
		return nil
	}
	err := s.held.Close()
	s.held = nil
	return err
}

// GCOptions say what gc removes: entries unused for longer than OlderThan
// (0: no age limit), then the least recently used until the cache holds
// at most MaxSize bytes (0: no size limit).
type GCOptions struct {
	MaxSize   int64
	OlderThan time.Duration
	Now       time.Time
	// DryRun lists what would go and removes nothing.
	DryRun bool
	// Waiting is called once when another process holds the cache (a
	// running build) and gc waits for it.
	Waiting func()
}

// GCResult is what gc removed and what is left.
type GCResult struct {
	Removed      []Entry `json:"removed"`
	RemovedBytes int64   `json:"removedBytes"`
	Kept         int     `json:"kept"`
	KeptBytes    int64   `json:"keptBytes"`
}

// GC removes entries by age and least recent use. It takes the cache's
// hold lock exclusively first, so it waits for every running build (each
// holds it shared from Open to exit) and no build starts meanwhile: it
// never deletes what a build uses. A layer record whose blob goes is
// removed with it.
func (s *Store) GC(opt GCOptions) (*GCResult, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	unlock, err := s.lockExclusive(opt.Waiting)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := s.List()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].Used.Before(ents[j].Used) })
	var total int64
	for _, e := range ents {
		total += e.Size
	}
	res := &GCResult{}
	gone := map[string]bool{}
	for _, e := range ents {
		old := opt.OlderThan > 0 && opt.Now.Sub(e.Used) > opt.OlderThan
		big := opt.MaxSize > 0 && total > opt.MaxSize
		if !old && !big {
			res.Kept++
			res.KeptBytes += e.Size
			continue
		}
		if err := s.remove(e, opt.DryRun); err != nil {
			return nil, err
		}
		total -= e.Size
		res.Removed = append(res.Removed, e)
		res.RemovedBytes += e.Size
		if e.Type == TypeBlob {
			gone[e.Key] = true
		}
	}
	// Layer records of removed blobs would only send the build to a
	// missing blob: they go too.
	for _, e := range ents {
		if e.Kind != "layers" || e.Type != TypeRecord || slicesContainsEntry(res.Removed, e) {
			continue
		}
		if d := layerBlob(s.Path(e)); d != "" && gone[d] {
			if err := s.remove(e, opt.DryRun); err != nil {
				return nil, err
			}
			res.Removed = append(res.Removed, e)
			res.RemovedBytes += e.Size
			res.Kept--
			res.KeptBytes -= e.Size
		}
	}
	return res, nil
}

func slicesContainsEntry(es []Entry, e Entry) bool {
	for _, x := range es {
		if x.Kind == e.Kind && x.Key == e.Key {
			return true
		}
	}
	return false
}

// layerBlob is the blob hex a layer record names ("" when unreadable).
func layerBlob(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var info struct {
		Digest string `json:"digest"`
	}
	if json.Unmarshal(b, &info) != nil {
		return ""
	}
	return strings.TrimPrefix(info.Digest, "sha256:")
}

// Remove deletes one entry (verify --repair). It takes the hold lock
// exclusively, like GC.
func (s *Store) Remove(es []Entry, waiting func()) error {
	unlock, err := s.lockExclusive(waiting)
	if err != nil {
		return err
	}
	defer unlock()
	for _, e := range es {
		if err := s.remove(e, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) remove(e Entry, dry bool) error {
	if dry {
		return nil
	}
	p := s.Path(e)
	if e.Type == TypeTree {
		makeWritable(p)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	if e.Type == TypeBlob {
		s.verified.Delete(e.Key)
		if err := os.Remove(s.stampPath(e.Key)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing %s: %w", s.stampPath(e.Key), err)
		}
	}
	return nil
}

// lockExclusive gives up this process's shared hold and takes the hold
// lock exclusively; unlock takes the shared hold back.
func (s *Store) lockExclusive(waiting func()) (func(), error) {
	if s.held != nil {
		s.held.Close() // releases this process's shared lock
		s.held = nil
	}
	f, err := os.OpenFile(filepath.Join(s.root, "locks", holdLock), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking cache: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
		if waiting != nil {
			waiting()
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking cache: %w", err)
	}
	return func() {
		f.Close()
		s.hold() //nolint:errcheck // the process is done with the cache's maintenance
	}, nil
}

// Problem is a corrupt entry found by Verify.
type Problem struct {
	Entry
	Reason string `json:"reason"`
}

// VerifyBlobs re-hashes every blob and reports those whose bytes do not
// match their name.
func (s *Store) VerifyBlobs(ents []Entry) []Problem {
	var out []Problem
	for _, e := range ents {
		if e.Type != TypeBlob {
			continue
		}
		f, err := os.Open(s.blobPath(e.Key))
		if err != nil {
			out = append(out, Problem{e, err.Error()})
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			out = append(out, Problem{e, err.Error()})
		} else if got := hex.EncodeToString(h.Sum(nil)); got != e.Key {
			out = append(out, Problem{e, "its bytes have sha256 " + got})
		}
	}
	return out
}
