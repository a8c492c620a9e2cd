package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
)

// Issue 11: build steps, end to end through the binary, the Debian archive
// and the Docker Engine.

type stepSummary struct {
	Digest  string `json:"digest"`
	ImageID string `json:"imageID"`
	Size    int64  `json:"size"`
	Layers  []struct {
		Title string   `json:"title"`
		Nodes []string `json:"nodes"`
	} `json:"layers"`
	Steps []struct {
		Name, Key, TreeHash string
		Ran                 bool
	} `json:"steps"`
}

// buildSteps builds dir to an archive with --json and returns the summary
// and the wall time.
func buildSteps(t *testing.T, dir, cache, tag, out string, extra ...string) (stepSummary, time.Duration) {
	t.Helper()
	start := time.Now()
	r := MustRun(t, nil, append([]string{"build", dir, "--cache", cache, "--tag", tag, "-o", out, "--json"}, extra...)...)
	took := time.Since(start)
	var s stepSummary
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("build --json: %v\n%s", err, r.Stdout)
	}
	return s, took
}

func ranSteps(s stepSummary) []string {
	var out []string
	for _, st := range s.Steps {
		if st.Ran {
			out = append(out, st.Name)
		}
	}
	return out
}

// hello-c: gcc in the sandbox; the image gets libc6 from the binary's
// ELF dependencies, runs under Docker; a warm build runs no step and gives
// the same digest.
func TestStepHelloC(t *testing.T) {
	testutil.RequireDocker(t)
	dir := copyExample(t, "hello-c")
	cache := t.TempDir()
	tag := UniqueTag(t, "hello-c")
	tarPath := filepath.Join(t.TempDir(), "hello-c.tar")
	cold, coldTime := buildSteps(t, dir, cache, tag, tarPath)
	if got := ranSteps(cold); strings.Join(got, ",") != "hello" {
		t.Fatalf("cold build ran %v, want [hello]", got)
	}
	var titles []string
	for _, l := range cold.Layers {
		titles = append(titles, l.Title)
	}
	joined := strings.Join(titles, " | ")
	if !strings.Contains(joined, "libc6 ") || strings.Contains(joined, "gcc ") || strings.Contains(joined, "libc6-dev") || !strings.HasSuffix(joined, "/usr/bin/hello") {
		t.Errorf("layers %s: want libc6 (runtime, found from the ELF), no compiler, the app last", joined)
	}
	Cmd(t, "docker", "load", "-i", tarPath)
	if got := Cmd(t, "docker", "run", "--rm", tag); !strings.Contains(got, "Hello from C, built by a strata build step!") {
		t.Errorf("docker run printed %q", got)
	}
	warm, warmTime := buildSteps(t, dir, cache, tag, tarPath)
	if len(ranSteps(warm)) != 0 || warm.Digest != cold.Digest {
		t.Errorf("warm build ran %v (want none), digest %s vs %s", ranSteps(warm), warm.Digest, cold.Digest)
	}
	// why names the chain from the app to libc6.
	why := MustRun(t, nil, "why", dir, "libc6", "--cache", cache)
	if !strings.Contains(why.Stdout, "/usr/bin/hello") || !strings.Contains(why.Stdout, "libc6") {
		t.Errorf("strata why libc6:\n%s", why.Stdout)
	}
	// --check runs the step again: gcc is deterministic.
	MustRun(t, nil, "build", dir, "--cache", cache, "--check", "-o", filepath.Join(t.TempDir(), "c.tar"))
	// verify: the archive is what spec and lock build; an image built from
	// another hello.c is not, and the report names the app's file.
	MustRun(t, nil, "lock", dir, "--cache", cache)
	if r := MustRun(t, nil, "verify", tarPath, dir, "--cache", cache); !strings.Contains(r.Stdout, "verified: the image is what its spec and lock build") {
		t.Errorf("strata verify:\n%s", r.Stdout)
	}
	other := copyExample(t, "hello-c")
	if err := os.WriteFile(filepath.Join(other, "src", "hello.c"), []byte("#include <stdio.h>\nint main(void) { puts(\"changed\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	otherTar := filepath.Join(t.TempDir(), "other.tar")
	MustRun(t, nil, "build", other, "--cache", cache, "-o", otherTar)
	if r := Run(t, nil, "verify", otherTar, dir, "--cache", cache); r.Code != 1 || !strings.Contains(r.Stdout, "DIFFERS: /usr/bin/hello") {
		t.Errorf("verify of another build: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("hello-c: %.1f MiB, cold %s, warm %s, steps run warm: %d", float64(cold.Size)/(1<<20), coldTime.Round(100*time.Millisecond), warmTime.Round(10*time.Millisecond), len(ranSteps(warm)))
}

// go-server: a fixed-output step fetches the module through the host's
// Go proxy settings; the lock records its output hash; the server builds
// offline from it and serves under Docker.
func TestStepGoServer(t *testing.T) {
	testutil.RequireDocker(t)
	dir := copyExample(t, "go-server")
	cache := t.TempDir()
	MustRun(t, nil, "lock", dir, "--cache", cache)
	tag := UniqueTag(t, "go-server")
	tarPath := filepath.Join(t.TempDir(), "go-server.tar")
	cold, coldTime := buildSteps(t, dir, cache, tag, tarPath)
	if got := strings.Join(ranSteps(cold), ","); got != "gomods,server" {
		t.Fatalf("cold build ran %q, want gomods,server", got)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "strata.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lock), `"outputHash"`) || !strings.Contains(string(lock), "build/server") {
		t.Errorf("strata.lock does not record the steps' outputs:\n%s", lock)
	}
	Cmd(t, "docker", "load", "-i", tarPath)
	serveAndCheck(t, tag, "Hello from a strata build step!")
	warm, warmTime := buildSteps(t, dir, cache, tag, tarPath)
	if len(ranSteps(warm)) != 0 || warm.Digest != cold.Digest {
		t.Errorf("warm build ran %v, digest %s vs %s", ranSteps(warm), warm.Digest, cold.Digest)
	}
	// A fresh cache with the lock: the fixed-output step runs again and
	// must give the pinned hash (the module proxy serves the same bytes).
	fresh, _ := buildSteps(t, dir, t.TempDir(), tag, filepath.Join(t.TempDir(), "again.tar"))
	if fresh.Digest != cold.Digest {
		t.Errorf("a fresh cache gave %s, want %s", fresh.Digest, cold.Digest)
	}
	// The step's log is kept.
	if r := MustRun(t, nil, "log", "gomods", dir, "--cache", cache); !strings.Contains(r.Stdout, "uuid") {
		t.Errorf("strata log gomods:\n%s", r.Stdout)
	}
	t.Logf("go-server: %.1f MiB, cold %s, warm %s", float64(cold.Size)/(1<<20), coldTime.Round(100*time.Millisecond), warmTime.Round(10*time.Millisecond))
}

// spa: the talk's demo, a React app bundled by Debian's esbuild and served
// by caddy as non-root.
func TestStepSPA(t *testing.T) {
	testutil.RequireDocker(t)
	dir := copyExample(t, "spa")
	cache := t.TempDir()
	tag := UniqueTag(t, "spa")
	tarPath := filepath.Join(t.TempDir(), "spa.tar")
	cold, coldTime := buildSteps(t, dir, cache, tag, tarPath)
	for _, l := range cold.Layers {
		if strings.Contains(l.Title, "esbuild") || strings.Contains(l.Title, "node-react") || strings.Contains(l.Title, "nodejs") {
			t.Errorf("build tool %s reached the image", l.Title)
		}
	}
	Cmd(t, "docker", "load", "-i", tarPath)
	serveAndCheck(t, tag, "<title>strata spa</title>")
	id := strings.TrimSpace(Cmd(t, "docker", "create", tag))
	defer Cmd(t, "docker", "rm", id)
	js := filepath.Join(t.TempDir(), "app.js")
	Cmd(t, "docker", "cp", id+":/srv/assets/app.js", js)
	b, _ := os.ReadFile(js)
	if !strings.Contains(string(b), "Hello from a strata build step") || strings.Contains(string(b), "import React") {
		t.Errorf("the bundle is not a bundled React app (%d bytes)", len(b))
	}
	warm, warmTime := buildSteps(t, dir, cache, tag, tarPath)
	if len(ranSteps(warm)) != 0 || warm.Digest != cold.Digest {
		t.Errorf("warm build ran %v, digest %s vs %s", ranSteps(warm), warm.Digest, cold.Digest)
	}
	t.Logf("spa: %.1f MiB (the talk: ~22 MB with Nix, ~376 MB multi-stage Dockerfile), cold %s, warm %s", float64(cold.Size)/(1<<20), coldTime.Round(100*time.Millisecond), warmTime.Round(10*time.Millisecond))
}
