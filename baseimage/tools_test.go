package baseimage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/baseimage"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry/registrytest"
	"github.com/stratabuild/strata/sink/daemon"
)

// Bases written by the real tools: `docker save` from Engine 20.10, and an
// OCI layout written by skopeo from that archive.
func TestBasesFromDockerSaveAndSkopeo(t *testing.T) {
	testutil.RequireDocker(t)
	skopeo := testutil.RequireTool(t, "skopeo")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tag := "strata-test/base-save:" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	img := registrytest.BusyboxImage(t, "echo", "base-ok")
	if _, err := daemon.New().Write(context.Background(), tag, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "saved.tar")
	if out, err := exec.Command("docker", "save", "-o", archive, tag).CombinedOutput(); err != nil {
		t.Fatalf("docker save: %v\n%s", err, out)
	}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	id, _ := img.ConfigName()
	res := resolve(t, baseimage.Request{Ref: "docker-archive:" + archive, Platform: host})
	if res.Digest != id.String() {
		t.Fatalf("docker save archive: digest %s, want the image ID %s", res.Digest, id)
	}
	wantDiffs := diffIDs(t, img)
	if got := diffIDs(t, res.Image); got != wantDiffs {
		t.Fatalf("docker save archive layers %s, want %s", got, wantDiffs)
	}

	layoutDir := filepath.Join(dir, "layout")
	if out, err := exec.Command(skopeo, "copy", "docker-archive:"+archive, "oci:"+layoutDir+":v1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	res = resolve(t, baseimage.Request{Ref: "oci:" + layoutDir + ":v1", Platform: host})
	if got := diffIDs(t, res.Image); got != wantDiffs {
		t.Fatalf("skopeo layout layers %s, want %s", got, wantDiffs)
	}
	if !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("digest %q", res.Digest)
	}
	cf, err := res.Image.ConfigFile()
	if err != nil || strings.Join(cf.Config.Entrypoint, " ") != "/bin/busybox echo base-ok" {
		t.Fatalf("config from the skopeo layout: %v %v", cf, err)
	}
}

func diffIDs(t testing.TB, img v1.Image) string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, d := range cf.RootFS.DiffIDs {
		s = append(s, d.String())
	}
	return strings.Join(s, ",")
}
