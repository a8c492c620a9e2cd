package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSuiteChoice: a spec naming no suite is locked on trixie (the
// default), on bookworm with STRATA_DEBIAN_SUITE or --suite, and
// strata.lock records the suite used; a spec naming its suite keeps it
// against STRATA_DEBIAN_SUITE and refuses another --suite.
func TestSuiteChoice(t *testing.T) {
	cache := t.TempDir()
	neutral, pinned := t.TempDir(), t.TempDir()
	writeTestFile(t, filepath.Join(neutral, "strata.yaml"), "name: neutral\ndebian: {packages: [libssl3]}\n", false)
	writeTestFile(t, filepath.Join(pinned, "strata.yaml"), "name: pinned\ndebian: {suite: bookworm, packages: [base-files]}\n", false)
	suiteRe := regexp.MustCompile(`"suite": *"([a-z]+)"`)
	locked := func(dir string) (suite string, lock string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "strata.lock"))
		if err != nil {
			t.Fatal(err)
		}
		m := suiteRe.FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("strata.lock records no suite:\n%s", b)
		}
		return m[1], string(b)
	}
	for _, c := range []struct {
		name  string
		env   []string
		flags []string
		want  string
		pkg   string // a package of the closure on that suite
	}{
		{"default", nil, nil, "trixie", `"name": "libssl3t64"`},
		{"env", []string{"STRATA_DEBIAN_SUITE=bookworm"}, nil, "bookworm", `"name": "libssl3"`},
		{"flag over env", []string{"STRATA_DEBIAN_SUITE=bookworm"}, []string{"--suite", "trixie"}, "trixie", `"name": "libssl3t64"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			MustRun(t, c.env, append([]string{"lock", neutral, "--update", "--cache", cache}, c.flags...)...)
			got, lock := locked(neutral)
			if got != c.want || !strings.Contains(lock, c.pkg) {
				t.Errorf("locked on %s, want %s with %s:\n%s", got, c.want, c.pkg, lock)
			}
		})
	}
	MustRun(t, []string{"STRATA_DEBIAN_SUITE=trixie"}, "lock", pinned, "--cache", cache)
	if got, _ := locked(pinned); got != "bookworm" {
		t.Errorf("a spec naming bookworm was locked on %s under STRATA_DEBIAN_SUITE=trixie", got)
	}
	r := Run(t, nil, "lock", pinned, "--suite", "trixie", "--cache", cache)
	if r.Code == 0 || !strings.Contains(r.Stderr, "debian.suite") || !strings.Contains(r.Stderr, "names suite bookworm, but trixie was asked for") {
		t.Errorf("--suite trixie on a spec naming bookworm: exit %d, stderr %s", r.Code, r.Stderr)
	}
}
