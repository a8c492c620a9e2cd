package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
)

// strata diff: an image against itself exits 0; two builds that differ in
// one file exit 1 and list exactly that file.
func TestDiffCLI(t *testing.T) {
	a, cache, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeFixture(t, a, false, time.Now())
	MustRun(t, nil, "build", a, "--cache", cache, "-o", filepath.Join(out, "a.tar"))
	os.WriteFile(filepath.Join(a, "app", "share", "data.txt"), []byte("changed\n"), 0o644)
	MustRun(t, nil, "build", a, "--cache", cache, "-o", filepath.Join(out, "b.tar"))

	if r := Run(t, nil, "diff", filepath.Join(out, "a.tar"), filepath.Join(out, "a.tar")); r.Code != 0 {
		t.Errorf("diff with itself: exit %d %s", r.Code, r.Stderr)
	}
	r := Run(t, nil, "diff", filepath.Join(out, "a.tar"), filepath.Join(out, "b.tar"), "--json")
	if r.Code != 1 {
		t.Fatalf("diff of different builds: exit %d %s", r.Code, r.Stderr)
	}
	var rep struct {
		Identical bool `json:"identical"`
		Files     []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	var paths []string
	for _, f := range rep.Files {
		paths = append(paths, f.Path)
	}
	if rep.Identical || strings.Join(paths, ",") != "app/share/data.txt" && strings.Join(paths, ",") != "/app/share/data.txt" {
		t.Errorf("changed files %v, want exactly app/share/data.txt\n%s", paths, r.Stdout)
	}
	if r := Run(t, nil, "diff", filepath.Join(out, "a.tar"), filepath.Join(out, "nope.tar")); r.Code != 2 {
		t.Errorf("diff with a missing image: exit %d", r.Code)
	}
}

// inspect on an OCI layout of an index: --view manifest gives the index
// bytes as stored, and with --platform the platform's manifest; every view
// has --json.
func TestInspectCLI(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir, false, time.Now())
	spec, _ := os.ReadFile(filepath.Join(dir, "strata.yaml"))
	os.WriteFile(filepath.Join(dir, "strata.yaml"), append(spec, []byte("platforms: [linux/amd64, linux/arm64]\n")...), 0o644)
	oci := filepath.Join(t.TempDir(), "oci")
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--oci", oci)
	ref := "oci:" + oci + ":v1"

	idx := MustRun(t, nil, "inspect", ref, "--view", "manifest").Stdout
	if !strings.Contains(idx, "application/vnd.oci.image.index.v1+json") {
		t.Errorf("index manifest: %s", idx)
	}
	m := MustRun(t, nil, "inspect", ref, "--view", "manifest", "--platform", "linux/arm64").Stdout
	if !strings.Contains(m, "application/vnd.oci.image.manifest.v1+json") {
		t.Errorf("arm64 manifest: %s", m)
	}
	for _, v := range []string{"summary", "layers", "files", "efficiency"} {
		r := MustRun(t, nil, "inspect", ref, "--platform", "linux/amd64", "--view", v, "--json")
		if !json.Valid([]byte(r.Stdout)) {
			t.Errorf("--view %s --json is not JSON: %s", v, r.Stdout)
		}
	}
	cfg := MustRun(t, nil, "inspect", ref, "--platform", "linux/arm64", "--view", "config").Stdout
	if !strings.Contains(cfg, `"architecture":"arm64"`) {
		t.Errorf("config: %s", cfg)
	}
	if r := Run(t, nil, "inspect", ref, "--view", "layers"); r.Code != 1 || !strings.Contains(r.Stderr, "--platform") {
		t.Errorf("layers of an index without --platform: exit %d %s", r.Code, r.Stderr)
	}
	if r := Run(t, nil, "inspect", ref, "--view", "nope"); r.Code != 2 {
		t.Errorf("unknown view: exit %d", r.Code)
	}
}

// strata why and strata sbom on a Debian spec, and sbom of the built image
// lists the same packages.
func TestWhyAndSBOMCLI(t *testing.T) {
	testutil.RequireTool(t, "docker")
	cache := t.TempDir()
	dir := writeSpecDir(t, "name: whyme\ndebian:\n  suite: bookworm\n  packages: [hello]\n")
	r := MustRun(t, nil, "why", dir, "libgcc-s1", "--cache", cache, "--json")
	var w struct {
		Chains [][]string `json:"chains"`
	}
	json.Unmarshal([]byte(r.Stdout), &w)
	if len(w.Chains) == 0 || w.Chains[0][0] != "deb:hello:amd64" || w.Chains[0][len(w.Chains[0])-1] != "deb:libgcc-s1:amd64" {
		t.Errorf("why chains %v", w.Chains)
	}
	if r := Run(t, nil, "why", dir, "python3", "--cache", cache); r.Code != 1 {
		t.Errorf("why of a package not in the closure: exit %d", r.Code)
	}

	specSBOM := MustRun(t, nil, "sbom", dir, "--format", "cyclonedx-json", "--cache", cache).Stdout
	tarPath := filepath.Join(t.TempDir(), "x.tar")
	MustRun(t, nil, "build", dir, "--cache", cache, "-o", tarPath)
	imgSBOM := MustRun(t, nil, "sbom", tarPath, "--format", "cyclonedx-json").Stdout
	names := func(doc string) string {
		var d struct {
			Components []struct {
				Name, Version string
			} `json:"components"`
		}
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		var out []string
		for _, c := range d.Components {
			out = append(out, c.Name+"="+c.Version)
		}
		return strings.Join(out, ",")
	}
	a, b := names(specSBOM), names(imgSBOM)
	if !strings.Contains(a, "hello=2.10") || !strings.Contains(a, "libc6=") {
		t.Errorf("spec SBOM components: %s", a)
	}
	for _, p := range []string{"hello=", "libc6=", "libgcc-s1=", "gcc-12-base="} {
		if !strings.Contains(b, p) {
			t.Errorf("image SBOM lacks %s: %s", p, b)
		}
	}
	if got := MustRun(t, nil, "why", tarPath, "libgcc-s1").Stdout; !strings.HasPrefix(got, "hello ") {
		t.Errorf("why on the image: %q", got)
	}
	if r := Run(t, nil, "inspect", tarPath, "--view", "efficiency", "--ci"); r.Code != 0 {
		t.Errorf("an efficient image fails --ci: %d %s", r.Code, r.Stderr)
	}
	if r := Run(t, nil, "inspect", tarPath, "--view", "efficiency", "--ci", "--lowest-efficiency", "1.1"); r.Code != 1 {
		t.Errorf("an impossible threshold passes --ci: %d", r.Code)
	}
	spdx := MustRun(t, nil, "sbom", dir, "--format", "spdx-json", "--cache", cache).Stdout
	if !strings.Contains(spdx, `"spdxVersion": "SPDX-2.3"`) && !strings.Contains(spdx, `"spdxVersion":"SPDX-2.3"`) {
		t.Errorf("SPDX version missing")
	}
	if again := MustRun(t, nil, "sbom", dir, "--format", "spdx-json", "--cache", cache).Stdout; again != spdx {
		t.Error("SPDX output is not deterministic")
	}
}
