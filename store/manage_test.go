package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setUsed sets an entry's access and modification times.
func setUsed(t *testing.T, p string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestListAndGCByAgeAndSize(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var blobs []string
	for i, size := range []int{1000, 2000, 3000} {
		h, err := st.PutBlob(bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, size)), "")
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, h)
	}
	// A layer record naming the oldest blob goes with it.
	if err := st.Put("layers", "k1.json", []byte(`{"digest":"sha256:`+blobs[0]+`"}`)); err != nil {
		t.Fatal(err)
	}
	dir, err := st.PutDir("step-out", "s1", func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "f"), make([]byte, 500), 0o644) })
	if err != nil {
		t.Fatal(err)
	}
	setUsed(t, st.blobPath(blobs[0]), now.Add(-50*time.Hour))
	setUsed(t, st.blobPath(blobs[1]), now.Add(-3*time.Hour))
	setUsed(t, st.blobPath(blobs[2]), now.Add(-2*time.Hour))
	setUsed(t, filepath.Join(st.root, "layers", "k1.json"), now.Add(-1*time.Hour))
	setUsed(t, dir, now.Add(-4*time.Hour))
	ents, err := st.List()
	if err != nil || len(ents) != 5 {
		t.Fatalf("list: %v %+v", err, ents)
	}
	var total int64
	for _, e := range ents {
		total += e.Size
		if e.Type == TypeTree && e.Size != 500 {
			t.Fatalf("tree size %d, want 500", e.Size)
		}
	}
	// Age: only the 50-hour-old blob, and its layer record with it.
	res, err := st.GC(GCOptions{OlderThan: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 2 || res.Removed[0].Key != blobs[0] || res.Removed[1].Kind != "layers" || st.HasBlob(blobs[0]) {
		t.Fatalf("gc by age removed %+v", res.Removed)
	}
	if _, err := st.Get("layers", "k1.json"); err == nil {
		t.Fatal("the layer record of a removed blob is still there")
	}
	// Size: least recently used first (the tree, then blob 1) until
	// at most 3500 bytes are left.
	res, err = st.GC(GCOptions{MaxSize: 3500, DryRun: true})
	if err != nil || len(res.Removed) != 2 || res.Removed[0].Type != TypeTree || res.Removed[1].Key != blobs[1] {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("the dry run removed the tree")
	}
	if res, err = st.GC(GCOptions{MaxSize: 3500}); err != nil || res.KeptBytes != 3000 || !st.HasBlob(blobs[2]) || st.HasBlob(blobs[1]) {
		t.Fatalf("gc by size: %v %+v", err, res)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("the tree survived")
	}
}

// Reading an entry marks it used (its access time) without changing its
// modification time.
func TestUseTouchesAccessTimeOnly(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put("k", "r", []byte("x")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(st.root, "k", "r")
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	setUsed(t, p, old)
	if _, err := st.Get("k", "r"); err != nil {
		t.Fatal(err)
	}
	var sb unix.Stat_t
	if err := unix.Stat(p, &sb); err != nil {
		t.Fatal(err)
	}
	if m := time.Unix(sb.Mtim.Sec, sb.Mtim.Nsec); !m.Equal(old) {
		t.Fatalf("mtime changed to %v", m)
	}
	if a := time.Unix(sb.Atim.Sec, sb.Atim.Nsec); time.Since(a) > time.Minute {
		t.Fatalf("atime %v not updated", a)
	}
}

// gc waits while another process (here another open Store) has the cache
// open, and goes on when it is closed.
func TestGCWaitsForOpenStores(t *testing.T) {
	root := t.TempDir()
	build, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := build.PutBlob(bytes.NewReader([]byte("in use")), "")
	gc, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	done := make(chan *GCResult)
	go func() {
		res, err := gc.GC(GCOptions{MaxSize: 1, Waiting: func() { close(waiting) }})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("gc did not wait for the open store")
	}
	select {
	case <-done:
		t.Fatal("gc ran while a build held the cache")
	case <-time.After(200 * time.Millisecond):
	}
	if !build.HasBlob(h) {
		t.Fatal("the blob in use went")
	}
	build.Close()
	select {
	case res := <-done:
		if len(res.Removed) != 1 || gc.HasBlob(h) {
			t.Fatalf("gc after the build: %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gc did not go on after the build closed the cache")
	}
}

func TestVerifyBlobs(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good, _ := st.PutBlob(bytes.NewReader([]byte("good")), "")
	bad, _ := st.PutBlob(bytes.NewReader([]byte("bad")), "")
	if err := os.WriteFile(st.blobPath(bad), []byte("BAD"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, _ := st.List()
	ps := st.VerifyBlobs(ents)
	if len(ps) != 1 || ps[0].Key != bad {
		t.Fatalf("problems %+v (good %s)", ps, good)
	}
	if err := st.Remove([]Entry{ps[0].Entry}, nil); err != nil || st.HasBlob(bad) || !st.HasBlob(good) {
		t.Fatalf("remove: %v", err)
	}
}
