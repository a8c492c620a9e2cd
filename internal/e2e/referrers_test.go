package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/registry/registrytest"
)

// --push with --sbom attaches both SBOMs to the pushed image; on
// docker-registry 2.8 (no referrers API) they are found through the
// sha256-HEX tag, and `inspect --view referrers` lists them.
func TestPushAttachesSBOMReferrers(t *testing.T) {
	host := registrytest.Start(t)
	dir := t.TempDir()
	writeFixture(t, dir, false, time.Now())
	ref := host + "/strata/fixture:v1"
	b := buildJSON(t, nil, "build", dir, "--cache", t.TempDir(), "--push", ref, "--sbom", t.TempDir())
	r := MustRun(t, nil, "inspect", ref, "--view", "referrers", "--json")
	var v struct {
		Subject   string `json:"subject"`
		Referrers []struct {
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	var types []string
	for _, x := range v.Referrers {
		types = append(types, x.ArtifactType)
	}
	if v.Subject != b["digest"] || strings.Join(types, ",") != "application/spdx+json,application/vnd.cyclonedx+json" && strings.Join(types, ",") != "application/vnd.cyclonedx+json,application/spdx+json" {
		t.Fatalf("referrers of %v: %s", b["digest"], r.Stdout)
	}
	fallback := host + "/strata/fixture:" + strings.Replace(v.Subject, ":", "-", 1)
	MustRun(t, nil, "inspect", fallback, "--view", "manifest")
	// A local image has no referrers to list.
	if r := Run(t, nil, "inspect", filepath.Join(dir, "strata.yaml"), "--view", "referrers"); r.Code != 2 {
		t.Fatalf("--view referrers of a local file: exit %d %s", r.Code, r.Stderr)
	}
}
