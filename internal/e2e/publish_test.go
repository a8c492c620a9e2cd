package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry/registrytest"
)

// strata build --push against a real registry on loopback: the pushed
// image validates, pulls and runs; a second push uploads no blob bytes;
// one push and one docker-archive come from the same build.
func TestBuildPushAndLoad(t *testing.T) {
	testutil.RequireDocker(t)
	crane := testutil.RequireTool(t, "crane")
	host := registrytest.Start(t)
	proxy := registrytest.NewProxy(t, host, nil)
	dir, cache := helloSpec(t), t.TempDir()
	ref := proxy.Host + "/strata-e2e/hello:v1"
	out := filepath.Join(t.TempDir(), "h.tar")

	r := MustRun(t, nil, "build", dir, "--cache", cache, "--push", ref, "-o", out)
	if !strings.Contains(r.Stderr, "pushed "+proxy.Host+"/strata-e2e/hello@sha256:") {
		t.Errorf("no pushed digest printed: %s", r.Stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the docker-archive of the same build is missing: %v", err)
	}
	Cmd(t, crane, "validate", "--remote", ref)
	first := proxy.Stats()
	if first.BlobBytes == 0 {
		t.Fatalf("first push uploaded nothing: %+v", first)
	}
	proxy.Reset()
	MustRun(t, nil, "build", dir, "--cache", cache, "--push", ref)
	if again := proxy.Stats(); again.BlobBytes != 0 || again.BlobUploads != 0 {
		t.Errorf("second push uploaded %d bytes in %d uploads", again.BlobBytes, again.BlobUploads)
	}

	pulled := proxy.Host + "/strata-e2e/hello:v1"
	t.Cleanup(func() { Cmd(t, "docker", "rmi", "-f", pulled) })
	Cmd(t, "docker", "pull", pulled)
	if got := Cmd(t, "docker", "run", "--rm", pulled); !strings.Contains(got, "Hello, world!") {
		t.Errorf("pulled image printed %q", got)
	}

	// --load streams into the engine.
	tag := UniqueTag(t, "load")
	MustRun(t, nil, "build", dir, "--cache", cache, "--tag", tag, "--load")
	if got := Cmd(t, "docker", "run", "--rm", tag); !strings.Contains(got, "Hello, world!") {
		t.Errorf("loaded image printed %q", got)
	}
}

// A multi-platform spec pushes an index that crane shows with both
// platforms, and writes an OCI layout with the index.
func TestMultiPlatformIndexPush(t *testing.T) {
	crane := testutil.RequireTool(t, "crane")
	host := registrytest.Start(t)
	dir := t.TempDir()
	writeFixture(t, dir, false, time.Now())
	spec, _ := os.ReadFile(filepath.Join(dir, "strata.yaml"))
	os.WriteFile(filepath.Join(dir, "strata.yaml"), append(spec, []byte("platforms: [linux/arm64, linux/amd64]\n")...), 0o644)
	ref := host + "/strata-e2e/multi:v1"
	oci := filepath.Join(t.TempDir(), "oci")
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--push", ref, "--oci", oci)
	var idx struct {
		MediaType string
		Manifests []struct {
			Platform struct{ Architecture, OS string }
		}
	}
	if err := json.Unmarshal([]byte(Cmd(t, crane, "manifest", ref)), &idx); err != nil {
		t.Fatal(err)
	}
	var archs []string
	for _, m := range idx.Manifests {
		archs = append(archs, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(archs, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("index %s with %v", idx.MediaType, archs)
	}
	// A docker-archive holds one platform: a clear error.
	r := Run(t, nil, "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "x.tar"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "--oci") {
		t.Errorf("multi-platform -o: exit %d, %s", r.Code, r.Stderr)
	}
}

// A registry that does not answer gives a clear error, exit 1, in bounded time.
func TestPushToDeadRegistry(t *testing.T) {
	dir := helloSpec(t)
	start := time.Now()
	r := Run(t, nil, "build", dir, "--cache", t.TempDir(), "--push", "127.0.0.1:1/x/y:z")
	if r.Code != 1 || !strings.Contains(r.Stderr, "127.0.0.1:1") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
	t.Logf("gave up after %s", time.Since(start))
}
