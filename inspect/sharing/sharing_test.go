package sharing

import (
	"bytes"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func layer(content string) v1.Layer {
	return static.NewLayer([]byte(content), types.OCILayer)
}

func image(t *testing.T, cmd string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Cmd = []string{cmd}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func configSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(raw))
}

func TestMeasure(t *testing.T) {
	base := layer(strings.Repeat("b", 1000)) // in all three
	py := layer(strings.Repeat("p", 300))    // in a and b
	flask := layer(strings.Repeat("f", 20))  // only a
	curl := layer(strings.Repeat("c", 50))   // only c
	a := image(t, "flask", base, py, flask)
	b := image(t, "django", base, py)
	c := image(t, "curl", base, curl, base) // base listed twice: counted once
	ca, cb, cc := configSize(t, a), configSize(t, b), configSize(t, c)

	r, err := Measure([]NamedImage{{"a", a}, {"b", b}, {"c", c}})
	if err != nil {
		t.Fatal(err)
	}
	want := []ImageSharing{
		{Name: "a", Layers: 3, Size: 1320 + ca, Unique: 20 + ca, Shared: 1300},
		{Name: "b", Layers: 2, Size: 1300 + cb, Unique: cb, Shared: 1300},
		{Name: "c", Layers: 3, Size: 1050 + cc, Unique: 50 + cc, Shared: 1000},
	}
	for i, w := range want {
		if r.Images[i] != w {
			t.Errorf("image %d = %+v, want %+v", i, r.Images[i], w)
		}
	}
	total := 1320 + ca + 1300 + cb + 1050 + cc
	stored := 1000 + 300 + 20 + 50 + ca + cb + cc
	if r.TotalSize != total || r.StoredSize != stored {
		t.Errorf("total %d stored %d, want %d %d", r.TotalSize, r.StoredSize, total, stored)
	}
	if got, want := r.DedupRatio, float64(total)/float64(stored); got != want {
		t.Errorf("dedup ratio %v, want %v", got, want)
	}
	if r.Blobs != 7 || r.SharedBlobs != 2 {
		t.Errorf("blobs %d shared %d, want 7 2", r.Blobs, r.SharedBlobs)
	}
	if r.Pairs[0][1] != 1300 || r.Pairs[1][0] != 1300 || r.Pairs[0][2] != 1000 || r.Pairs[2][2] != r.Images[2].Size {
		t.Errorf("pairs %v", r.Pairs)
	}
	var buf bytes.Buffer
	if err := r.Text(&buf); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "in 3 images") || !strings.Contains(out, "dedup ratio") {
		t.Errorf("text:\n%s", buf.String())
	}
}

func TestMeasureSameImageTwice(t *testing.T) {
	img := image(t, "x", layer("hello"))
	r, err := Measure([]NamedImage{{"one", img}, {"two", img}})
	if err != nil {
		t.Fatal(err)
	}
	if r.DedupRatio != 2 || r.Images[0].Unique != 0 || r.Images[1].Shared != r.Images[1].Size {
		t.Errorf("identical images: %+v", r)
	}
}

func TestMeasureErrors(t *testing.T) {
	img := image(t, "x", layer("hello"))
	for _, in := range [][]NamedImage{
		{{"", img}},
		{{"a", img}, {"a", img}},
		{{"a", nil}},
	} {
		if _, err := Measure(in); err == nil {
			t.Errorf("%v: no error", in)
		}
	}
	r, err := Measure(nil)
	if err != nil || r.DedupRatio != 1 {
		t.Errorf("empty fleet: %+v %v", r, err)
	}
}
