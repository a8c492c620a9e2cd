package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// Golden compares got with the file testdata/NAME.golden, or rewrites that
// file when update is set (each package's `go test -update` flag).
func Golden(t testing.TB, name string, got []byte, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, got)
	}
}

// DeadPID returns the id of a process that has exited (for tests of
// leftovers named after a killed owner).
func DeadPID(t testing.TB) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// LivePID starts a process that runs until the test ends and returns its id.
func LivePID(t testing.TB) int {
	t.Helper()
	c := exec.Command("sleep", "600")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c.Process.Pid
}

// DirNames returns the sorted names in dir.
func DirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}
