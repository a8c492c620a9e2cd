package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stratabuild/strata/internal/testutil"
)

// A base image from an OCI layout that strata built itself: strata's
// layers go on top, the config merges over the base's, the budget counts
// the base's layers and strata.lock pins the base by digest.
func TestBaseImageFromOCILayout(t *testing.T) {
	testutil.RequireDocker(t)
	cache := t.TempDir()
	baseDir := helloSpec(t)
	layout := filepath.Join(t.TempDir(), "base-oci")
	MustRun(t, nil, "build", baseDir, "--cache", cache, "--oci", layout)

	app := t.TempDir()
	os.WriteFile(filepath.Join(app, "motd"), []byte("on top\n"), 0o644)
	os.WriteFile(filepath.Join(app, "strata.yaml"), []byte(`name: on-base
base: oci:`+layout+`:latest
files:
  - src: motd
    dst: /etc/motd
config:
  env: {EXTRA: "1", GREETING_NAME: base}
`), 0o644)
	tag := UniqueTag(t, "onbase")
	out := filepath.Join(t.TempDir(), "x.tar")
	r := buildJSON(t, nil, "build", app, "--cache", cache, "--tag", tag, "-o", out)
	// --json lists every layer, the base's marked (issue 13 item 4).
	own := 0
	for _, l := range r["layers"].([]any) {
		if b, _ := l.(map[string]any)["base"].(bool); !b {
			own++
		}
	}
	if n := len(r["layers"].([]any)); own != 1 || n < 2 {
		t.Errorf("strata added %d layers of %d, want 1 on top of the base's", own, n)
	}
	Cmd(t, "docker", "load", "-i", out)
	// The entrypoint comes from the base; the spec's env wins per variable.
	if got := Cmd(t, "docker", "run", "--rm", tag); !strings.Contains(got, "Hello, base!") {
		t.Errorf("docker run printed %q", got)
	}
	var insp []struct {
		Config struct{ Env []string }
		RootFS struct{ Layers []string }
	}
	json.Unmarshal([]byte(Cmd(t, "docker", "image", "inspect", tag)), &insp)
	if len(insp[0].RootFS.Layers) != 2 || !slices.Contains(insp[0].Config.Env, "EXTRA=1") || !slices.Contains(insp[0].Config.Env, "GREETING_NAME=base") {
		t.Errorf("inspect: %+v", insp[0])
	}

	// The lock pins the base's digest; a changed base then fails the build.
	MustRun(t, nil, "lock", app, "--cache", cache)
	lock, _ := os.ReadFile(filepath.Join(app, "strata.lock"))
	if !strings.Contains(string(lock), `"base"`) || !strings.Contains(string(lock), "sha256:") {
		t.Fatalf("lock has no base digest:\n%s", lock)
	}
	MustRun(t, nil, "build", app, "--cache", cache, "--frozen", "-o", out)
	os.WriteFile(filepath.Join(baseDir, "strata.yaml"), []byte("name: hello-go\nfiles:\n  - src: bin/hello\n    dst: /usr/bin/hello2\n"), 0o644)
	MustRun(t, nil, "build", baseDir, "--cache", cache, "--oci", layout)
	res := Run(t, nil, "build", app, "--cache", cache, "-o", out)
	if res.Code != 1 || !strings.Contains(res.Stderr, "strata lock --update") {
		t.Errorf("a moved local base: exit %d, %s", res.Code, res.Stderr)
	}
}

// Budget counts base layers: a base with more layers than the budget is
// rejected with the fix.
func TestBudgetCountsBaseLayers(t *testing.T) {
	cache := t.TempDir()
	fx := t.TempDir()
	writeFixture(t, fx, false, timeNow())
	layout := filepath.Join(t.TempDir(), "oci")
	MustRun(t, nil, "build", fx, "--cache", cache, "--oci", layout)
	app := writeSpecDir(t, "name: tight-base\nbase: oci:"+layout+":v1\nlayering:\n  budget: 2\nfiles:\n  - src: strata.yaml\n    dst: /spec.yaml\n")
	r := Run(t, nil, "build", app, "--cache", cache, "-o", filepath.Join(t.TempDir(), "x.tar"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "budget") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
}
