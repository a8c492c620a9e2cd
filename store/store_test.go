package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratabuild/strata/cache"
)

func hexOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestBlobRoundTripAndCorruption(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("some blob")
	h, err := st.PutBlob(bytes.NewReader(data), hexOf(data))
	if err != nil || h != hexOf(data) || !st.HasBlob(h) {
		t.Fatalf("put: %v %s", err, h)
	}
	if _, err := st.PutBlob(strings.NewReader("other"), hexOf(data)); err == nil {
		t.Fatal("mismatched blob accepted")
	}
	rc, _ := st.OpenBlob(h)
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != string(data) {
		t.Fatalf("read %q %v", got, err)
	}
	// Corrupt it on disk: the read fails and the entry is removed.
	os.WriteFile(st.blobPath(h), []byte("tampered"), 0o644)
	rc, _ = st.OpenBlob(h)
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, ErrCorrupt) || st.HasBlob(h) {
		t.Fatalf("corrupt blob: err %v, still present %v", err, st.HasBlob(h))
	}
	// Nothing is left in tmp.
	if ents, _ := os.ReadDir(filepath.Join(st.Root(), "tmp")); len(ents) != 0 {
		t.Errorf("tmp not empty: %v", ents)
	}
}

func TestPutDirIsAtomicAndOnce(t *testing.T) {
	st, _ := Open(t.TempDir())
	_, err := st.PutDir("k", "fail", func(tmp string) error {
		os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644)
		return fmt.Errorf("disk full")
	})
	if err == nil {
		t.Fatal("error lost")
	}
	if _, err := os.Stat(filepath.Join(st.Root(), "k", "fail")); !os.IsNotExist(err) {
		t.Fatal("a failed fill left an entry")
	}
	var calls int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := st.PutDir("k", "ok", func(tmp string) error {
				mu.Lock()
				calls++
				mu.Unlock()
				return os.WriteFile(filepath.Join(tmp, "f"), []byte("done"), 0o644)
			})
			if err != nil {
				t.Error(err)
				return
			}
			if b, _ := os.ReadFile(filepath.Join(p, "f")); string(b) != "done" {
				t.Errorf("entry content %q", b)
			}
		}()
	}
	wg.Wait()
	if calls != 1 {
		t.Errorf("fill ran %d times for one key", calls)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("STRATA_CACHE", "/x/cache")
	if r, _ := DefaultRoot(); r != "/x/cache" {
		t.Errorf("STRATA_CACHE ignored: %s", r)
	}
	t.Setenv("STRATA_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/x/xdg")
	if r, _ := DefaultRoot(); r != "/x/xdg/strata" {
		t.Errorf("XDG_CACHE_HOME ignored: %s", r)
	}
}

func TestOpenUnwritable(t *testing.T) {
	if _, err := Open("/proc/strata-no"); err == nil || !strings.Contains(err.Error(), "--cache") {
		t.Errorf("error %v should name --cache", err)
	}
}

func TestIndexAndBlobWriter(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("layers", "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get of a missing record = %v, want ErrNotFound", err)
	}
	if err := st.Put("layers", "k", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	if b, err := st.Get("layers", "k"); err != nil || string(b) != "rec" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	if err := st.Delete("layers", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("layers", "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
	w, err := st.CreateBlob()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	const h = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	if err := w.Commit(h); err != nil {
		t.Fatal(err)
	}
	if !st.HasBlob(h) {
		t.Fatal("committed blob missing")
	}
	w2, _ := st.CreateBlob()
	w2.Write([]byte("dropped"))
	w2.Abort()
	if ents, _ := os.ReadDir(filepath.Join(st.Root(), "tmp")); len(ents) != 0 {
		t.Fatalf("Abort left %d temp files", len(ents))
	}
}

func TestBlobFileIsReadOnlyAndChecked(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hex, err := s.PutBlob(strings.NewReader("hello"), "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.BlobFile(hex)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("blob mode %v (%v), want 0444: sinks hard-link blobs", fi.Mode(), err)
	}
	// Another process (a fresh Store) has not checked the blob: a blob
	// changed behind the cache's back is found and removed.
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("HELLO"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(s.Root())
	if _, err := s2.BlobFile(hex); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("BlobFile of a changed blob: %v, want ErrCorrupt", err)
	}
	if s2.HasBlob(hex) {
		t.Error("a corrupt blob was kept")
	}
}

func TestBlobStampSkipsTheHashUntilTheFileChanges(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hex, err := s.PutBlob(strings.NewReader("hello"), "")
	if err != nil {
		t.Fatal(err)
	}
	p := s.blobPath(hex)
	fi, _ := os.Stat(p)
	// Same size and mtime, other bytes: only a stamp lets this through,
	// which shows that a fresh process does not hash a stamped blob.
	os.Chmod(p, 0o644)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("J"), 0)
	f.Close()
	os.Chmod(p, 0o444)
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(s.Root())
	if _, err := s2.BlobFile(hex); err != nil {
		t.Fatalf("a stamped blob was hashed again: %v", err)
	}
	// Any other mtime (a write through a hard link sets it) means a hash.
	later := fi.ModTime().Add(time.Second)
	os.Chtimes(p, later, later)
	s3, _ := Open(s.Root())
	if _, err := s3.BlobFile(hex); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a blob written after its stamp: %v, want ErrCorrupt", err)
	}
}

// WriteIndex streams a record into place atomically: a failed write
// leaves neither the record nor a temp file, and IndexFile names the file
// Get reads.
func TestWriteIndexAndIndexFile(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.IndexFile("deb-index", "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	boom := errors.New("parse failed")
	err = s.WriteIndex("deb-index", "k", func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if err != boom {
		t.Fatalf("the producer's error is not returned as it is: %v", err)
	}
	if _, err := s.Get("deb-index", "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("a failed write left a record: %v", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.root, "tmp")); len(tmp) != 0 {
		t.Fatalf("a failed write left %d temp files", len(tmp))
	}
	if err := s.WriteIndex("deb-index", "k", func(w io.Writer) error { _, err := io.WriteString(w, "whole"); return err }); err != nil {
		t.Fatal(err)
	}
	p, err := s.IndexFile("deb-index", "k")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "whole" {
		t.Fatalf("IndexFile holds %q", b)
	}
	if b, _ := s.Get("deb-index", "k"); string(b) != "whole" {
		t.Fatalf("Get reads %q", b)
	}
}
