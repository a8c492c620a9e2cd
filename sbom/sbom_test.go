package sbom_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imagegraph"
	"github.com/stratabuild/strata/imageref/imagetest"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/sbom"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func input(t *testing.T, g *closure.Graph) sbom.Input {
	t.Helper()
	d, err := v1.NewHash("sha256:6ab4ef0895bcdb7ee583e090e44820174d28bd2c9b2b15287911d01735ccf9fe")
	if err != nil {
		t.Fatal(err)
	}
	return sbom.Input{
		Graph:       g,
		ImageName:   "example.test/team/sample",
		Tag:         "1.0",
		ImageDigest: d,
		Created:     time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Platform:    closure.Platform{OS: "linux", Arch: "amd64"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, name, got, *update)
}

func schemas(t *testing.T) (spdx, cyclonedx *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, file := range map[string]string{
		"http://spdx.org/rdf/terms/2.3":                    "spdx-2.3.schema.json",
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "cyclonedx-bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "cyclonedx-spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "cyclonedx-jsf-0.82.schema.json",
	} {
		f, err := os.Open(filepath.Join("testdata", "schemas", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	var err error
	if spdx, err = c.Compile("http://spdx.org/rdf/terms/2.3"); err != nil {
		t.Fatal(err)
	}
	if cyclonedx, err = c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json"); err != nil {
		t.Fatal(err)
	}
	return spdx, cyclonedx
}

func validate(t *testing.T, s *jsonschema.Schema, what string, doc []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("%s does not validate against its official schema: %v", what, err)
	}
}

func TestGoldenAndSchemas(t *testing.T) {
	in := input(t, imagetest.SampleGraph())
	sp, err := sbom.SPDX(in)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := sbom.CycloneDX(in)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.spdx.json", sp)
	golden(t, "sample.cdx.json", cd)
	ss, cs := schemas(t)
	validate(t, ss, "SPDX", sp)
	validate(t, cs, "CycloneDX", cd)

	// Without a digest (an SBOM of an unbuilt spec) the documents are
	// still valid and still deterministic.
	in.ImageDigest = v1.Hash{}
	sp2, err := sbom.SPDX(in)
	if err != nil {
		t.Fatal(err)
	}
	cd2, err := sbom.CycloneDX(in)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, ss, "SPDX without digest", sp2)
	validate(t, cs, "CycloneDX without digest", cd2)
}

