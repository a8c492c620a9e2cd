package registry_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/registry/registrytest"
	"github.com/stratabuild/strata/sink"
	sinkregistry "github.com/stratabuild/strata/sink/registry"
)

func TestSinkPushesImage(t *testing.T) {
	crane := testutil.RequireTool(t, "crane")
	host := registrytest.Start(t)
	img := registrytest.BusyboxImage(t, "echo", "pushed-ok")
	want, _ := img.Digest()
	ref := host + "/strata-test/sink:v1"

	var s sink.Sink = sinkregistry.New(ref, registry.Options{})
	if s.String() != "registry:"+ref {
		t.Errorf("String() = %q", s.String())
	}
	res, err := s.Write(context.Background(), "sink:v1", img)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want {
		t.Fatalf("Result.Digest = %s, want %s", res.Digest, want)
	}
	if res.Ref != host+"/strata-test/sink@"+want.String() {
		t.Fatalf("Result.Ref = %s", res.Ref)
	}
	cfg, _ := img.ConfigName()
	if res.ImageID != cfg.String() || res.Sink != "registry:"+ref {
		t.Fatalf("Result = %+v", res)
	}
	out, err := exec.Command(crane, "validate", "--remote", res.Ref).CombinedOutput()
	if err != nil {
		t.Fatalf("crane validate: %v\n%s", err, out)
	}
}

func TestSinkPushesIndex(t *testing.T) {
	crane := testutil.RequireTool(t, "crane")
	host := registrytest.Start(t)
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(2000, 2)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	want, _ := idx.Digest()
	ref := host + "/strata-test/sink-multi:v1"
	s := sinkregistry.New(ref, registry.Options{})
	res, err := s.Write(context.Background(), "sink-multi:v1", idx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || res.ImageID != "" {
		t.Fatalf("Result = %+v, want digest %s and no image ID", res, want)
	}
	out, err := exec.Command(crane, "manifest", ref).CombinedOutput()
	if err != nil {
		t.Fatalf("crane manifest: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"arm64"`) || !strings.Contains(string(out), `"amd64"`) {
		t.Fatalf("index manifest lacks a platform: %s", out)
	}
}

func TestSinkReportsPushErrors(t *testing.T) {
	s := sinkregistry.New("http://registry.invalid/app:v1", registry.Options{})
	img, _ := random.Image(100, 1)
	res, err := s.Write(context.Background(), "app:v1", img)
	if err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("err = %v, want one naming --insecure", err)
	}
	if res.Digest != (v1.Hash{}) || res.Ref != "" {
		t.Fatal("a failed push reported a digest")
	}
}
