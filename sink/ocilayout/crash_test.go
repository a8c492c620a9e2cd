package ocilayout

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stratabuild/strata/internal/testutil"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// A killed --oci left a temp layout beside the target: the next write of
// that target removes it.
func TestWriteRemovesAKilledWritersTempLayout(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	left := filepath.Join(parent, ".out.tmp-"+strconv.Itoa(testutil.DeadPID(t))+"-1")
	os.MkdirAll(filepath.Join(left, "blobs", "sha256"), 0o755)
	os.WriteFile(filepath.Join(left, "blobs", "sha256", "ab"), []byte("partial"), 0o644)
	other := filepath.Join(parent, ".other.tmp-"+strconv.Itoa(testutil.DeadPID(t))+"-2") // another target's: kept
	os.MkdirAll(other, 0o755)
	img, _ := random.Image(64, 1)
	if _, err := New(dir).Write(context.Background(), "v1", img); err != nil {
		t.Fatal(err)
	}
	if got, want := testutil.DirNames(t, parent), []string{filepath.Base(other), "out"}; !slices.Equal(got, want) {
		t.Errorf("beside the layout: %q, want %q", got, want)
	}
}

// A killed add to an existing layout left partial blob temp files and an
// index.json temp file: the next write into the layout removes them.
func TestWriteRemovesAKilledWritersTempsInTheLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	img, _ := random.Image(64, 1)
	if _, err := New(dir).Write(context.Background(), "v1", img); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(testutil.DeadPID(t))
	blobTemp := filepath.Join(dir, "blobs", "sha256", ".tmp-"+dead+"-1")
	indexTemp := filepath.Join(dir, ".index.json.tmp-"+dead+"-2")
	os.WriteFile(blobTemp, []byte("partial"), 0o644)
	os.WriteFile(indexTemp, []byte("{"), 0o644)
	img2, _ := random.Image(64, 1)
	if _, err := New(dir).Write(context.Background(), "v2", img2); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{blobTemp, indexTemp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there", p)
		}
	}
	if got := tags(readIndex(t, dir)); len(got) != 2 {
		t.Errorf("tags %v, want v1 and v2", got)
	}
}

// The target folder exists at every instant of a fresh write into an empty
// folder: the finished layout is renamed over it (rename(2) replaces an
// empty folder atomically) rather than the folder being removed first.
func TestFreshLayoutNeverLeavesTheTargetMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var checked bool
	testHookBeforeRename = func() {
		checked = true
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("before the rename the target is gone: %v", err)
		}
	}
	defer func() { testHookBeforeRename = nil }()
	img, _ := random.Image(64, 1)
	if _, err := New(dir).Write(context.Background(), "v1", img); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the rename hook did not run")
	}
	if !isLayout(dir) {
		t.Error("no layout after the write")
	}
}

// Temp names in the layout carry the writer's pid, so a later run can
// tell a killed writer's leftovers from a live one's.
func TestBlobTempNamesCarryThePID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	st, err := New(dir).Begin(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort()
	s := st.(*stream)
	var seen string
	testHookBlobTemp = func(name string) { seen = filepath.Base(name) }
	defer func() { testHookBlobTemp = nil }()
	if _, err := s.writeRaw([]byte("x")); err != nil {
		t.Fatal(err)
	}
	want := ".tmp-" + strconv.Itoa(os.Getpid()) + "-"
	if len(seen) <= len(want) || seen[:len(want)] != want {
		t.Errorf("blob temp %q, want one starting %q", seen, want)
	}
	if !slices.Contains(testutil.DirNames(t, filepath.Dir(s.root)), filepath.Base(s.root)) || filepath.Base(s.root)[:len(".out.tmp-")] != ".out.tmp-" {
		t.Errorf("temp layout %q", s.root)
	}
}
