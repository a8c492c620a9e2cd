package ocilayout

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

type indexJSON struct {
	Manifests []struct {
		Digest      string
		Annotations map[string]string
	}
}

func readIndex(t *testing.T, dir string) indexJSON {
	t.Helper()
	var idx indexJSON
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func tags(idx indexJSON) map[string]string {
	out := map[string]string{}
	for _, m := range idx.Manifests {
		out[m.Annotations[RefNameAnnotation]] = m.Digest
	}
	return out
}

// Writing the same tag again replaces its entry; the index entry carries
// the tag as ref.name; no temp folder is left beside the layout.
func TestWriteSameTagReplacesItsEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	for i := 0; i < 2; i++ {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		res, err := New(dir).Write(context.Background(), "name:v1", img)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		idx := readIndex(t, dir)
		if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != d.String() || idx.Manifests[0].Annotations[RefNameAnnotation] != "v1" {
			t.Fatalf("index after write %d: %+v", i, idx)
		}
		if res.Digest != d || res.Ref != "oci:"+dir+":v1" {
			t.Fatalf("Result = %+v", res)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Errorf("temp folders left beside the layout: %v", ents)
	}
}

// A second tag written to a layout keeps the first, and both images read
// back whole.
func TestWriteAnotherTagKeepsTheFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	want := map[string]string{}
	for _, tag := range []string{"app:v1", "app:v2", "other:v1"} {
		img, _ := random.Image(128, 2)
		d, _ := img.Digest()
		want[refName(tag)] = d.String()
		if _, err := New(dir).Write(context.Background(), tag, img); err != nil {
			t.Fatal(err)
		}
	}
	// other:v1 has ref.name v1 as well: it replaced app:v1 (ref.name holds
	// the tag part only, as skopeo's oci:DIR:TAG addresses it).
	got := tags(readIndex(t, dir))
	if len(got) != 2 || got["v1"] != want["v1"] || got["v2"] != want["v2"] {
		t.Fatalf("tags = %v, want %v", got, want)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		h, _ := v1.NewHash(d)
		img, err := p.Image(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("validate %s: %v", d, err)
		}
	}
}

func TestWriteRefusesWhatIsNotALayout(t *testing.T) {
	img, _ := random.Image(64, 1)
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	folder := filepath.Join(base, "folder")
	os.MkdirAll(folder, 0o755)
	os.WriteFile(filepath.Join(folder, "notes.txt"), []byte("keep me too"), 0o644)
	for _, target := range []string{file, folder} {
		_, err := New(target).Write(context.Background(), "x:v1", img)
		if !errors.Is(err, ErrNotLayout) || !strings.Contains(err.Error(), target) {
			t.Fatalf("%s: err = %v, want ErrNotLayout naming it", target, err)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatalf("the file was changed: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(folder, "notes.txt")); string(b) != "keep me too" {
		t.Fatalf("the folder's file was changed: %q", b)
	}
	ents, _ := os.ReadDir(base)
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "file folder" {
		t.Fatalf("left beside the targets: %v", names)
	}
	// An empty folder is fine.
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := New(empty).Write(context.Background(), "x:v1", img); err != nil {
		t.Fatalf("empty folder: %v", err)
	}
}

// A stream takes layers first, the rest on Commit; Abort leaves nothing.
func TestStreamPutLayersThenCommit(t *testing.T) {
	ctx := context.Background()
	img, _ := random.Image(256, 3)
	ls, _ := img.Layers()
	dir := filepath.Join(t.TempDir(), "out")

	st, err := New(dir).Begin(ctx, "app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLayer(ctx, 2, ls[2]); err != nil {
		t.Fatal(err)
	}
	st.Abort()
	if ents, _ := os.ReadDir(filepath.Dir(dir)); len(ents) != 0 {
		t.Fatalf("Abort left %v", ents)
	}

	st, err = New(dir).Begin(ctx, "app:v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{2, 0} { // any order, not all of them
		if err := st.PutLayer(ctx, i, ls[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the layout is visible before Commit: %v", err)
	}
	if _, err := st.Commit(ctx, img); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	back, err := p.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Fatal(err)
	}
}
