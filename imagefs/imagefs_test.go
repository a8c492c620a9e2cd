package imagefs_test

import (
	"io"
	"reflect"
	"sort"
	"testing"

	"github.com/stratabuild/strata/imagefs"
	"github.com/stratabuild/strata/imageref/imagetest"
)

func TestFlattenWhiteouts(t *testing.T) {
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{Files: []imagetest.File{imagetest.Dir("a"), imagetest.Reg("a/1", "x"), imagetest.Reg("a/2", "y"), imagetest.Dir("b"), imagetest.Reg("b/1", "z"), imagetest.Reg("c", "c")}},
		{Files: []imagetest.File{imagetest.Whiteout("a/1"), imagetest.Opaque("b"), imagetest.Reg("b/new", "n"), imagetest.Whiteout("c")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := imagefs.Flatten(img, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fs.Paths(), []string{"a", "a/2", "b", "b/new"}; !reflect.DeepEqual(got, want) {
		t.Errorf("flattened paths %v, want %v", got, want)
	}
	if fs.Entries["a/2"].SHA256 != "a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa" {
		t.Errorf("a/2 sha256 %s", fs.Entries["a/2"].SHA256)
	}
}

// Files yields each selected file's final content once: a file replaced
// by a later layer shows the later bytes, a deleted one does not show, and
// a folder turned into a file loses its children.
func TestFilesFinalContent(t *testing.T) {
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/old", "1"), imagetest.Reg("d/gone", "2"), imagetest.Dir("x"), imagetest.Reg("x/child", "3"), imagetest.Reg("keep", "k")}},
		{Files: []imagetest.File{imagetest.Reg("d/old", "new"), imagetest.Whiteout("d/gone"), imagetest.Reg("x", "file now")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := imagefs.Flatten(img, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	err = fs.Files(func(p string) bool { return p != "keep" }, func(p string, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[p] = string(b)
		order = append(order, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"d/old": "new", "x": "file now"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Files gave %v, want %v", got, want)
	}
	if !sort.StringsAreSorted(order) || len(order) != 2 {
		t.Errorf("visited %v, want each file once", order)
	}
	all, err := fs.ReadFiles(func(string) bool { return true }, 1)
	if err != nil || !reflect.DeepEqual(all, map[string][]byte{"d/old": []byte("n"), "x": []byte("f"), "keep": []byte("k")}) {
		t.Errorf("ReadFiles with a 1-byte limit: %q %v", all, err)
	}
}
