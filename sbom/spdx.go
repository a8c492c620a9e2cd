package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stratabuild/strata/closure"
)

type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	DocumentDescribes []string           `json:"documentDescribes"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
	Extracted         []spdxExtracted    `json:"hasExtractedLicensingInfos,omitempty"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID                string         `json:"SPDXID"`
	Name                  string         `json:"name"`
	VersionInfo           string         `json:"versionInfo,omitempty"`
	Supplier              string         `json:"supplier,omitempty"`
	DownloadLocation      string         `json:"downloadLocation"`
	FilesAnalyzed         bool           `json:"filesAnalyzed"`
	Checksums             []spdxChecksum `json:"checksums,omitempty"`
	LicenseConcluded      string         `json:"licenseConcluded"`
	LicenseDeclared       string         `json:"licenseDeclared"`
	CopyrightText         string         `json:"copyrightText"`
	ExternalRefs          []spdxExtRef   `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string         `json:"primaryPackagePurpose,omitempty"`
	Comment               string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExtRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

type spdxExtracted struct {
	LicenseID     string `json:"licenseId"`
	Name          string `json:"name"`
	ExtractedText string `json:"extractedText"`
}

const noAssertion = "NOASSERTION"

// spdxID turns a node ID into a valid, unique, stable SPDX identifier.
func spdxID(nodeID string) string {
	sum := sha256.Sum256([]byte(nodeID))
	return "SPDXRef-Package-" + sanitizeID(nodeID) + "-" + hex.EncodeToString(sum[:4])
}

// spdxSupplier turns "Name <email>" into "Organization: Name (email)".
// Debian maintainers are often teams, so Organization is the safer of the
// two SPDX supplier kinds.
func spdxSupplier(m string) string {
	if m == "" {
		return noAssertion
	}
	name, email := splitMaintainer(m)
	if email != "" {
		return fmt.Sprintf("Organization: %s (%s)", name, email)
	}
	return "Organization: " + name
}

func splitMaintainer(m string) (name, email string) {
	m = strings.TrimSpace(m)
	if i := strings.Index(m, "<"); i >= 0 {
		if j := strings.Index(m[i:], ">"); j > 0 {
			return strings.TrimSpace(m[:i]), strings.TrimSpace(m[i+1 : i+j])
		}
	}
	return m, ""
}

func purpose(k closure.Kind) string {
	switch k {
	case closure.KindFiles, closure.KindGenerated:
		return "FILE"
	case closure.KindBase:
		return "CONTAINER"
	}
	return "LIBRARY"
}

// SPDX returns an SPDX 2.3 JSON document for the image and its closure.
func SPDX(in Input) ([]byte, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	comps, err := in.components()
	if err != nil {
		return nil, err
	}
	const imageID = "SPDXRef-Image"
	uuid := in.uuid("spdx")
	doc := spdxDoc{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              in.ImageName + ":" + in.tag(),
		DocumentNamespace: "https://spdx.org/spdxdocs/strata/" + sanitizeID(in.ImageName) + "-" + uuid,
		CreationInfo: spdxCreation{
			Created:  in.created().Format(time.RFC3339),
			Creators: []string{"Tool: " + ToolName},
		},
		DocumentDescribes: []string{imageID},
	}
	img := spdxPackage{
		SPDXID:                imageID,
		Name:                  in.ImageName,
		VersionInfo:           in.tag(),
		Supplier:              noAssertion,
		DownloadLocation:      noAssertion,
		LicenseConcluded:      noAssertion,
		LicenseDeclared:       noAssertion,
		CopyrightText:         noAssertion,
		ExternalRefs:          []spdxExtRef{{"PACKAGE-MANAGER", "purl", in.imagePurl()}},
		PrimaryPackagePurpose: "CONTAINER",
	}
	if in.ImageDigest.Hex != "" && in.ImageDigest.Algorithm == "sha256" {
		img.Checksums = []spdxChecksum{{"SHA256", in.ImageDigest.Hex}}
	}
	doc.Packages = append(doc.Packages, img)
	refs := map[string]string{}
	ids := map[string]string{}
	for _, c := range comps {
		ids[c.id] = spdxID(c.id)
	}
	rels := []spdxRelationship{{"SPDXRef-DOCUMENT", "DESCRIBES", imageID}}
	for _, c := range comps {
		p := spdxPackage{
			SPDXID:                ids[c.id],
			Name:                  c.name,
			VersionInfo:           c.version,
			Supplier:              spdxSupplier(c.supplier),
			DownloadLocation:      noAssertion,
			LicenseConcluded:      noAssertion,
			LicenseDeclared:       noAssertion,
			CopyrightText:         noAssertion,
			PrimaryPackagePurpose: purpose(c.kind),
		}
		if e := expression(c.licenses, refs); e != "" {
			p.LicenseDeclared = e
		}
		for _, cs := range c.checksums {
			p.Checksums = append(p.Checksums, spdxChecksum{cs.alg, cs.hex})
		}
		if c.purl != "" {
			p.ExternalRefs = []spdxExtRef{{"PACKAGE-MANAGER", "purl", c.purl}}
		}
		doc.Packages = append(doc.Packages, p)
		rels = append(rels, spdxRelationship{imageID, "CONTAINS", ids[c.id]})
		for _, d := range c.deps {
			rels = append(rels, spdxRelationship{ids[c.id], "DEPENDS_ON", ids[d]})
		}
	}
	for _, r := range uniqSorted(in.Graph.Roots) {
		rels = append(rels, spdxRelationship{imageID, "DEPENDS_ON", ids[r]})
	}
	// Build steps: a package per step (its key, hashes and build closure
	// in the comment); what it produced is GENERATED_FROM it.
	for _, st := range in.steps() {
		sid := spdxID("build:" + st.name)
		doc.Packages = append(doc.Packages, spdxPackage{
			SPDXID: sid, Name: "build step " + st.name, VersionInfo: short12(st.key),
			Supplier: noAssertion, DownloadLocation: noAssertion, LicenseConcluded: noAssertion,
			LicenseDeclared: noAssertion, CopyrightText: noAssertion, PrimaryPackagePurpose: "SOURCE",
			Comment: st.comment(),
		})
		for _, o := range st.outputs {
			rels = append(rels, spdxRelationship{ids[o], "GENERATED_FROM", sid})
		}
	}
	sort.SliceStable(doc.Packages[1:], func(a, b int) bool { return doc.Packages[1+a].SPDXID < doc.Packages[1+b].SPDXID })
	sort.SliceStable(rels[1:], func(a, b int) bool {
		x, y := rels[1+a], rels[1+b]
		if x.SPDXElementID != y.SPDXElementID {
			return x.SPDXElementID < y.SPDXElementID
		}
		if x.RelationshipType != y.RelationshipType {
			return x.RelationshipType < y.RelationshipType
		}
		return x.RelatedSPDXElement < y.RelatedSPDXElement
	})
	doc.Relationships = rels
	for _, id := range sortedKeys(refs) {
		doc.Extracted = append(doc.Extracted, spdxExtracted{
			LicenseID:     id,
			Name:          refs[id],
			ExtractedText: fmt.Sprintf("The package's machine-readable copyright file names the license %q; it has no SPDX identifier.", refs[id]),
		})
	}
	return marshal(doc)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// marshal writes indented JSON without HTML escaping and a final newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding SBOM: %w", err)
	}
	return buf.Bytes(), nil
}
