package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry/registrytest"
)

// These tests play two machines (two strata processes with separate empty
// caches) sharing one remote cache on Debian's docker-registry.

var cacheSummary = regexp.MustCompile(`remote cache: read from \S+ (\d+) layers, (\d+) step outputs, (\d+) \.debs`)

// fetchedFromRemote returns the counts of the "read from" summary notice.
func fetchedFromRemote(t *testing.T, stderr string) (layers, steps, debs int) {
	t.Helper()
	m := cacheSummary.FindStringSubmatch(stderr)
	if m == nil {
		return 0, 0, 0
	}
	fmt.Sscan(m[1], &layers)
	fmt.Sscan(m[2], &steps)
	fmt.Sscan(m[3], &debs)
	return
}

func keygen(t *testing.T, name string) (key, pub string) {
	t.Helper()
	base := filepath.Join(t.TempDir(), name)
	MustRun(t, nil, "cache", "keygen", base)
	return base + ".key", base + ".pub"
}

// dockerAuth writes a Docker config with credentials for host.
func dockerAuth(t *testing.T, host, user, password string) []string {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"DOCKER_CONFIG=" + dir}
}

func TestRemoteCacheTwoMachinesFiles(t *testing.T) {
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			var env []string
			var host string
			if auth {
				host = registrytest.Start(t, registrytest.WithHtpasswd("ci", "s3cret"))
				env = dockerAuth(t, host, "ci", "s3cret")
			} else {
				host = registrytest.Start(t)
			}
			repo := host + "/strata/cache"
			key, pub := keygen(t, "ci")
			dir := t.TempDir()
			writeFixture(t, dir, false, time.Now())
			a := buildJSON(t, env, "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "a.tar"), "--cache-to", repo, "--cache-sign-key", key)
			// Machine B takes the repository from the environment.
			rb := MustRun(t, append(env, "STRATA_CACHE_FROM="+repo), "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "b.tar"), "--cache-trust", pub, "--json")
			if !strings.Contains(rb.Stdout, fmt.Sprint(a["digest"])) || a["digest"] != goldenFixtureDigest {
				t.Fatalf("machine B %s, machine A %v", rb.Stdout, a["digest"])
			}
			if l, _, _ := fetchedFromRemote(t, rb.Stderr); l != len(a["layers"].([]any)) {
				t.Fatalf("machine B read %d layers from the remote cache, the image has %d:\n%s", l, len(a["layers"].([]any)), rb.Stderr)
			}
			// Machine C takes it from the spec's cache section.
			f, err := os.OpenFile(filepath.Join(dir, "strata.yaml"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "cache:\n  from: [%s]\n", repo)
			f.Close()
			rc := MustRun(t, env, "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "c.tar"), "--cache-trust", pub, "--json")
			if l, _, _ := fetchedFromRemote(t, rc.Stderr); l != len(a["layers"].([]any)) || !strings.Contains(rc.Stdout, fmt.Sprint(a["digest"])) {
				t.Fatalf("machine C (spec cache.from) read %d layers:\n%s\n%s", l, rc.Stdout, rc.Stderr)
			}
		})
	}
}

// Machine B's cold build of a Debian example, after machine A wrote the
// remote cache, reads every layer and .deb from it: its Debian mirror is
// an address nobody answers on, so a download from the archive would fail.
func TestRemoteCacheTwoMachinesDebian(t *testing.T) {
	srv := registrytest.StartServer(t)
	repo := srv.Host + "/strata/cache"
	key, pub := keygen(t, "ci")
	dir := copyExample(t, "hello")
	cacheA, cacheB := t.TempDir(), t.TempDir()
	MustRun(t, nil, "lock", dir, "--cache", cacheA)
	a := buildJSON(t, nil, "build", dir, "--cache", cacheA, "-o", filepath.Join(t.TempDir(), "a.tar"), "--cache-to", repo, "--cache-sign-key", key)
	if _, err := os.Stat(filepath.Join(dir, "strata.lock")); err != nil {
		t.Fatalf("machine A wrote no strata.lock: %v", err)
	}
	dead := []string{"STRATA_DEBIAN_MIRROR=http://127.0.0.1:1/debian", "STRATA_DEBIAN_SECURITY_MIRROR=http://127.0.0.1:1/debian-security"}
	rb := MustRun(t, dead, "build", dir, "--cache", cacheB, "-o", filepath.Join(t.TempDir(), "b.tar"), "--cache-from", repo, "--cache-trust", pub, "--json")
	if !strings.Contains(rb.Stdout, fmt.Sprint(a["digest"])) {
		t.Fatalf("machine B gave %s, machine A %v", rb.Stdout, a["digest"])
	}
	// Every layer hits, so B needs only each package's listing: no .deb
	// is downloaded or unpacked (the mirror is dead anyway).
	layers, _, debs := fetchedFromRemote(t, rb.Stderr)
	if layers != len(a["layers"].([]any)) || debs != 0 {
		t.Fatalf("machine B read %d layers (image: %d) and %d .debs from the remote cache:\n%s", layers, len(a["layers"].([]any)), debs, rb.Stderr)
	}
	var bs struct {
		RemoteCache struct{ Fetched, Made map[string]int } `json:"remoteCache"`
	}
	if err := json.Unmarshal([]byte(rb.Stdout), &bs); err != nil {
		t.Fatal(err)
	}
	if bs.RemoteCache.Fetched["listing"] == 0 || bs.RemoteCache.Fetched["unpacked"] != 0 || len(bs.RemoteCache.Made) != 0 {
		t.Fatalf("machine B's remote cache counts %+v: want package listings only, nothing made", bs.RemoteCache)
	}
	if ents, _ := os.ReadDir(filepath.Join(cacheB, "deb-unpacked")); len(ents) != 0 {
		t.Fatalf("machine B unpacked %d .debs", len(ents))
	}
	if strings.Contains(rb.Stderr, "warning") {
		t.Fatalf("warnings on machine B:\n%s", rb.Stderr)
	}

	// A key B does not trust: every layer is ignored with a warning naming
	// it, the .debs (content-addressed) are still used, and B builds the
	// same image locally.
	_, otherPub := keygen(t, "other")
	rc := MustRun(t, dead, "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "c.tar"), "--cache-from", repo, "--cache-trust", otherPub, "--json")
	if !strings.Contains(rc.Stdout, fmt.Sprint(a["digest"])) {
		t.Fatalf("with an untrusted key: %s, want %v", rc.Stdout, a["digest"])
	}
	if !strings.Contains(rc.Stderr, "ignoring remote cache entry "+repo+":layer-") || !strings.Contains(rc.Stderr, "signed by key ci, which is not trusted") {
		t.Fatalf("no warning naming the untrusted entries:\n%s", rc.Stderr)
	}
	if l, _, d := fetchedFromRemote(t, rc.Stderr); l != 0 || d == 0 {
		t.Fatalf("with an untrusted key B read %d layers and %d .debs", l, d)
	}
}

// The registry goes away while machine B builds: a warning, and the build
// finishes locally with the right digest.
func TestRemoteCacheRegistryDiesMidBuild(t *testing.T) {
	srv := registrytest.StartServer(t)
	proxy := registrytest.NewProxy(t, srv.Host, nil)
	repo := proxy.Host + "/strata/cache"
	key, pub := keygen(t, "ci")
	dir := copyExample(t, "hello")
	a := buildJSON(t, nil, "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "a.tar"), "--cache-to", repo, "--cache-sign-key", key)

	proxy.Reset()
	cmd := exec.Command(Strata(t), "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "b.tar"),
		"--cache-from", repo, "--cache-to", repo, "--cache-trust", pub, "--json")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop the registry once B has made a few requests of it.
	deadline := time.Now().Add(60 * time.Second)
	for proxy.Stats().Requests < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("machine B failed when the registry went away: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), fmt.Sprint(a["digest"])) {
		t.Fatalf("machine B gave %s, want %v", out.String(), a["digest"])
	}
	if !strings.Contains(errb.String(), "warning: remote cache "+repo+" failed, going on without it") {
		t.Fatalf("no warning about the dead remote cache:\n%s", errb.String())
	}
}

// A build step's output comes from the remote cache too: machine B runs
// no step (its cache has no materialized build root) and gives A's digest.
func TestRemoteCacheStepOutput(t *testing.T) {
	testutil.RequireTool(t, "bwrap")
	repo := registrytest.Start(t) + "/strata/cache"
	key, pub := keygen(t, "ci")
	dir := copyExample(t, "hello-c")
	cacheA, cacheB := t.TempDir(), t.TempDir()
	MustRun(t, nil, "lock", dir, "--cache", cacheA)
	a := buildJSON(t, nil, "build", dir, "--cache", cacheA, "-o", filepath.Join(t.TempDir(), "a.tar"), "--cache-to", repo, "--cache-sign-key", key)
	dead := []string{"STRATA_DEBIAN_MIRROR=http://127.0.0.1:1/debian", "STRATA_DEBIAN_SECURITY_MIRROR=http://127.0.0.1:1/debian-security"}
	rb := MustRun(t, dead, "build", dir, "--cache", cacheB, "-o", filepath.Join(t.TempDir(), "b.tar"), "--cache-from", repo, "--cache-trust", pub, "--json")
	if !strings.Contains(rb.Stdout, fmt.Sprint(a["digest"])) {
		t.Fatalf("machine B gave %s, machine A %v\n%s", rb.Stdout, a["digest"], rb.Stderr)
	}
	if _, steps, _ := fetchedFromRemote(t, rb.Stderr); steps != 1 {
		t.Fatalf("machine B read %d step outputs from the remote cache:\n%s", steps, rb.Stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(cacheB, "step-root")); len(ents) != 0 {
		t.Fatalf("machine B materialized a build root (ran the step): %v", ents)
	}
}

// The cache and the images share blobs: machine A's cache entries mount
// the layers of the image it just pushed, and machine B's push mounts
// them from the cache repository instead of uploading them.
func TestRemoteCacheSharesBlobsWithImages(t *testing.T) {
	proxy := registrytest.NewProxy(t, registrytest.Start(t), nil)
	repo := proxy.Host + "/strata/cache"
	key, pub := keygen(t, "ci")
	dir := t.TempDir()
	writeFixture(t, dir, false, time.Now())
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--push", proxy.Host+"/a/fixture:v1", "--cache-to", repo, "--cache-sign-key", key)
	if s := proxy.Stats(); s.Mounts < 2 {
		t.Fatalf("machine A's cache entries mounted %d blobs from its image, want its 2 layers: %+v", s.Mounts, s)
	}
	proxy.Reset()
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--push", proxy.Host+"/b/fixture:v1", "--cache-from", repo, "--cache-trust", pub)
	if s := proxy.Stats(); s.Mounts < 2 {
		t.Fatalf("machine B's push mounted %d layers from the cache repository, want 2: %+v", s.Mounts, s)
	}
}
