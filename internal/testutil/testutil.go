package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where every external
// dependency must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of an external program. When it is missing
// the test fails in CI (scripts/test.sh installs it) and is skipped
// elsewhere, with the install hint.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not installed; scripts/test.sh installs it (see scripts/apt-packages.txt and scripts/go-tools.txt)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RequireDocker fails in CI and skips elsewhere when no Docker Engine answers.
func RequireDocker(t testing.TB) {
	t.Helper()
	RequireTool(t, "docker")
	if err := exec.Command("docker", "info").Run(); err != nil {
		if InCI() {
			t.Fatalf("no Docker Engine answers (docker info: %v)", err)
		}
		t.Skip("no Docker Engine answers")
	}
}
