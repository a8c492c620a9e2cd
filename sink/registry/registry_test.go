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
	if err := s.Write(context.Background(), sink.Target{Tag: "sink:v1", Image: img}); err != nil {
		t.Fatal(err)
	}
	rs := s.(*sinkregistry.Sink)
	if rs.Digest() != want {
		t.Fatalf("Digest() = %s, want %s", rs.Digest(), want)
	}
	if got := rs.Pushed(); got != host+"/strata-test/sink@"+want.String() {
		t.Fatalf("Pushed() = %s", got)
	}
	out, err := exec.Command(crane, "validate", "--remote", rs.Pushed()).CombinedOutput()
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
	if err := s.Write(context.Background(), sink.Target{Tag: "sink-multi:v1", Index: idx}); err != nil {
		t.Fatal(err)
	}
	if s.Digest() != want {
		t.Fatalf("Digest() = %s, want %s", s.Digest(), want)
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
	err := s.Write(context.Background(), sink.Target{Tag: "app:v1", Image: img})
	if err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("err = %v, want one naming --insecure", err)
	}
	if s.Digest() != (v1.Hash{}) || s.Pushed() != "" {
		t.Fatal("a failed push recorded a digest")
	}
}
