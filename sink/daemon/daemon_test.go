package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry/registrytest"
	"github.com/stratabuild/strata/sink"
)

func uniqueTag(t testing.TB, repo string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return repo + ":" + hex.EncodeToString(b)
}

func TestLoadThenRun(t *testing.T) {
	testutil.RequireDocker(t)
	// A temporary tarball would land in TMPDIR: there must be none.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	tag := uniqueTag(t, "strata-test/daemon-sink")
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })

	img := registrytest.BusyboxImage(t, "echo", "loaded-ok")
	var s sink.Sink = New()
	if _, err := s.Write(context.Background(), tag, img); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("loading left %d files in TMPDIR", len(left))
	}
	out, err := exec.Command("docker", "run", "--rm", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s: %v\n%s", tag, err, out)
	}
	if strings.TrimSpace(string(out)) != "loaded-ok" {
		t.Fatalf("docker run printed %q, want loaded-ok", out)
	}
	// The image ID Docker holds is the config digest.
	id, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if strings.TrimSpace(string(id)) != want.String() {
		t.Fatalf("docker image id %s, want %s", id, want)
	}

	// Loading again under a second tag only tags it.
	tag2 := uniqueTag(t, "strata-test/daemon-sink")
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag2).Run() })
	if _, err := s.Write(context.Background(), tag2, img); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "run", "--rm", tag2).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "loaded-ok" {
		t.Fatalf("docker run %s: %v %q", tag2, err, out)
	}
}

func TestIndexIsMultiPlatformError(t *testing.T) {
	idx, err := random.Index(100, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New().Write(context.Background(), "x:y", idx)
	if !errors.Is(err, sink.ErrMultiPlatform) {
		t.Fatalf("err = %v, want sink.ErrMultiPlatform", err)
	}
}

func TestNoEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	img, _ := random.Image(100, 1)
	_, err := New(WithHost("unix://"+sock)).Write(context.Background(), "x:y", img)
	if err == nil {
		t.Fatal("loading into no engine succeeded")
	}
	want := "no Docker Engine answers at unix://" + sock + ": start it or set DOCKER_HOST"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

func TestLoadError(t *testing.T) {
	ok := `{"stream":"Loaded image: a:b\n"}`
	if err := loadError(ok); err != nil {
		t.Fatal(err)
	}
	bad := `{"stream":"x"}` + "\n" + `{"errorDetail":{"message":"open /var/lib/docker/tmp/x: no space left on device"},"error":"open ..."}`
	if err := loadError(bad); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("loadError = %v", err)
	}
}
