package inspect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/imageref"
	"github.com/stratabuild/strata/imageref/imagetest"
	"github.com/stratabuild/strata/inspect"
	"github.com/stratabuild/strata/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, name, append(got, '\n'), *update)
}

func sample(t *testing.T) v1.Image {
	t.Helper()
	img, err := imagetest.Sample()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func ref(t *testing.T, img v1.Image) *imageref.Ref {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return &imageref.Ref{Name: "sample", Image: img, RawManifest: raw}
}

// TestGoldenViews pins every JSON view of the fixed sample image; the
// digests inside them are pinned too, so a change in layer bytes shows.
func TestGoldenViews(t *testing.T) {
	img := sample(t)
	s, err := inspect.Summarize(ref(t, img))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "summary", s)
	ls, err := inspect.Layers(img)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "layers", ls)
	fs, err := inspect.Files(img, -1)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "files", fs)
	e, err := inspect.ComputeEfficiency(img)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "efficiency", e)
	c, err := inspect.Closure(imagetest.SampleGraph())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "closure", c)
	d, err := inspect.Diff(img, changed(t, "app/config.json", `{"port":9090}`))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "diff", d)

	// The text forms render without error and name what matters.
	var buf bytes.Buffer
	for _, f := range []func() error{
		func() error { return s.Text(&buf) },
		func() error { return inspect.LayersText(&buf, ls) },
		func() error { return inspect.FilesText(&buf, fs) },
		func() error { return e.Text(&buf) },
		func() error { return c.Text(&buf) },
		func() error { return d.Text(&buf) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"/app/run.sh", "deb: libc6", "nix: 0c7kk3fqysqz8pbdzrfxhdak0hr7kfwr-glibc-2.38", "libgcc-s1", "~ /app/config.json ([content])"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}

// changed is the sample with one file's content replaced in the last layer.
func changed(t *testing.T, path, content string) v1.Image {
	t.Helper()
	layers := imagetest.SampleLayers()
	last := &layers[len(layers)-1]
	for i, f := range last.Files {
		if f.Path == path {
			last.Files[i].Content = content
		}
	}
	img, err := imagetest.Image(imagetest.ImageSpec{OS: "linux", Arch: "amd64", Config: imagetest.SampleConfig(), Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLayersHold(t *testing.T) {
	ls, err := inspect.Layers(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 4 {
		t.Fatalf("%d layers, want 4", len(ls))
	}
	if want := []string{"libc6"}; !reflect.DeepEqual(ls[0].Packages, want) {
		t.Errorf("layer 0 packages %v, want %v (the .md5sums file is not a package)", ls[0].Packages, want)
	}
	if want := []string{"hello", "libgcc-s1"}; !reflect.DeepEqual(ls[1].Packages, want) {
		t.Errorf("layer 1 packages %v, want %v", ls[1].Packages, want)
	}
	want := []string{"/nix/store/" + imagetest.GlibcHash + "-glibc-2.38", "/nix/store/" + imagetest.HelloHash + "-hello-2.12.1"}
	if !reflect.DeepEqual(ls[2].StorePaths, want) {
		t.Errorf("layer 2 store paths %v, want %v", ls[2].StorePaths, want)
	}
	if ls[3].Holds != "strata: files app (files:0)" {
		t.Errorf("layer 3 holds %q, want its history line", ls[3].Holds)
	}
	if ls[3].FileBytes != int64(len(`{"port":8080}`)+len("#!/bin/sh\nexec hello\n")) {
		t.Errorf("layer 3 file bytes %d", ls[3].FileBytes)
	}
}

func TestFilesOneLayer(t *testing.T) {
	img := sample(t)
	fs, err := inspect.Files(img, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Index != 3 {
		t.Fatalf("Files(3) gave %d layers", len(fs))
	}
	var paths []string
	for _, e := range fs[0].Entries {
		paths = append(paths, e.Path+":"+e.Type+":"+e.Mode)
	}
	want := []string{"app:dir:0755", "app/config.json:file:0644", "app/current:symlink:0777", "app/run.sh:file:0755"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("layer 3 entries %v, want %v", paths, want)
	}
	if _, err := inspect.Files(img, 4); err == nil || !strings.Contains(err.Error(), "0 to 3") {
		t.Errorf("Files(4): %v should give the valid range", err)
	}
}

// TestEfficiencyHandComputed: layer 0 holds a (100 B) and b (50 B); layer 1
// holds a again (100 B) and c (30 B); layer 2 deletes b.
//
//	a: cumulative 200, minimum 100   b: cumulative 50 (+0 whiteout), minimum 0
//	c: cumulative 30, minimum 30
//	efficiency = (100+0+30) / (200+50+30) = 130/280
//	wasted = 200 (a) + 50 (b) = 250; user size = layers 1..2 = 130 + 0
//	user wasted = 250/130
func TestEfficiencyHandComputed(t *testing.T) {
	a, b, c := strings.Repeat("a", 100), strings.Repeat("b", 50), strings.Repeat("c", 30)
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/a", a), imagetest.Reg("d/b", b)}},
		{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/a", a), imagetest.Reg("c", c)}},
		{Files: []imagetest.File{imagetest.Whiteout("d/b")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := inspect.ComputeEfficiency(img)
	if err != nil {
		t.Fatal(err)
	}
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
	if !near(e.Efficiency, 130.0/280.0) {
		t.Errorf("efficiency %v, want 130/280", e.Efficiency)
	}
	if e.WastedBytes != 250 {
		t.Errorf("wasted %d, want 250", e.WastedBytes)
	}
	if e.SizeBytes != 280 || e.UserSizeBytes != 130 {
		t.Errorf("size %d user %d, want 280 and 130", e.SizeBytes, e.UserSizeBytes)
	}
	if !near(e.WastedUserPercent, 250.0/130.0) {
		t.Errorf("user wasted %v, want 250/130", e.WastedUserPercent)
	}
	if len(e.Inefficiencies) != 2 || e.Inefficiencies[0].Path != "/d/a" || e.Inefficiencies[0].Count != 2 || e.Inefficiencies[1].Path != "/d/b" {
		t.Errorf("inefficiencies %+v", e.Inefficiencies)
	}
	err = e.CI(inspect.DefaultThresholds)
	if !errors.Is(err, inspect.ErrCI) || !strings.Contains(err.Error(), "lowestEfficiency=0.9") || !strings.Contains(err.Error(), "highestUserWastedPercent=0.1") {
		t.Errorf("CI with dive's defaults: %v, want both rules failing", err)
	}
	if err := e.CI(inspect.Thresholds{LowestEfficiency: 0.4, HighestUserWastedPercent: 2}); err != nil {
		t.Errorf("CI with loose thresholds: %v", err)
	}
}

// A deleted folder counts the bytes it held (dive's rule).
func TestEfficiencyDeletedFolder(t *testing.T) {
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/x", "1234"), imagetest.Reg("d/y", "123456")}},
		{Files: []imagetest.File{imagetest.Whiteout("d")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := inspect.ComputeEfficiency(img)
	if err != nil {
		t.Fatal(err)
	}
	// d/x 4/4, d/y 6/6, whiteout d: cumulative 10, minimum 10.
	if e.Efficiency != 1 || e.WastedBytes != 0 {
		t.Errorf("efficiency %v wasted %d", e.Efficiency, e.WastedBytes)
	}
}

func TestSampleIsEfficient(t *testing.T) {
	e, err := inspect.ComputeEfficiency(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if e.Efficiency != 1 || e.WastedBytes != 0 {
		t.Errorf("sample efficiency %v wasted %d, want 1 and 0 (shared folders are not leaves)", e.Efficiency, e.WastedBytes)
	}
	if err := e.CI(inspect.DefaultThresholds); err != nil {
		t.Errorf("sample fails CI: %v", err)
	}
}

func TestClosureExclusive(t *testing.T) {
	g := imagetest.SampleGraph()
	r, err := inspect.Closure(g)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]inspect.ClosureNode{}
	for _, p := range r.Packages {
		by[p.ID] = p
	}
	// Removing deb hello drops everything only it reaches: itself,
	// libgcc-s1, perl-base and libc6.
	if got, want := by["deb:hello:amd64"].ExclusiveSize, int64(100_000+150_000+7_000_000+12_000_000); got != want {
		t.Errorf("hello exclusive %d, want %d", got, want)
	}
	// libc6 is reached through three packages: only itself goes.
	if got := by["deb:libc6:amd64"].ExclusiveSize; got != 12_000_000 {
		t.Errorf("libc6 exclusive %d, want its own size", got)
	}
	if got := by["deb:libc6:amd64"].Dependents; got != 3 {
		t.Errorf("libc6 dependents %d, want 3", got)
	}
	nixHello := "nix:/nix/store/" + imagetest.HelloHash + "-hello-2.12.1"
	if got := by[nixHello].ExclusiveSize; got != 30_300_000 {
		t.Errorf("nix hello exclusive %d, want 30300000", got)
	}
	if r.Packages[0].ID != nixHello {
		t.Errorf("largest exclusive first: got %s", r.Packages[0].ID)
	}
}

func TestDiff(t *testing.T) {
	img := sample(t)
	same, err := inspect.Diff(img, sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if !same.Identical || len(same.Files) != 0 || len(same.Config) != 0 || len(same.SharedLayers) != 4 {
		t.Errorf("image against itself: %+v", same)
	}
	other := changed(t, "app/run.sh", "#!/bin/sh\nexec hello --greeting hi\n")
	d, err := inspect.Diff(img, other)
	if err != nil {
		t.Fatal(err)
	}
	if d.Identical {
		t.Fatal("images differing in one file are identical")
	}
	if len(d.Files) != 1 || d.Files[0].Path != "/app/run.sh" || d.Files[0].Change != inspect.Modified || !reflect.DeepEqual(d.Files[0].Fields, []string{"size", "content"}) {
		t.Errorf("changed files %+v, want exactly /app/run.sh (size, content)", d.Files)
	}
	if len(d.SharedLayers) != 3 || len(d.AddedLayers) != 1 || len(d.RemovedLayers) != 1 {
		t.Errorf("layers shared %d added %d removed %d, want 3 1 1", len(d.SharedLayers), len(d.AddedLayers), len(d.RemovedLayers))
	}
	if len(d.Config) != 1 || d.Config[0].Field != "rootfs.diff_ids" {
		t.Errorf("config changes %+v, want only rootfs.diff_ids", d.Config)
	}
}

// strata's own history title wins over what the files suggest: its
// generated system-files layer holds every package's status file.
func TestLayersHoldStrataTitle(t *testing.T) {
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{CreatedBy: "strata: libc6 2.36-9", Comment: "strata", Files: []imagetest.File{imagetest.Reg("usr/lib/libc.so.6", "x")}},
		{CreatedBy: "strata: debian-system", Comment: "strata", Files: []imagetest.File{imagetest.Reg("var/lib/dpkg/status.d/libc6", "Package: libc6\n")}},
		{CreatedBy: "RUN apt-get install foo", Files: []imagetest.File{imagetest.Reg("var/lib/dpkg/status.d/foo", "Package: foo\n")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := inspect.Layers(img)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{ls[0].Holds, ls[1].Holds, ls[2].Holds}
	want := []string{"libc6 2.36-9", "debian-system", "deb: foo"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("holds %q, want %q", got, want)
	}
	if !reflect.DeepEqual(ls[1].Packages, []string{"libc6"}) {
		t.Errorf("status files of layer 1: %v", ls[1].Packages)
	}
}
