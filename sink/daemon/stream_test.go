package daemon

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry/registrytest"
)

// builtLayer is a layer this build made (a cold build), which starts the
// streamed load.
type builtLayer struct{ v1.Layer }

func (builtLayer) Built() bool { return true }

func TestStreamedLoadAndAbort(t *testing.T) {
	testutil.RequireDocker(t)
	ctx := context.Background()
	img := registrytest.BusyboxImage(t, "echo", "streamed-ok")
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}

	// Aborted after a layer went to the engine: nothing is loaded.
	tag := uniqueTag(t, "strata-test/daemon-stream")
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	st, err := New().Begin(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLayer(ctx, 0, builtLayer{ls[0]}); err != nil {
		t.Fatal(err)
	}
	if st.(*stream).arch == nil {
		t.Fatal("a built layer did not start the load")
	}
	st.Abort()
	if err := exec.Command("docker", "image", "inspect", tag).Run(); err == nil {
		t.Fatalf("an aborted stream loaded %s", tag)
	}

	// Streamed and committed: the image runs.
	st, err = New().Begin(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		if err := st.PutLayer(ctx, i, builtLayer{l}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := st.Commit(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if res.ImageID != want.String() {
		t.Errorf("result image ID %s, want %s", res.ImageID, want)
	}
	out, err := exec.Command("docker", "run", "--rm", "--network", "none", tag).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "streamed-ok" {
		t.Fatalf("docker run %s: %v %q", tag, err, out)
	}
}

func TestCachedLayersLoadAtCommit(t *testing.T) {
	testutil.RequireDocker(t)
	ctx := context.Background()
	img := registrytest.BusyboxImage(t, "echo", "warm-ok")
	ls, _ := img.Layers()
	tag := uniqueTag(t, "strata-test/daemon-warm")
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	st, err := New().Begin(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		if err := st.PutLayer(ctx, i, l); err != nil { // from the cache: not Built
			t.Fatal(err)
		}
	}
	if st.(*stream).arch != nil {
		t.Fatal("cached layers started a load before Commit")
	}
	if _, err := st.Commit(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("docker", "image", "inspect", tag).Run(); err != nil {
		t.Fatalf("%s not loaded: %v", tag, err)
	}
}
