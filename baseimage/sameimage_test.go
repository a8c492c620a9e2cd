package baseimage_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/baseimage"
	"github.com/stratabuild/strata/imageref"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/registry/registrytest"
)

// One reference string names one image: `base:` (baseimage.Resolve) and
// `strata inspect` (imageref.Load, as the CLI calls it) resolve every form
// to the same manifest, relative paths included.
func TestBaseAndInspectReadTheSameImage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A layout with a tagged multi-platform index and a tagged image.
	lp, err := layout.Write(filepath.Join(dir, "lay:out"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := multiArch(t, 60, amd64, arm64, armv7)
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{baseimage.RefNameAnnotation: "multi"})); err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(platformImage(t, arm64, 61), layout.WithAnnotations(map[string]string{baseimage.RefNameAnnotation: "one"})); err != nil {
		t.Fatal(err)
	}
	// A flat layout: index.json lists one image per platform.
	flat, err := layout.Write(filepath.Join(dir, "flat"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := flat.AppendImage(platformImage(t, amd64, 62), layout.WithPlatform(amd64)); err != nil {
		t.Fatal(err)
	}
	if err := flat.AppendImage(platformImage(t, arm64, 63), layout.WithPlatform(arm64)); err != nil {
		t.Fatal(err)
	}
	// A docker archive, plain and named only by its suffix.
	tag, _ := name.NewTag("example/base:1")
	if err := tarball.WriteToFile(filepath.Join(dir, "saved.tar"), tag, platformImage(t, arm64, 64)); err != nil {
		t.Fatal(err)
	}
	// A registry index.
	host := registrytest.Start(t)
	if _, err := registry.Push(ctx, host+"/strata-test/same:1", nil, idx, registry.Options{}); err != nil {
		t.Fatal(err)
	}

	// The CLI reads references relative to the working directory, base:
	// relative to the spec's folder: here they are the same folder.
	t.Chdir(dir)
	for _, tc := range []struct {
		ref  string
		plat string
	}{
		{"oci:lay:out:multi", "linux/arm64"},
		{"oci:lay:out:multi", "linux/arm"},
		{"oci:lay:out:multi", "linux/amd64"},
		{"oci:" + filepath.Join(dir, "lay:out") + ":one", "linux/arm64/v8"},
		{"oci:flat", "linux/arm64"},
		{"oci:./flat", "linux/amd64"},
		{"docker-archive:saved.tar", "linux/arm64"},
		{"saved.tar", "linux/arm64"},
		{"./saved.tar", "linux/arm64"},
		{host + "/strata-test/same:1", "linux/arm/v7"},
	} {
		p, err := imageref.ParsePlatform(tc.plat)
		if err != nil {
			t.Fatal(err)
		}
		base, err := baseimage.Resolve(ctx, baseimage.Request{Ref: tc.ref, Platform: p, Dir: dir})
		if err != nil {
			t.Errorf("base %s for %s: %v", tc.ref, tc.plat, err)
			continue
		}
		r, err := imageref.Load(ctx, tc.ref, imageref.Options{Platform: tc.plat})
		if err != nil {
			t.Errorf("inspect %s for %s: %v", tc.ref, tc.plat, err)
			continue
		}
		bd, _ := base.Image.Digest()
		id, _ := r.Image.Digest()
		if bd != id {
			t.Errorf("%s for %s: base reads %s, inspect reads %s", tc.ref, tc.plat, bd, id)
		}
		if base.Kind != string(r.Kind) {
			t.Errorf("%s: base kind %s, inspect kind %s", tc.ref, base.Kind, r.Kind)
		}
	}
}
