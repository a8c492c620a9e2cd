package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A synthetic index holding every package of the fleet, with a shared
// library chain and a required base package.
func writeIndex(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	stanza := func(name, prio, deps string, kib int) {
		fmt.Fprintf(&b, "Package: %s\nVersion: 1.0\nArchitecture: amd64\nPriority: %s\nInstalled-Size: %d\n", name, prio, kib)
		if deps != "" {
			fmt.Fprintf(&b, "Depends: %s\n", deps)
		}
		b.WriteString("\n")
	}
	stanza("libc6", "optional", "libgcc-s1", 12000)
	stanza("libgcc-s1", "optional", "libc6", 200)
	stanza("libssl3", "optional", "libc6", 6000)
	stanza("base-files", "required", "", 400)
	stanza("bash", "required", "libc6, base-files", 7000)
	stanza("libpython3.11", "optional", "libc6, libssl3", 20000)
	stanza("python3", "optional", "libpython3.11", 500)
	stanza("python3-flask", "optional", "python3", 900)
	stanza("python3-django", "optional", "python3", 30000)
	stanza("nginx-light", "optional", "libc6, libssl3", 1500)
	stanza("caddy", "optional", "", 40000)
	stanza("curl", "optional", "libc6, libssl3", 500)
	stanza("ca-certificates", "optional", "libssl3", 400)
	stanza("postgresql-client-15", "optional", "libc6, libssl3", 9000)
	stanza("ruby3.1", "optional", "libc6, libssl3", 15000)
	stanza("nodejs", "optional", "libc6, libssl3", 60000)
	path := filepath.Join(t.TempDir(), "Packages")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunSyntheticIndex(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run([]string{"-packages", writeIndex(t), "-budgets", "2,8"}, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s", err, errs.String())
	}
	text := out.String()
	if !strings.Contains(text, "2 with Priority: required") {
		t.Errorf("required packages not found:\n%s", text)
	}
	// The fleet at budget 8 stores the ideal: every row ends in 100.0%.
	found := false
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "fleet" && f[1] == "8" {
			found = true
			if f[3] != "100.0%" || f[6] != "100.0%" {
				t.Errorf("fleet at budget 8: %q", line)
			}
		}
	}
	if !found {
		t.Errorf("no fleet row for budget 8:\n%s", text)
	}
}

func TestMetrics(t *testing.T) {
	m := metrics{Total: 300, Stored: 200, Ideal: 100}
	if m.Dedup() != 1.5 || m.ShareOfIdeal() != 0.5 {
		t.Errorf("dedup %v share %v", m.Dedup(), m.ShareOfIdeal())
	}
	if (metrics{Total: 10, Stored: 10, Ideal: 10}).ShareOfIdeal() != 1 {
		t.Error("nothing to share should be 100% of the ideal")
	}
}
