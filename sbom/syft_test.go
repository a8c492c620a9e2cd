package sbom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/imagegraph"
	"github.com/stratabuild/strata/imageref/imagetest"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/sbom"
)

// TestPurlsAgreeWithSyft reads the sample image with syft, the scanner
// people run on images, and checks that strata's SBOM of it names the same
// Debian and Nix packages with the same package URLs, and the same DEP-5
// licenses.
func TestPurlsAgreeWithSyft(t *testing.T) {
	syft := testutil.RequireTool(t, "syft")
	img, err := imagetest.Sample()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "sample.tar")
	tag, _ := name.NewTag("sample:1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, syft, "docker-archive:"+archive, "-o", "json", "-q")
	cmd.Env = append(cmd.Environ(), "SYFT_CHECK_FOR_APP_UPDATE=false", "HOME="+dir, "XDG_CACHE_HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("syft: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Artifacts []struct {
			Type     string `json:"type"`
			PURL     string `json:"purl"`
			Licenses []struct {
				Value string `json:"value"`
			} `json:"licenses"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	wantLic := map[string][]string{}
	for _, a := range doc.Artifacts {
		if a.Type != "deb" && a.Type != "nix" {
			continue
		}
		want = append(want, a.PURL)
		for _, l := range a.Licenses {
			wantLic[a.PURL] = append(wantLic[a.PURL], l.Value)
		}
	}
	sort.Strings(want)

	g, err := imagegraph.FromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sbom.CycloneDX(sbom.Input{Graph: g, ImageName: "sample", Tag: "1"})
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		Components []struct {
			PURL     string `json:"purl"`
			Licenses []struct {
				License struct{ ID, Name string } `json:"license"`
			} `json:"licenses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range bom.Components {
		got = append(got, c.PURL)
	}
	sort.Strings(got)
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("package URLs differ:\nstrata: %v\nsyft:   %v", got, want)
	}
	// syft keeps the DEP-5 names; strata maps them to SPDX identifiers.
	if l := wantLic["pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"]; !reflect.DeepEqual(l, deb.Licenses(imagetest.Copyright)) {
		t.Errorf("syft's libc6 licenses %v, strata reads %v", l, deb.Licenses(imagetest.Copyright))
	}
}
