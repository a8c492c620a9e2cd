package inspect_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/imageref/imagetest"
	"github.com/stratabuild/strata/inspect"
	"github.com/stratabuild/strata/internal/testutil"
)

// TestEfficiencyMatchesDive runs dive itself (`dive --ci --json`) on
// docker archives of a few images and compares its efficiency score,
// wasted bytes and total size with ComputeEfficiency's.
func TestEfficiencyMatchesDive(t *testing.T) {
	dive := testutil.RequireTool(t, "dive")
	a, b, c := strings.Repeat("a", 100), strings.Repeat("b", 50), strings.Repeat("c", 30)
	cases := map[string][]imagetest.LayerSpec{
		"duplicate-and-deleted-file": {
			{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/a", a), imagetest.Reg("d/b", b)}},
			{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/a", a), imagetest.Reg("c", c)}},
			{Files: []imagetest.File{imagetest.Whiteout("d/b")}},
		},
		"deleted-folder-and-overwrite": {
			{Files: []imagetest.File{imagetest.Dir("d"), imagetest.Reg("d/x", a), imagetest.Reg("d/y", b), imagetest.Reg("e", c)}},
			{Files: []imagetest.File{imagetest.Whiteout("d"), imagetest.Reg("e", a+c)}},
			{Files: []imagetest.File{imagetest.Reg("f", b)}},
		},
		"sample": imagetest.SampleLayers(),
	}
	for name, layers := range cases {
		t.Run(name, func(t *testing.T) {
			img, err := imagetest.Image(imagetest.ImageSpec{Layers: layers})
			if err != nil {
				t.Fatal(err)
			}
			got, err := inspect.ComputeEfficiency(img)
			if err != nil {
				t.Fatal(err)
			}
			want := runDive(t, dive, img)
			if math.Abs(got.Efficiency-want.Image.EfficiencyScore) > 1e-9 || got.WastedBytes != want.Image.InefficientBytes || got.SizeBytes != want.Image.SizeBytes {
				t.Errorf("strata: efficiency %v wasted %d size %d; dive: %v %d %d",
					got.Efficiency, got.WastedBytes, got.SizeBytes, want.Image.EfficiencyScore, want.Image.InefficientBytes, want.Image.SizeBytes)
			}
		})
	}
}

type diveReport struct {
	Image struct {
		SizeBytes        int64   `json:"sizeBytes"`
		InefficientBytes int64   `json:"inefficientBytes"`
		EfficiencyScore  float64 `json:"efficiencyScore"`
	} `json:"image"`
}

func runDive(t *testing.T, dive string, img v1.Image) diveReport {
	t.Helper()
	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	tag, _ := name.NewTag("strata-dive-test:1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dive.json")
	cmd := exec.Command(dive, "--ci", "--source", "docker-archive", archive, "--json", out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CI=true", "HOME="+dir)
	msg, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("dive: %v: %s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("dive wrote no report: %v: %s", err, msg)
	}
	var r diveReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
