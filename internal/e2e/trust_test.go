package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editLock rewrites the debian linux/amd64 section of the lock at path.
func editLock(t *testing.T, path string, edit func(sec map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	sec := f["sources"].(map[string]any)["debian"].(map[string]any)["linux/amd64"].(map[string]any)
	edit(sec)
	out, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDebianLockVerifyAndTrust: `strata lock --verify` passes a lock as
// written and fails, naming each entry, on a hand-edited one; a lock whose
// Release dates lie in the future makes the archive's real Release a
// downgrade, refused by `lock --update` unless --allow-downgrade.
func TestDebianLockVerifyAndTrust(t *testing.T) {
	dir := copyExample(t, "hello")
	lockPath := filepath.Join(dir, "strata.lock")
	cache := t.TempDir()
	MustRun(t, nil, "lock", dir, "--cache", cache)
	r := MustRun(t, nil, "lock", dir, "--verify", "--cache", cache)
	if !strings.Contains(r.Stderr, "are listed by the signed indexes") {
		t.Errorf("lock --verify of a fresh lock: %q", r.Stderr)
	}

	orig, _ := os.ReadFile(lockPath)
	var libc6 string
	editLock(t, lockPath, func(sec map[string]any) {
		pkgs := sec["packages"].([]any)
		for _, p := range pkgs {
			m := p.(map[string]any)
			if m["name"] == "libc6" {
				libc6 = m["version"].(string)
				m["sha256"] = strings.Repeat("ab", 32)
			}
		}
		sec["packages"] = append(pkgs, map[string]any{"name": "backdoor", "version": "1.0", "arch": "amd64", "filename": "pool/main/b/backdoor/backdoor_1.0_amd64.deb", "size": 10, "sha256": strings.Repeat("cd", 32)})
	})
	r = Run(t, nil, "lock", dir, "--verify", "--cache", cache)
	if r.Code != 1 {
		t.Fatalf("lock --verify of a hand-edited lock: exit %d, stderr %q", r.Code, r.Stderr)
	}
	for _, w := range []string{"libc6 " + libc6 + " (amd64): the lock says", "sha256 " + strings.Repeat("ab", 32), "backdoor 1.0 (amd64): no such package version in the signed index of bookworm", "strata lock --update"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr %q does not contain %q", r.Stderr, w)
		}
	}
	if strings.Contains(r.Stderr, "\n  hello ") {
		t.Errorf("the error names hello, which the lock pins correctly: %q", r.Stderr)
	}

	// A lock dated in the future: today's archive is an older Release.
	if err := os.WriteFile(lockPath, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	const future = "Fri, 01 Jan 2100 00:00:00 UTC"
	editLock(t, lockPath, func(sec map[string]any) {
		sec["releaseDate"] = future
		for _, rel := range sec["releases"].([]any) {
			rel.(map[string]any)["date"] = future
		}
	})
	r = Run(t, nil, "lock", dir, "--update", "--cache", cache)
	if r.Code != 1 || !strings.Contains(r.Stderr, "strata.lock records "+future) || !strings.Contains(r.Stderr, "strata lock --update --allow-downgrade") {
		t.Fatalf("lock --update against a lock of 2100: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// Plain lock re-resolves too: refused the same way, and accepted with
	// --allow-downgrade alone.
	dated, _ := os.ReadFile(lockPath)
	if r := Run(t, nil, "lock", dir, "--cache", cache); r.Code != 1 || !strings.Contains(r.Stderr, "strata.lock records "+future) {
		t.Errorf("lock against a lock of 2100: exit %d, stderr %q", r.Code, r.Stderr)
	}
	for _, args := range [][]string{{"--allow-downgrade"}, {"--update", "--allow-downgrade"}} {
		if err := os.WriteFile(lockPath, dated, 0o644); err != nil {
			t.Fatal(err)
		}
		r = MustRun(t, nil, append([]string{"lock", dir, "--cache", cache}, args...)...)
		if !strings.Contains(r.Stderr, "accepting an older signed Release than strata.lock records") {
			t.Errorf("lock %v: no warning in %q", args, r.Stderr)
		}
		if b, _ := os.ReadFile(lockPath); strings.Contains(string(b), future) {
			t.Errorf("lock %v: the lock still records %s", args, future)
		}
	}
}
