package imageref_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stratabuild/strata/imageref"
	"github.com/stratabuild/strata/imageref/imagetest"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry/registrytest"
)

func platformImage(t *testing.T, arch, content string) v1.Image {
	t.Helper()
	img, err := imagetest.Image(imagetest.ImageSpec{OS: "linux", Arch: arch, Layers: []imagetest.LayerSpec{
		{CreatedBy: "files", Files: []imagetest.File{imagetest.Reg("arch.txt", content)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// twoPlatformIndex is an OCI index of a linux/amd64 and a linux/arm64 image.
func twoPlatformIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img := mutate.MediaType(platformImage(t, arch, "built for "+arch), types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return idx
}

func writeLayout(t *testing.T, idx v1.ImageIndex, tag string) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func digest(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoadDockerArchive(t *testing.T) {
	img, err := imagetest.Sample()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sample.tar")
	tag, _ := name.NewTag("sample:1")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	gz := gzipFile(t, path)
	for _, ref := range []string{path, "docker-archive:" + path, gz} {
		r, err := imageref.Load(context.Background(), ref, imageref.Options{})
		if err != nil {
			t.Fatalf("Load(%s): %v", ref, err)
		}
		if r.IsIndex() || r.Image == nil {
			t.Fatalf("Load(%s) gave no image", ref)
		}
		if r.Tag != "index.docker.io/library/sample:1" && r.Tag != "sample:1" {
			t.Errorf("Load(%s) tag %q, want the archive's RepoTags entry", ref, r.Tag)
		}
		if got, want := digest(t, r.Image), digest(t, img); got != want {
			t.Errorf("Load(%s) digest %s, want %s", ref, got, want)
		}
		raw, _ := img.RawManifest()
		if !bytes.Equal(r.RawManifest, raw) {
			t.Errorf("Load(%s) raw manifest differs from the image's", ref)
		}
	}
	if _, err := imageref.Load(context.Background(), "docker-archive:"+filepath.Join(t.TempDir(), "missing.tar"), imageref.Options{}); err == nil || !strings.Contains(err.Error(), "docker save") {
		t.Errorf("missing archive: error %v should say what to give", err)
	}
}

func gzipFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := path + ".gz"
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadOCILayout(t *testing.T) {
	idx := twoPlatformIndex(t)
	dir := writeLayout(t, idx, "v1")
	ctx := context.Background()
	for _, ref := range []string{"oci:" + dir, "oci:" + dir + ":v1"} {
		r, err := imageref.Load(ctx, ref, imageref.Options{})
		if err != nil {
			t.Fatalf("Load(%s): %v", ref, err)
		}
		if !r.IsIndex() {
			t.Fatalf("Load(%s) is not an index", ref)
		}
		if r.Tag != "v1" {
			t.Errorf("Load(%s) tag %q, want the ref.name annotation v1", ref, r.Tag)
		}
		if got, want := digest(t, r.Index), digest(t, idx); got != want {
			t.Errorf("Load(%s) digest %s, want %s", ref, got, want)
		}
		if _, err := r.SingleImage(); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") || !strings.Contains(err.Error(), "--platform") {
			t.Errorf("SingleImage on an index: %v should list the platforms and name --platform", err)
		}
	}
	r, err := imageref.Load(ctx, "oci:"+dir+":v1", imageref.Options{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := r.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" {
		t.Errorf("platform linux/arm64 gave %s", cf.Architecture)
	}
	if _, err := imageref.Load(ctx, "oci:"+dir+":v2", imageref.Options{}); err == nil || !strings.Contains(err.Error(), "v1") {
		t.Errorf("unknown tag: error %v should list the tags", err)
	}
	if _, err := imageref.Load(ctx, "oci:"+dir, imageref.Options{Platform: "linux/s390x"}); err == nil || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("missing platform: error %v should list the platforms", err)
	}
	if _, err := imageref.Load(ctx, "oci:"+dir, imageref.Options{Platform: "linux/"}); err == nil {
		t.Error("a malformed platform is accepted")
	}
}

// TestManifestMatchesCrane checks byte for byte that the manifest bytes
// strata shows are the ones `crane manifest` prints. crane cannot read an
// OCI layout, so the same index is pushed to a real registry on loopback;
// crane reads it there, and strata reads it both from the registry and from
// the OCI layout it was written to: all three must be the same bytes, with
// and without --platform.
func TestManifestMatchesCrane(t *testing.T) {
	crane := testutil.RequireTool(t, "crane")
	host := registrytest.Start(t)
	idx := twoPlatformIndex(t)
	ref := host + "/strata/imageref:multi"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	dir := writeLayout(t, idx, "multi")
	ctx := context.Background()
	for _, plat := range []string{"", "linux/arm64", "linux/amd64"} {
		args := []string{"manifest", ref}
		if plat != "" {
			args = append(args, "--platform", plat)
		}
		cmd := exec.CommandContext(ctx, crane, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("crane %v: %v: %s", args, err, stderr.String())
		}
		for _, src := range []string{ref, "oci:" + dir + ":multi"} {
			got, err := imageref.Load(ctx, src, imageref.Options{Platform: plat})
			if err != nil {
				t.Fatalf("Load(%s, %q): %v", src, plat, err)
			}
			if !bytes.Equal(got.RawManifest, want) {
				t.Errorf("Load(%s, platform %q) manifest differs from crane manifest:\n got %s\nwant %s", src, plat, got.RawManifest, want)
			}
			if (plat == "") != got.IsIndex() {
				t.Errorf("Load(%s, platform %q): index=%v", src, plat, got.IsIndex())
			}
		}
	}
}

func TestLoadDockerEngine(t *testing.T) {
	testutil.RequireDocker(t)
	img, err := imagetest.Sample()
	if err != nil {
		t.Fatal(err)
	}
	tagName := fmt.Sprintf("strata-imageref-test:%d", os.Getpid())
	tag, err := name.NewTag(tagName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(tag, img); err != nil {
		t.Fatalf("loading the test image into Docker: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tagName).Run() })
	r, err := imageref.Load(context.Background(), "docker:"+tagName, imageref.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigFile()
	got, err := r.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.RootFS.DiffIDs) != fmt.Sprint(want.RootFS.DiffIDs) {
		t.Errorf("diffIDs from Docker %v, want %v", got.RootFS.DiffIDs, want.RootFS.DiffIDs)
	}
	// The Engine's history API lists the newest layer first; the history
	// must still line up with the layers, as in the image's own config.
	var gotH, wantH []string
	for _, h := range got.History {
		gotH = append(gotH, h.CreatedBy)
	}
	for _, h := range want.History {
		wantH = append(wantH, h.CreatedBy)
	}
	if fmt.Sprint(gotH) != fmt.Sprint(wantH) {
		t.Errorf("history from Docker %q, want the image's %q", gotH, wantH)
	}
	if len(r.RawManifest) == 0 {
		t.Error("no manifest bytes")
	}
	if _, err := imageref.Load(context.Background(), "docker:strata-imageref-test:missing", imageref.Options{}); err == nil {
		t.Error("a missing Docker image loads")
	}
}

// TestLocalPathErrors: an existing local path is read as a file or folder
// (never looked up in a registry) and the error says what it is not.
func TestLocalPathErrors(t *testing.T) {
	dir := t.TempDir()
	img, err := imagetest.Sample()
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.tar")
	tag, _ := name.NewTag("sample:1")
	if err := tarball.WriteToFile(good, tag, img); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("notes", []byte("not an image\n"))
	write("cut.tar", b[:len(b)/2])
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ref, want string }{
		{"notes", "it is not a tar archive"},
		{"cut.tar", "truncated or damaged"},
		{"folder", "a folder that is not an OCI image layout"},
		{"oci:notes", "it is a file, not a folder"},
		{"docker-archive:folder", "it is a folder, not a tarball"},
	} {
		if p := imageref.Parse(c.ref, dir); p.Kind == imageref.KindRegistry {
			t.Errorf("Parse(%s) is a registry reference although %s exists", c.ref, p.Path)
		}
		_, err := imageref.Load(context.Background(), c.ref, imageref.Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s): error %v, want one saying %q", c.ref, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "several images") {
			t.Errorf("Load(%s): %v blames several images", c.ref, err)
		}
	}
}
