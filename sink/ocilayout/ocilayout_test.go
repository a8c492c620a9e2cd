package ocilayout

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// Writing again replaces the layout whole, and the index entry carries
// the tag as ref.name.
func TestWriteReplacesAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	for i := 0; i < 2; i++ {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(dir).Write(context.Background(), "name:v1", img); err != nil {
			t.Fatal(err)
		}
		var idx struct {
			Manifests []struct {
				Digest      string
				Annotations map[string]string
			}
		}
		b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		json.Unmarshal(b, &idx)
		d, _ := img.Digest()
		if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != d.String() || idx.Manifests[0].Annotations[RefNameAnnotation] != "v1" {
			t.Fatalf("index after write %d: %s", i, b)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Errorf("temp folders left beside the layout: %v", ents)
	}
}
