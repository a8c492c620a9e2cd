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
		"layering": core, "layer": core, "store": core, "image": core, "sbom": leaf, "inspect": leaf}
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
