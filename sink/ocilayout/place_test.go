package ocilayout

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// fileLayer is a layer whose blob is a checked read-only file, as strata's
// cache layers are (sink.LayerFile).
type fileLayer struct {
	v1.Layer
	path   string
	opened *int
}

func (l fileLayer) BlobFile() (string, error) { return l.path, nil }

func (l fileLayer) Compressed() (io.ReadCloser, error) {
	*l.opened++
	return l.Layer.Compressed()
}

func TestCacheBlobsAreLinkedNotReadAgain(t *testing.T) {
	ctx := context.Background()
	img, _ := random.Image(4096, 1)
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	cacheDir := t.TempDir()
	src := filepath.Join(cacheDir, d.Hex)
	rc, _ := ls[0].Compressed()
	b, _ := io.ReadAll(rc)
	if err := os.WriteFile(src, b, 0o444); err != nil {
		t.Fatal(err)
	}
	opened := 0
	l := fileLayer{Layer: ls[0], path: src, opened: &opened}
	dir := filepath.Join(t.TempDir(), "out")
	st, err := New(dir).Begin(ctx, "app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLayer(ctx, 0, l); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, img); err != nil {
		t.Fatal(err)
	}
	if opened != 0 {
		t.Errorf("the cache blob was read %d times; it should be linked or copied as a file", opened)
	}
	got := filepath.Join(dir, "blobs", "sha256", d.Hex)
	gfi, err := os.Stat(got)
	if err != nil {
		t.Fatal(err)
	}
	sfi, _ := os.Stat(src)
	// t.TempDir folders share one file system: a hard link (or, where
	// the file system clones, a reflink of its own).
	if !os.SameFile(gfi, sfi) {
		back, _ := os.ReadFile(got)
		if string(back) != string(b) {
			t.Fatal("the layout's blob differs from the cache's")
		}
		t.Logf("blob was reflinked or copied, not hard-linked")
	} else if gfi.Mode().Perm()&0o222 != 0 {
		t.Errorf("a linked blob is writable (%v): an edit would reach the cache", gfi.Mode())
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	for _, e := range ents {
		if e.Name()[0] == '.' {
			t.Errorf("temp file %s left in the layout", e.Name())
		}
	}
}

func TestCopyFileFallback(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("blob bytes"), 0o444)
	final := filepath.Join(dir, "final")
	if err := copyFile(src, filepath.Join(dir, ".tmp"), final); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != "blob bytes" {
		t.Fatalf("copy holds %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp")); !os.IsNotExist(err) {
		t.Error("copy left its temp file")
	}
}
