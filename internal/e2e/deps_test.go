package e2e

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// allowedImports is, for every package of the module, the module packages
// it may import directly. Data flows one way (spec -> sources -> closure ->
// layering -> layer -> image -> sinks; sbom, inspect, why read graphs or
// images and write none), so each row lists only what sits upstream of it.
// A new package, or a new edge, is added here on purpose: the test fails
// for a package that has no row and for an import that is not listed.
var allowedImports = map[string][]string{
	// the model and its helpers: no pipeline imports
	"spec":                {},
	"events":              {},
	"cache":               {},
	"closure":             {"events"},
	"internal/atomicfile": {},
	"internal/deb822":     {},
	"internal/httpretry":  {},
	"internal/purl":       {},
	"internal/testutil":   {},
	"imagefs":             {},
	"layering":            {"closure"},
	// sources
	"rootfs":                      {"closure", "spec"},
	"rootfs/ldcache":              {"closure", "elfdeps"},
	"closure/files":               {"cache", "closure", "elfdeps", "spec"},
	"closure/deb":                 {"cache", "closure", "closure/deb/debfile", "closure/deb/sysfiles", "events", "imagefs", "internal/deb822", "internal/httpretry", "internal/purl", "spec"},
	"closure/deb/debfile":         {"cache", "closure", "internal/deb822"},
	"closure/deb/debfile/debtest": {},
	"closure/deb/sysfiles":        {"closure", "closure/deb/debfile", "rootfs", "rootfs/ldcache", "spec"},
	"closure/nix":                 {"cache", "closure", "imagefs", "internal/purl", "spec"},
	"closure/nix/nixtest":         {"internal/testutil"},
	"baseimage":                   {"imageref", "registry"},
	"elfdeps":                     {"closure"},
	// cache, layers, images
	"store":    {"cache", "internal/atomicfile"},
	"lockfile": {"internal/atomicfile"},
	"layer":    {"cache", "closure"},
	"image":    {"cache", "closure", "layer", "spec"},
	// build steps: the sandbox a step runs in
	"sandbox": {"closure"},
	// the pipeline as a library: no sink, no CLI
	"build": {"baseimage", "cache", "closure", "closure/deb", "closure/deb/sysfiles", "closure/files", "imagefs", "closure/nix", "events", "image", "layer", "layering", "lockfile", "registry", "rootfs", "spec", "step"},
	// build steps
	"step": {"cache", "closure", "closure/deb", "closure/files", "events", "sandbox", "spec"},
	// registry client and image reading
	"registry":              {"internal/atomicfile", "internal/httpretry"},
	"remotecache":           {"cache", "events", "internal/atomicfile", "layer", "registry"},
	"registry/registrytest": {"internal/testutil"},
	"imageref":              {"registry"},
	"imageref/imagetest":    {"closure", "closure/deb", "closure/nix"},
	// sinks: they meet the build at image.Artifact
	"sink":               {"image"},
	"sink/daemon":        {"image", "sink", "sink/dockerarchive"},
	"sink/dockerarchive": {"image", "internal/atomicfile", "sink"},
	"sink/ocilayout":     {"image", "internal/atomicfile", "sink"},
	"sink/registry":      {"image", "registry", "sink"},
	// read-only leaves
	"imagegraph":      {"closure", "closure/deb", "closure/nix", "imagefs"},
	"sbom":            {"closure", "internal/purl"},
	"why":             {"closure"},
	"inspect":         {"closure", "imagefs", "imageref"},
	"inspect/sharing": {},
	// the command line and tools
	"internal/cli":            {"build", "cache", "closure", "closure/deb/debfile", "closure/nix", "events", "imagegraph", "imageref", "inspect", "inspect/sharing", "internal/atomicfile", "layer", "lockfile", "registry", "remotecache", "sbom", "sink", "sink/daemon", "sink/dockerarchive", "sink/ocilayout", "sink/registry", "spec", "step", "store", "why"},
	"cmd/strata":              {"internal/cli"},
	"internal/e2e":            {},
	"internal/e2e/checkcerts": {},
	"bench/fleet":             {"closure", "closure/deb", "events", "layering", "store"},
	"examples/hello-go":       {},
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

func TestDependencyAllowList(t *testing.T) {
	const mod = "github.com/stratabuild/strata/"
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, mod)
		seen[name] = true
		allowed, ok := allowedImports[name]
		if !ok {
			t.Errorf("package %s has no row in allowedImports: add one listing the module packages it may import", name)
			continue
		}
		for _, imp := range p.Imports {
			if imp == "github.com/spf13/cobra" && name != "internal/cli" {
				t.Errorf("%s imports cobra: only internal/cli parses flags", name)
			}
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which its allow-list does not name (data flows one way; see ARCHITECTURE.md)", name, dep)
			}
		}
	}
	var stale []string
	for name := range allowedImports {
		if !seen[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("allowedImports has rows for packages that do not exist: %v", stale)
	}
}

// Some rules are about what a package reaches through others, or about
// outside libraries: checked on the transitive closure.
func TestDependencyRules(t *testing.T) {
	const mod = "github.com/stratabuild/strata/"
	deps := func(pkg string) []string {
		cmd := exec.Command("go", "list", "-deps", "./"+pkg)
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	imports := func(pkg string) []string {
		cmd := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "./"+pkg)
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	// The core never reaches a sink, the CLI or registry code; the
	// pipeline (build) never reaches a sink.
	for pkg, banned := range map[string][]string{
		"closure/deb": {"sink", "internal/cli", "registry", "build"},
		"closure/nix": {"sink", "internal/cli", "registry", "build"},
		"layer":       {"sink", "internal/cli", "registry", "build"},
		"step":        {"sink", "internal/cli", "registry", "build"},
		"image":       {"sink", "internal/cli", "registry", "build"},
		"build":       {"sink", "internal/cli", "inspect", "sbom"},
		"sbom":        {"sink", "internal/cli", "build", "closure/deb", "closure/nix", "imagegraph", "imagefs", "inspect"},
		"inspect":     {"sink", "internal/cli", "build"},
	} {
		for _, dep := range deps(pkg) {
			for _, b := range banned {
				if dep == mod+b || strings.HasPrefix(dep, mod+b+"/") {
					t.Errorf("%s reaches %s", pkg, dep)
				}
			}
		}
	}
	// imageref is the only reader of reference strings.
	for _, pkg := range []string{"baseimage", "imagefs", "inspect", "sbom"} {
		for _, imp := range imports(pkg) {
			if strings.HasPrefix(imp, "github.com/google/go-containerregistry/pkg/v1/") && (strings.HasSuffix(imp, "/layout") || strings.HasSuffix(imp, "/tarball") || strings.HasSuffix(imp, "/remote") || strings.HasSuffix(imp, "/daemon")) {
				t.Errorf("%s imports %s; read images through imageref", pkg, imp)
			}
		}
	}
	// layering and rootfs are pure: no I/O packages.
	for _, pkg := range []string{"layering", "rootfs"} {
		for _, imp := range imports(pkg) {
			if imp == "os" || imp == "net/http" || imp == "os/exec" || imp == "io/ioutil" {
				t.Errorf("%s imports %s; it must stay free of I/O", pkg, imp)
			}
		}
	}
}