// The schemas catch mistakes: a broken document must fail validation.
func TestSchemasRejectBrokenDocuments(t *testing.T) {
	ss, cs := schemas(t)
	in := input(t, imagetest.SampleGraph())
	sp, _ := sbom.SPDX(in)
	cd, _ := sbom.CycloneDX(in)
	for _, c := range []struct {
		s         *jsonschema.Schema
		doc       []byte
		old, repl string
	}{
		{ss, sp, `"relationshipType": "DESCRIBES"`, `"relationshipType": "DESCRIBED"`},
		{cs, cd, `"specVersion": "1.6"`, `"specVersion": 1.6`},
		{cs, cd, `"alg": "SHA-256"`, `"alg": "SHA256"`},
	} {
		broken := bytes.Replace(c.doc, []byte(c.old), []byte(c.repl), 1)
		if bytes.Equal(broken, c.doc) {
			t.Fatalf("%s not found", c.old)
		}
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(broken))
		if err := c.s.Validate(inst); err == nil {
			t.Errorf("schema accepts a document with %s", c.repl)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	g := imagetest.SampleGraph()
	in := input(t, g)
	sp, err := sbom.SPDX(in)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(sp))
	if err != nil {
		t.Fatalf("tools-golang cannot read the SPDX document: %v", err)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://spdx.org/spdxdocs/strata/") {
		t.Errorf("documentNamespace %q", doc.DocumentNamespace)
	}
	if len(doc.Packages) != len(g.Nodes)+1 {
		t.Errorf("%d SPDX packages, want %d", len(doc.Packages), len(g.Nodes)+1)
	}
	describes, dependsOn := 0, 0
	for _, r := range doc.Relationships {
		switch r.Relationship {
		case "DESCRIBES":
			describes++
			if string(r.RefB.ElementRefID) != "Image" {
				t.Errorf("DESCRIBES %v, want the image", r.RefB)
			}
		case "DEPENDS_ON":
			dependsOn++
		}
	}
	edges := len(g.Roots)
	for _, n := range g.Nodes {
		edges += len(n.Deps)
	}
	if describes != 1 || dependsOn != edges {
		t.Errorf("DESCRIBES %d DEPENDS_ON %d, want 1 and %d", describes, dependsOn, edges)
	}
	var libc *struct{ lic, sup, purl string }
	for _, p := range doc.Packages {
		if p.PackageName == "libc6" {
			libc = &struct{ lic, sup, purl string }{p.PackageLicenseDeclared, p.PackageSupplier.Supplier, p.PackageExternalReferences[0].Locator}
		}
	}
	if libc == nil || libc.lic != "GPL-2.0-or-later AND LGPL-2.1-or-later" || libc.sup != "GNU Libc Maintainers (debian-glibc@lists.debian.org)" ||
		libc.purl != "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12" {
		t.Errorf("libc6 package %+v", libc)
	}

	cd, err := sbom.CycloneDX(in)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(cd), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("cyclonedx-go cannot decode the BOM: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Errorf("spec %v serial %s", bom.SpecVersion, bom.SerialNumber)
	}
	if bom.Components == nil || len(*bom.Components) != len(g.Nodes) {
		t.Fatalf("components %v", bom.Components)
	}
	if bom.Metadata.Component.Type != cdx.ComponentTypeContainer ||
		bom.Metadata.Component.PackageURL != "pkg:oci/sample@sha256%3A6ab4ef0895bcdb7ee583e090e44820174d28bd2c9b2b15287911d01735ccf9fe?arch=amd64&repository_url=example.test%2Fteam%2Fsample&tag=1.0" {
		t.Errorf("image component %+v", bom.Metadata.Component)
	}
	for _, c := range *bom.Components {
		switch c.Name + " " + string(c.Type) {
		case "glibc library":
			if c.PackageURL != "pkg:nix/glibc@2.38?outputhash="+imagetest.GlibcHash || (*c.Hashes)[0].Value != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
				t.Errorf("nix glibc %+v", c)
			}
		case "perl-base library":
			if (*c.Licenses)[0].Expression != "GPL-1.0-or-later OR Artistic-1.0-Perl" || !strings.Contains(c.PackageURL, "distro=debian-12.5") {
				t.Errorf("perl-base %+v %+v", c, *c.Licenses)
			}
		case "tzdata library":
			if (*c.Licenses)[0].License.Name != "public-domain" {
				t.Errorf("tzdata license %+v", *c.Licenses)
			}
		}
	}
	if bom.Dependencies == nil || (*bom.Dependencies)[0].Ref != bom.Metadata.Component.BOMRef || len(*(*bom.Dependencies)[0].Dependencies) != len(g.Roots) {
		t.Errorf("first dependency should be the image on its %d roots: %+v", len(g.Roots), (*bom.Dependencies)[0])
	}
}

