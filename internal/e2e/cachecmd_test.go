package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/registry/registrytest"
)

type cacheLs struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
	Kinds   []struct {
		Kind    string `json:"kind"`
		Entries int    `json:"entries"`
	} `json:"kinds"`
	All []struct {
		Kind, Key, Type string
	} `json:"all"`
}

func lsCache(t *testing.T, dir string) cacheLs {
	t.Helper()
	r := MustRun(t, nil, "cache", "ls", "--cache", dir, "--json", "--all")
	var l cacheLs
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		t.Fatalf("cache ls --json: %v\n%s", err, r.Stdout)
	}
	return l
}

func kindCount(l cacheLs, kind string) int {
	for _, k := range l.Kinds {
		if k.Kind == kind {
			return k.Entries
		}
	}
	return 0
}

// cache ls lists what a build left; verify finds a damaged blob (exit 1)
// and --repair removes it; gc --max-size empties the cache.
func TestCacheLsVerifyGC(t *testing.T) {
	cacheDir := t.TempDir()
	dir := t.TempDir()
	writeFixture(t, dir, false, time.Now())
	a := buildJSON(t, nil, "build", dir, "--cache", cacheDir, "-o", filepath.Join(t.TempDir(), "a.tar"))
	l := lsCache(t, cacheDir)
	nl := len(a["layers"].([]any))
	if kindCount(l, "layers") != nl || kindCount(l, "blobs") < nl || l.Bytes == 0 {
		t.Fatalf("cache ls after a build of %d layers: %+v", nl, l)
	}
	mustVerify(t, cacheDir)

	// Damage one layer blob.
	var victim string
	for _, e := range l.All {
		if e.Kind == "blobs" {
			victim = e.Key
			break
		}
	}
	if err := os.WriteFile(filepath.Join(cacheDir, "blobs", "sha256", victim), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Run(t, nil, "cache", "verify", "--cache", cacheDir, "--json")
	var v struct {
		Corrupt []struct{ Kind, Key, Reason string } `json:"corrupt"`
		Removed bool                                 `json:"removed"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil || r.Code != 1 || len(v.Corrupt) == 0 || v.Corrupt[0].Key != victim || v.Removed {
		t.Fatalf("verify of a damaged blob: exit %d %v\n%s", r.Code, err, r.Stdout)
	}
	r = Run(t, nil, "cache", "verify", "--cache", cacheDir, "--repair")
	if r.Code != 0 || !strings.Contains(r.Stdout, "removed") {
		t.Fatalf("verify --repair: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "blobs", "sha256", victim)); !os.IsNotExist(err) {
		t.Fatal("--repair left the damaged blob")
	}
	mustVerify(t, cacheDir)
	// The next build makes the removed entries anew, same digest.
	b := buildJSON(t, nil, "build", dir, "--cache", cacheDir, "-o", filepath.Join(t.TempDir(), "b.tar"))
	if b["digest"] != a["digest"] {
		t.Fatalf("rebuilt %v, first %v", b["digest"], a["digest"])
	}
	mustVerify(t, cacheDir)

	if r := Run(t, nil, "cache", "gc", "--cache", cacheDir, "--max-size", "lots"); r.Code != 2 || !strings.Contains(r.Stderr, "500M") {
		t.Fatalf("gc --max-size lots: exit %d %s", r.Code, r.Stderr)
	}
	MustRun(t, nil, "cache", "gc", "--cache", cacheDir, "--max-size", "1")
	if l := lsCache(t, cacheDir); l.Entries != 0 {
		t.Fatalf("after gc --max-size 1: %+v", l)
	}
}

// cache push warms a remote cache from a local one; cache pull on another
// machine copies it back, after which the build needs nothing else.
func TestCachePushPull(t *testing.T) {
	host := registrytest.Start(t)
	repo := host + "/strata/warm"
	key, pub := keygen(t, "ci")
	dir := t.TempDir()
	writeFixture(t, dir, false, time.Now())
	cacheA, cacheB := t.TempDir(), t.TempDir()
	a := buildJSON(t, nil, "build", dir, "--cache", cacheA, "-o", filepath.Join(t.TempDir(), "a.tar"))
	nl := len(a["layers"].([]any))
	r := MustRun(t, nil, "cache", "push", repo, "--cache", cacheA, "--cache-sign-key", key)
	if !strings.Contains(r.Stdout, "pushed to "+repo+": ") || strings.Contains(r.Stdout, ": 0 layers") {
		t.Fatalf("cache push:\n%s%s", r.Stdout, r.Stderr)
	}
	// Without a trusted key nothing signed is taken.
	r = MustRun(t, nil, "cache", "pull", repo, "--cache", cacheB)
	if kindCount(lsCache(t, cacheB), "layers") != 0 {
		t.Fatalf("pull without --cache-trust took layers:\n%s", r.Stdout)
	}
	r = MustRun(t, nil, "cache", "pull", repo, "--cache", cacheB, "--cache-trust", pub)
	lb := lsCache(t, cacheB)
	if kindCount(lb, "layers") != nl || !strings.Contains(r.Stdout, "pulled from") {
		t.Fatalf("after pull B holds %d layers, the image has %d:\n%s%s", kindCount(lb, "layers"), nl, r.Stdout, r.Stderr)
	}
	// A second push finds everything there.
	r = MustRun(t, nil, "cache", "push", repo, "--cache", cacheA, "--cache-sign-key", key)
	if !strings.Contains(r.Stdout, ": 0 layers, 0 step outputs, 0 .debs, 0 unpacked .debs") {
		t.Fatalf("second push wrote again:\n%s", r.Stdout)
	}
	b := buildJSON(t, nil, "build", dir, "--cache", cacheB, "-o", filepath.Join(t.TempDir(), "b.tar"))
	if b["digest"] != a["digest"] {
		t.Fatalf("B built %v, A %v", b["digest"], a["digest"])
	}
	if l := lsCache(t, cacheB); kindCount(l, "layers") != nl {
		t.Fatalf("B's build made layers of its own: %d records", kindCount(l, "layers"))
	}
}

func mustVerify(t *testing.T, cacheDir string) {
	t.Helper()
	if r := Run(t, nil, "cache", "verify", "--cache", cacheDir); r.Code != 0 {
		t.Fatalf("cache verify: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
