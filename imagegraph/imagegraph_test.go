package imagegraph_test

import (
	"reflect"
	"testing"

	"github.com/stratabuild/strata/imagegraph"
	"github.com/stratabuild/strata/imageref/imagetest"
)

// Two packages depending on each other and nothing else: one becomes a
// root so both stay reachable.
func TestFromImageCycleGetsARoot(t *testing.T) {
	layers := imagetest.SampleLayers()[:1]
	layers = append(layers, imagetest.LayerSpec{Files: []imagetest.File{
		imagetest.Reg("var/lib/dpkg/status.d/libgcc-s1", "Package: libgcc-s1\nVersion: 12.2.0-14\nArchitecture: amd64\nDepends: libc6\n"),
	}})
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	g, err := imagegraph.FromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Roots, []string{"deb:libc6:amd64"}) {
		t.Errorf("roots %v, want the first node of the cycle", g.Roots)
	}
}

// A store path whose only file is a symlink into another store path
// refers to it (Nix scans symlink targets too).
func TestFromImageSymlinkReference(t *testing.T) {
	a := "nix/store/" + imagetest.HelloHash + "-demo-app-2.3"
	b := "nix/store/" + imagetest.GlibcHash + "-hello-script-1.0"
	img, err := imagetest.Image(imagetest.ImageSpec{Layers: []imagetest.LayerSpec{
		{Files: []imagetest.File{imagetest.Dir(b), imagetest.Dir(b + "/bin"), imagetest.Exec(b+"/bin/hello", "#!/bin/sh\n")}},
		{Files: []imagetest.File{imagetest.Dir(a), imagetest.Dir(a + "/bin"), imagetest.Symlink(a+"/bin/app", "/"+b+"/bin/hello")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := imagegraph.FromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if deps := g.Nodes["nix:/"+a].Deps; !reflect.DeepEqual(deps, []string{"nix:/" + b}) {
		t.Errorf("demo-app deps %v, want hello-script", deps)
	}
	if !reflect.DeepEqual(g.Roots, []string{"nix:/" + a}) {
		t.Errorf("roots %v", g.Roots)
	}
}