func TestDeterministic(t *testing.T) {
	a := imagetest.SampleGraph()
	// The same graph with roots and deps in another order.
	b := imagetest.SampleGraph()
	b.Roots = []string{b.Roots[3], b.Roots[1], b.Roots[2], b.Roots[0]}
	h := b.Nodes["deb:hello:amd64"]
	h.Deps = []string{h.Deps[2], h.Deps[0], h.Deps[1]}
	for _, f := range []func(sbom.Input) ([]byte, error){sbom.SPDX, sbom.CycloneDX} {
		x, err := f(input(t, a))
		if err != nil {
			t.Fatal(err)
		}
		y, err := f(input(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Error("the same graph in another order gives other bytes")
		}
		other := input(t, a)
		other.ImageDigest.Hex = strings.Repeat("1", 64)
		z, _ := f(other)
		if bytes.Equal(x, z) {
			t.Error("another image digest gives the same document")
		}
	}
}

func TestInputErrors(t *testing.T) {
	if _, err := sbom.SPDX(sbom.Input{ImageName: "x"}); err == nil || !strings.Contains(err.Error(), "graph") {
		t.Errorf("no graph: %v", err)
	}
	g := imagetest.SampleGraph()
	g.Roots = append(g.Roots, "deb:missing:amd64")
	if _, err := sbom.CycloneDX(input(t, g)); err == nil || !strings.Contains(err.Error(), "deb:missing:amd64") {
		t.Errorf("bad graph: %v", err)
	}
}

func TestNarHashHex(t *testing.T) {
	const want = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // sha256("")
	for _, h := range []string{
		"sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
		"0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
		"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"sha256:" + want,
	} {
		got, err := sbom.NarHashHex(h)
		if err != nil || got != want {
			t.Errorf("NarHashHex(%s) = %s, %v", h, got, err)
		}
	}
	for _, bad := range []string{"sha256:eeee", "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e", "md5-xyz"} {
		if _, err := sbom.NarHashHex(bad); err == nil {
			t.Errorf("NarHashHex(%s) accepted", bad)
		}
	}
}

func TestFromImage(t *testing.T) {
	img, err := imagetest.Sample()
	if err != nil {
		t.Fatal(err)
	}
	g, err := imagegraph.FromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	nixHello := "nix:/nix/store/" + imagetest.HelloHash + "-hello-2.12.1"
	nixGlibc := "nix:/nix/store/" + imagetest.GlibcHash + "-glibc-2.38"
	want := map[string][]string{
		"deb:hello:amd64":     {"deb:libc6:amd64", "deb:libgcc-s1:amd64"},
		"deb:libc6:amd64":     {"deb:libgcc-s1:amd64"},
		"deb:libgcc-s1:amd64": {"deb:libc6:amd64"},
		nixHello:              {nixGlibc},
		nixGlibc:              nil,
	}
	if len(g.Nodes) != len(want) {
		t.Errorf("nodes %v", g.IDs())
	}
	for id, deps := range want {
		n := g.Nodes[id]
		if n == nil {
			t.Errorf("missing node %s (have %v)", id, g.IDs())
			continue
		}
		if !reflect.DeepEqual(n.Deps, deps) && !(len(n.Deps) == 0 && len(deps) == 0) {
			t.Errorf("%s deps %v, want %v", id, n.Deps, deps)
		}
	}
	if !reflect.DeepEqual(g.Roots, []string{"deb:hello:amd64", nixHello}) {
		t.Errorf("roots %v", g.Roots)
	}
	libc := g.Nodes["deb:libc6:amd64"]
	if libc.Version != "2.36-9+deb12u4" || libc.Size != 12*1024 || libc.Meta["license"] != "GPL-2+, LGPL-2.1+" || libc.Meta["maintainer"] != "GNU Libc Maintainers <debian-glibc@lists.debian.org>" {
		t.Errorf("libc6 node %+v", libc)
	}
	if n := g.Nodes[nixHello]; n.Name != "hello" || n.Version != "2.12.1" || n.Size == 0 {
		t.Errorf("nix hello node %+v", n)
	}
	// And the SBOM of it is valid.
	ss, cs := schemas(t)
	in := input(t, g)
	sp, err := sbom.SPDX(in)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := sbom.CycloneDX(in)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, ss, "SPDX from image", sp)
	validate(t, cs, "CycloneDX from image", cd)
	var v map[string]any
	if err := json.Unmarshal(cd, &v); err != nil {
		t.Fatal(err)
	}
}

// Input.Tag may be a full reference: only its tag part is used.
func TestTagForms(t *testing.T) {
	base := input(t, imagetest.SampleGraph())
	want, err := sbom.CycloneDX(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"example.test/team/sample:1.0", "127.0.0.1:5000/team/sample:1.0"} {
		in := base
		in.Tag = tag
		got, err := sbom.CycloneDX(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Tag %q gives another document (%v)", tag, err)
		}
	}
	for _, tag := range []string{"", "127.0.0.1:5000/team/sample", "sample@sha256:" + strings.Repeat("a", 64)} {
		in := base
		in.Tag = tag
		got, _ := sbom.CycloneDX(in)
		if !bytes.Contains(got, []byte(`"version": "latest"`)) {
			t.Errorf("Tag %q is not read as latest", tag)
		}
	}
}
