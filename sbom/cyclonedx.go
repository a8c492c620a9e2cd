package sbom

import (
	"sort"
	"strings"
	"time"

	"github.com/stratabuild/strata/closure"
)

type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
	// Formulation records how build steps made image content.
	Formulation []cdxFormula `json:"formulation,omitempty"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	BOMRef   string       `json:"bom-ref,omitempty"`
	Type     string       `json:"type"`
	Supplier *cdxOrg      `json:"supplier,omitempty"`
	Name     string       `json:"name"`
	Version  string       `json:"version,omitempty"`
	Hashes   []cdxHash    `json:"hashes,omitempty"`
	Licenses []cdxLicense `json:"licenses,omitempty"`
	PURL     string       `json:"purl,omitempty"`
}

type cdxOrg struct {
	Name    string       `json:"name,omitempty"`
	Contact []cdxContact `json:"contact,omitempty"`
}

type cdxContact struct {
	Email string `json:"email,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// cdxLicense is one element of a license choice: either a license (by
// SPDX id or by name) or a single expression.
type cdxLicense struct {
	License    *cdxLicenseID `json:"license,omitempty"`
	Expression string        `json:"expression,omitempty"`
}

type cdxLicenseID struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func cdxType(k closure.Kind) string {
	switch k {
	case closure.KindFiles, closure.KindGenerated:
		return "file"
	case closure.KindBase:
		return "container"
	}
	return "library"
}

// cdxLicenses turns DEP-5 names into a CycloneDX license choice: a list of
// licenses when every name is a single license, else one expression.
func cdxLicenses(names []string) []cdxLicense {
	if len(names) == 0 {
		return nil
	}
	refs := map[string]string{}
	var list []cdxLicense
	compound := false
	for _, n := range names {
		e := licenseExpr(n, refs)
		switch {
		case e == "":
		case strings.Contains(e, " "):
			compound = true
		case strings.HasPrefix(e, "LicenseRef-"):
			list = append(list, cdxLicense{License: &cdxLicenseID{Name: refs[e]}})
		default:
			list = append(list, cdxLicense{License: &cdxLicenseID{ID: e}})
		}
	}
	if compound {
		return []cdxLicense{{Expression: expression(names, map[string]string{})}}
	}
	return list
}

// CycloneDX returns a CycloneDX 1.6 JSON BOM for the image and its closure.
func CycloneDX(in Input) ([]byte, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	imageRef := in.imagePurl()
	bom := cdxBOM{
		BOMFormat:    "CycloneDX",
		SpecVersion:  "1.6",
		SerialNumber: "urn:uuid:" + in.uuid("cyclonedx"),
		Version:      1,
		Metadata: cdxMetadata{
			Timestamp: in.created().Format(time.RFC3339),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: ToolName}}},
			Component: cdxComponent{BOMRef: imageRef, Type: "container", Name: in.ImageName, Version: in.tag(), PURL: imageRef},
		},
		Components:   []cdxComponent{},
		Dependencies: []cdxDependency{},
	}
	if in.ImageDigest.Hex != "" && in.ImageDigest.Algorithm == "sha256" {
		bom.Metadata.Component.Hashes = []cdxHash{{"SHA-256", in.ImageDigest.Hex}}
	}
	comps, err := in.components()
	if err != nil {
		return nil, err
	}
	for _, c := range comps {
		cc := cdxComponent{BOMRef: c.id, Type: cdxType(c.kind), Name: c.name, Version: c.version, PURL: c.purl, Licenses: cdxLicenses(c.licenses)}
		if c.supplier != "" {
			name, email := splitMaintainer(c.supplier)
			cc.Supplier = &cdxOrg{Name: name}
			if email != "" {
				cc.Supplier.Contact = []cdxContact{{Email: email}}
			}
		}
		seen := map[string]bool{}
		for _, cs := range c.checksums {
			if !seen[cs.hex] {
				seen[cs.hex] = true
				cc.Hashes = append(cc.Hashes, cdxHash{"SHA-256", cs.hex})
			}
		}
		bom.Components = append(bom.Components, cc)
		bom.Dependencies = append(bom.Dependencies, cdxDependency{Ref: c.id, DependsOn: c.deps})
	}
	sort.Slice(bom.Components, func(a, b int) bool { return bom.Components[a].BOMRef < bom.Components[b].BOMRef })
	sort.Slice(bom.Dependencies, func(a, b int) bool { return bom.Dependencies[a].Ref < bom.Dependencies[b].Ref })
	bom.Dependencies = append([]cdxDependency{{Ref: imageRef, DependsOn: uniqSorted(in.Graph.Roots)}}, bom.Dependencies...)
	bom.Formulation = in.formulation()
	return marshal(bom)
}
