package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// The core packages must not depend on sinks, the CLI or cobra: data flows
// one way, spec -> sources -> closure -> layering -> layer -> image -> sink.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/stratabuild/strata/"
	core := []string{mod + "sink", mod + "internal/cli", "github.com/spf13/cobra", mod + "registry", mod + "build", mod + "inspect", mod + "sbom"}
	// sbom and inspect are leaves: they may read images from anywhere
	// (registry pulls included) but never import a sink, the CLI or build.
	leaf := []string{mod + "sink", mod + "internal/cli", "github.com/spf13/cobra", mod + "build"}
	pkgs := map[string][]string{"spec": core, "closure": core, "closure/files": core, "closure/deb": core, "closure/nix": core,
		"layering": core, "layer": core, "store": core, "image": core, "imagefs": core, "sbom": leaf, "inspect": leaf}
	for pkg, banned := range pkgs {
		cmd := exec.Command("go", "list", "-deps", "./"+pkg)
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
	// sbom turns a graph into documents: the Debian and Nix knowledge (purls,
	// distro, licences, status.d, store paths) belongs to the sources, and
	// images are read back into graphs by imagegraph.
	for _, pkg := range []string{"sbom"} {
		cmd := exec.Command("go", "list", "-deps", "./"+pkg)
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range []string{mod + "closure/deb", mod + "closure/nix", mod + "imagegraph", mod + "imagefs", mod + "inspect"} {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
	// imageref is the only reader of reference strings; baseimage and
	// imagefs do not reach around it to the layout or tarball readers.
	for _, pkg := range []string{"baseimage", "imagefs", "inspect", "sbom"} {
		cmd := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "./"+pkg)
		cmd.Dir = RepoRoot()
		out, _ := cmd.CombinedOutput()
		for _, imp := range strings.Fields(string(out)) {
			if strings.HasPrefix(imp, "github.com/google/go-containerregistry/pkg/v1/") && (strings.HasSuffix(imp, "/layout") || strings.HasSuffix(imp, "/tarball") || strings.HasSuffix(imp, "/remote") || strings.HasSuffix(imp, "/daemon")) {
				t.Errorf("%s imports %s; read images through imageref", pkg, imp)
			}
		}
	}
	// layering is pure: no I/O packages.
	cmd := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "./layering")
	cmd.Dir = RepoRoot()
	out, _ := cmd.CombinedOutput()
	for _, imp := range strings.Fields(string(out)) {
		if imp == "os" || imp == "net/http" || imp == "os/exec" || imp == "io/ioutil" {
			t.Errorf("layering imports %s; it must stay free of I/O", imp)
		}
	}
}
