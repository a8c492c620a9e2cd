package dockerarchive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// names lists a tar's entry names, and the error that stopped the walk.
func names(b []byte) ([]string, error) {
	tr := tar.NewReader(bytes.NewReader(b))
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return out, err
		}
		out = append(out, h.Name)
	}
}

// syncBuffer is a bytes.Buffer that records how much had been written at
// a moment, safe against the stream's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Len() }

func TestStreamWritesLayersInImageOrderAsTheyArrive(t *testing.T) {
	ctx := context.Background()
	img, err := random.Image(1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	var buf syncBuffer
	st, err := (&Sink{Path: "-", W: &buf}).Begin(ctx, "x:1")
	if err != nil {
		t.Fatal(err)
	}
	// Layer 1 before layer 0: nothing may be written until layer 0 is.
	if err := st.PutLayer(ctx, 1, ls[1]); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("layer 1 was written before layer 0 (%d bytes)", buf.Len())
	}
	if err := st.PutLayer(ctx, 0, ls[0]); err != nil {
		t.Fatal(err)
	}
	got, _ := names(buf.b.Bytes())
	d0, _ := ls[0].Digest()
	d1, _ := ls[1].Digest()
	if len(got) != 2 || got[0] != d0.Hex+".tar.gz" || got[1] != d1.Hex+".tar.gz" {
		t.Fatalf("after layers 1 and 0 the stream holds %v, want layer 0 then 1", got)
	}
	if _, err := st.Commit(ctx, img); err != nil {
		t.Fatal(err)
	}
	got, err = names(buf.b.Bytes())
	if err != nil || len(got) != 5 || got[4] != "manifest.json" || !strings.HasPrefix(got[3], "sha256:") {
		t.Fatalf("archive entries %v (%v): want 3 layers, the config, manifest.json", got, err)
	}
	p := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(p, buf.b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("validate: %v", err)
	}
	wantID, _ := img.Digest()
	if id, _ := back.Digest(); id != wantID {
		t.Errorf("read back as %s, want %s", id, wantID)
	}
	// A streamed archive is the same bytes as one written whole.
	var whole bytes.Buffer
	if _, err := (&Sink{Path: "-", W: &whole}).Write(ctx, "x:1", img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(whole.Bytes(), buf.b.Bytes()) {
		t.Error("the streamed archive differs from the one written at once")
	}
}

func TestAbortedStreamIsABrokenTar(t *testing.T) {
	ctx := context.Background()
	img, _ := random.Image(1000, 2)
	ls, _ := img.Layers()
	var buf syncBuffer
	st, err := (&Sink{Path: "-", W: &buf}).Begin(ctx, "x:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLayer(ctx, 0, ls[0]); err != nil {
		t.Fatal(err)
	}
	st.Abort()
	got, err := names(buf.b.Bytes())
	if err == nil {
		t.Fatalf("an aborted stream reads as a whole tar (%v): a consumer would not see the failure", got)
	}
	for _, n := range got {
		if n == "manifest.json" {
			t.Fatal("an aborted stream holds manifest.json")
		}
	}
	if err := st.PutLayer(ctx, 1, ls[1]); err == nil {
		t.Error("PutLayer after Abort succeeded")
	}
}

func TestFailedFileStreamLeavesTheOldFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(1000, 2)
	ls, _ := img.Layers()
	st, err := New(p).Begin(ctx, "x:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLayer(ctx, 0, ls[0]); err != nil {
		t.Fatal(err)
	}
	st.Abort()
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("an aborted -o FILE changed the file: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("an aborted -o FILE left %d entries, want only out.tar", len(ents))
	}
	// A committed stream replaces it with the whole archive.
	st, _ = New(p).Begin(ctx, "x:1")
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Add(1)
		go func(i int, l v1.Layer) {
			defer wg.Done()
			if err := st.PutLayer(ctx, i, l); err != nil {
				t.Error(err)
			}
		}(i, l)
	}
	wg.Wait()
	if _, err := st.Commit(ctx, img); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Error(err)
	}
	if _, err := st.Commit(ctx, img); err == nil {
		t.Error("a second Commit succeeded")
	}
}
