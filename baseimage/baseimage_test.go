package baseimage_test

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/baseimage"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/registry/registrytest"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
	armv7 = v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
)

func platformImage(t testing.TB, p v1.Platform, seed int64) v1.Image {
	t.Helper()
	l, err := random.Layer(1000, types.OCILayer, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func multiArch(t testing.TB, seed int64, ps ...v1.Platform) (v1.ImageIndex, map[string]v1.Hash) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	digests := map[string]v1.Hash{}
	for i, p := range ps {
		img := platformImage(t, p, seed+int64(i))
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		d, _ := img.Digest()
		digests[p.Architecture+p.Variant] = d
	}
	return idx, digests
}

func resolve(t testing.TB, req baseimage.Request) *baseimage.Result {
	t.Helper()
	res, err := baseimage.Resolve(context.Background(), req)
	if err != nil {
		t.Fatalf("Resolve(%s, %v): %v", req.Ref, req.Platform, err)
	}
	return res
}

func wantErr(t testing.TB, req baseimage.Request, parts ...string) {
	t.Helper()
	_, err := baseimage.Resolve(context.Background(), req)
	if err == nil {
		t.Fatalf("Resolve(%s, %v) succeeded, want an error", req.Ref, req.Platform)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("Resolve(%s): error %q does not say %q", req.Ref, err, p)
		}
	}
}

func TestOCILayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "base")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	idx, digests := multiArch(t, 1, amd64, arm64, armv7)
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{baseimage.RefNameAnnotation: "multi"})); err != nil {
		t.Fatal(err)
	}
	single := platformImage(t, arm64, 50)
	if err := lp.AppendImage(single, layout.WithAnnotations(map[string]string{baseimage.RefNameAnnotation: "arm-only"})); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		p    v1.Platform
		want v1.Hash
	}{{amd64, digests["amd64"]}, {arm64, digests["arm64"]}, {armv7, digests["armv7"]}, {v1.Platform{OS: "linux", Architecture: "arm"}, digests["armv7"]}} {
		res := resolve(t, baseimage.Request{Ref: "oci:" + dir + ":multi", Platform: tc.p})
		if res.Digest != tc.want.String() || res.Kind != "oci" {
			t.Errorf("oci:DIR:multi for %v = %s (%s), want %s", tc.p, res.Digest, res.Kind, tc.want)
		}
		if d, _ := res.Image.Digest(); d != tc.want {
			t.Errorf("image digest %s, want %s", d, tc.want)
		}
	}

	sd, _ := single.Digest()
	res := resolve(t, baseimage.Request{Ref: "oci:base:arm-only", Dir: filepath.Dir(dir), Platform: arm64})
	if res.Digest != sd.String() {
		t.Errorf("relative oci:base:arm-only = %s, want %s", res.Digest, sd)
	}
	wantErr(t, baseimage.Request{Ref: "oci:" + dir + ":arm-only", Platform: amd64}, "linux/arm64", "linux/amd64", "--platform")
	wantErr(t, baseimage.Request{Ref: "oci:" + dir + ":multi", Platform: v1.Platform{OS: "linux", Architecture: "s390x"}}, "no image for linux/s390x", "linux/amd64, linux/arm/v7, linux/arm64")
	wantErr(t, baseimage.Request{Ref: "oci:" + dir + ":nope", Platform: amd64}, `no image named "nope"`, "multi, arm-only")
	wantErr(t, baseimage.Request{Ref: "oci:" + dir, Platform: amd64}, "holds 2 images", "oci:"+dir+":TAG")
	wantErr(t, baseimage.Request{Ref: "oci:" + filepath.Join(dir, "missing"), Platform: amd64}, "index.json")

	// Locks: the same digest passes, another one names lock --update.
	resolve(t, baseimage.Request{Ref: "oci:" + dir + ":multi", Platform: arm64, Locked: digests["arm64"].String()})
	wantErr(t, baseimage.Request{Ref: "oci:" + dir + ":multi", Platform: arm64, Locked: digests["amd64"].String()}, "strata lock --update", digests["arm64"].String())
}

