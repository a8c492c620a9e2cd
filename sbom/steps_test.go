package sbom_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/sbom"
)

// A files node a build step produced: SPDX says it was GENERATED_FROM the
// step, CycloneDX's formulation names the step's key, closure and output;
// both documents stay schema-valid.
func TestBuildStepFormulation(t *testing.T) {
	g := closure.New()
	g.Add(&closure.Node{ID: "deb:libc6:amd64", Kind: closure.KindDeb, Name: "libc6", Version: "2.36-9", Meta: map[string]string{"purl": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12"}})
	g.Add(&closure.Node{ID: "files:000", Kind: closure.KindFiles, Name: "/usr/bin/hello", Deps: []string{"deb:libc6:amd64"}, Meta: map[string]string{
		sbom.MetaBuild: "hello", sbom.MetaBuildKey: strings.Repeat("a", 64), sbom.MetaBuildTree: strings.Repeat("b", 64),
		sbom.MetaBuildSrc: strings.Repeat("c", 64), sbom.MetaBuildClosure: "gcc-12 12.2.0-14\nlibc6-dev 2.36-9",
	}})
	g.Roots = []string{"files:000"}
	in := input(t, g)
	sp, err := sbom.SPDX(in)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := sbom.CycloneDX(in)
	if err != nil {
		t.Fatal(err)
	}
	ss, cs := schemas(t)
	validate(t, ss, "SPDX", sp)
	validate(t, cs, "CycloneDX", cd)

	var doc struct {
		Packages []struct {
			SPDXID, Name, Comment string
		}
		Relationships []struct {
			SPDXElementID, RelationshipType, RelatedSPDXElement string
		}
	}
	json.Unmarshal(sp, &doc)
	stepID := ""
	for _, p := range doc.Packages {
		if p.Name == "build step hello" {
			stepID = p.SPDXID
			if !strings.Contains(p.Comment, strings.Repeat("a", 64)) || !strings.Contains(p.Comment, "gcc-12 12.2.0-14") {
				t.Errorf("step package comment %q lacks the key or the closure", p.Comment)
			}
		}
	}
	found := false
	for _, r := range doc.Relationships {
		if r.RelationshipType == "GENERATED_FROM" && r.RelatedSPDXElement == stepID && stepID != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no GENERATED_FROM relationship to the step package %q", stepID)
	}

	var bom struct {
		Formulation []struct {
			Components []struct{ Name, Version string }
			Workflows  []struct {
				UID     string
				Outputs []struct{ Resource struct{ Ref string } }
			}
		}
	}
	json.Unmarshal(cd, &bom)
	if len(bom.Formulation) != 1 || len(bom.Formulation[0].Workflows) != 1 || len(bom.Formulation[0].Components) != 2 {
		t.Fatalf("formulation = %+v", bom.Formulation)
	}
	w := bom.Formulation[0].Workflows[0]
	if w.UID != strings.Repeat("a", 64) || len(w.Outputs) != 1 || w.Outputs[0].Resource.Ref != "files:000" {
		t.Errorf("workflow = %+v", w)
	}
}