// A layout whose index.json lists one image per platform, no tags (as
// some tools write a multi-platform layout).
func TestOCILayoutFlatPlatforms(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	a, b := platformImage(t, amd64, 7), platformImage(t, arm64, 8)
	if err := lp.AppendImage(a, layout.WithPlatform(amd64)); err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(b, layout.WithPlatform(arm64)); err != nil {
		t.Fatal(err)
	}
	bd, _ := b.Digest()
	if res := resolve(t, baseimage.Request{Ref: "oci:" + dir, Platform: arm64}); res.Digest != bd.String() {
		t.Fatalf("got %s want %s", res.Digest, bd)
	}
}

func TestDockerArchive(t *testing.T) {
	img := platformImage(t, amd64, 3)
	file := filepath.Join(t.TempDir(), "base.tar")
	tag, _ := name.NewTag("example/base:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	res := resolve(t, baseimage.Request{Ref: "docker-archive:" + file, Platform: amd64})
	if res.Digest != id.String() || res.Kind != "docker-archive" {
		t.Fatalf("docker-archive digest %s (%s), want the image ID %s", res.Digest, res.Kind, id)
	}
	ls, err := res.Image.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers: %v %v", ls, err)
	}
	wantErr(t, baseimage.Request{Ref: "docker-archive:" + file, Platform: arm64}, "linux/amd64 image, not linux/arm64")
	wantErr(t, baseimage.Request{Ref: "docker-archive:" + file, Platform: amd64, Locked: "sha256:" + strings.Repeat("0", 64)}, "strata lock --update")
	wantErr(t, baseimage.Request{Ref: "docker-archive:" + file + ".missing", Platform: amd64}, "docker save")
	if err := os.WriteFile(file, []byte("not a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, baseimage.Request{Ref: "docker-archive:" + file, Platform: amd64}, "reading the docker archive")
}

func TestRegistryBase(t *testing.T) {
	host := registrytest.Start(t)
	ctx := context.Background()
	ref := host + "/strata-test/base:12"
	idx, digests := multiArch(t, 20, amd64, arm64)
	if _, err := registry.Push(ctx, ref, nil, idx, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	res := resolve(t, baseimage.Request{Ref: ref, Platform: arm64})
	if res.Digest != digests["arm64"].String() || res.Kind != "registry" {
		t.Fatalf("registry base for arm64 = %s, want %s", res.Digest, digests["arm64"])
	}

	// The tag moves to new content.
	idx2, digests2 := multiArch(t, 30, amd64, arm64)
	if _, err := registry.Push(ctx, ref, nil, idx2, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	if res := resolve(t, baseimage.Request{Ref: ref, Platform: arm64}); res.Digest != digests2["arm64"].String() {
		t.Fatalf("unlocked base did not follow the tag: %s", res.Digest)
	}
	// Locked: the lock wins, the moved tag is no error.
	res = resolve(t, baseimage.Request{Ref: ref, Platform: arm64, Locked: digests["arm64"].String()})
	if d, _ := res.Image.Digest(); d != digests["arm64"] || res.Digest != digests["arm64"].String() {
		t.Fatalf("locked base = %s, want the locked %s", d, digests["arm64"])
	}
	// A lock on the index digest also works: the platform is picked.
	id1, _ := idx.Digest()
	res = resolve(t, baseimage.Request{Ref: ref, Platform: amd64, Locked: id1.String()})
	if res.Digest != digests["amd64"].String() {
		t.Fatalf("index-locked base = %s, want %s", res.Digest, digests["amd64"])
	}

	// A single-platform image.
	single := platformImage(t, amd64, 40)
	if _, err := registry.Push(ctx, host+"/strata-test/single:1", single, nil, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	sd, _ := single.Digest()
	if res := resolve(t, baseimage.Request{Ref: host + "/strata-test/single:1", Platform: amd64}); res.Digest != sd.String() {
		t.Fatalf("single = %s want %s", res.Digest, sd)
	}
	wantErr(t, baseimage.Request{Ref: host + "/strata-test/single:1", Platform: arm64}, "linux/amd64 image, not linux/arm64")
	wantErr(t, baseimage.Request{Ref: ref, Platform: v1.Platform{OS: "linux", Architecture: "riscv64"}}, "no image for linux/riscv64", "linux/amd64, linux/arm64")
	wantErr(t, baseimage.Request{Ref: ref, Platform: arm64, Locked: "sha256:" + strings.Repeat("1", 64)}, "locked digest", "strata lock --update")
	wantErr(t, baseimage.Request{Ref: ref, Platform: arm64, Locked: "latest"}, "not a digest")
}
