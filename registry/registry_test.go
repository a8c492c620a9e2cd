package registry_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/internal/testutil"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/registry/registrytest"
)

// randomLayer is a deterministic random gzip layer of about size bytes.
func randomLayer(t testing.TB, size int64, seed int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf builds a linux image for arch from layers.
func imageOf(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func compressedSize(t testing.TB, ls ...v1.Layer) int64 {
	t.Helper()
	var n int64
	for _, l := range ls {
		s, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		n += s
	}
	return n
}

func configSize(t testing.TB, img v1.Image) int64 {
	t.Helper()
	b, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b))
}

func push(t testing.TB, ref string, img v1.Image, idx v1.ImageIndex, opt registry.Options) v1.Hash {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := registry.Push(ctx, ref, img, idx, opt)
	if err != nil {
		t.Fatalf("Push(%s): %v", ref, err)
	}
	return h
}

func crane(t testing.TB, args ...string) string {
	t.Helper()
	bin := testutil.RequireTool(t, "crane")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestParseReference(t *testing.T) {
	for _, ref := range []string{"127.0.0.1:5000/app:1", "localhost:5000/app", "[::1]:5000/app", "http://127.0.0.1:5000/app"} {
		r, err := registry.ParseReference(ref, registry.Options{})
		if err != nil {
			t.Fatalf("ParseReference(%q): %v", ref, err)
		}
		if got := r.Context().Scheme(); got != "http" {
			t.Errorf("ParseReference(%q) scheme = %s, want http (loopback)", ref, got)
		}
	}
	r, err := registry.ParseReference("registry.example:5000/app:1", registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Context().Scheme() != "https" {
		t.Errorf("non-loopback scheme = %s, want https", r.Context().Scheme())
	}
	_, err = registry.ParseReference("http://registry.example:5000/app", registry.Options{})
	if err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("plain HTTP to a non-loopback registry: err = %v, want one naming --insecure", err)
	}
	r, err = registry.ParseReference("http://registry.example:5000/app", registry.Options{Insecure: true})
	if err != nil || r.Context().Scheme() != "http" {
		t.Errorf("with Insecure: %v, %v", r, err)
	}
	if _, err := registry.ParseReference("Not A Ref!", registry.Options{}); err == nil {
		t.Error("a malformed reference parsed")
	}
	for in, want := range map[string]bool{"127.0.0.1:80": true, "127.3.2.1": true, "localhost:1": true, "[::1]:5000": true, "10.0.0.1:5000": false, "192.168.1.1": false, "example.test": false} {
		if got := registry.IsLoopback(in); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", in, got, want)
		}
	}
}

// A private-network registry would get plain HTTP from go-containerregistry
// on its own; strata refuses that without --insecure.
func TestPlainHTTPRefusedForPrivateNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Tests talk to loopback only: this transport dials nothing and records
	// what it was asked for. HTTPS then fails to connect, and the plain-HTTP
	// fallback go-containerregistry tries for private addresses must be
	// refused before it reaches the dialer.
	var mu sync.Mutex
	var dialed []string
	tr := &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return nil, errors.New("test transport: no network")
	}}
	_, _, err := registry.Pull(ctx, "10.255.255.1:5000/app:1", registry.Options{Transport: tr, Retries: -1})
	if err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("err = %v, want one naming --insecure", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range dialed {
		if a != "10.255.255.1:5000" {
			t.Fatalf("dialed %s", a)
		}
	}
	t.Logf("%d HTTPS dial attempts (refused by the test transport); %v", len(dialed), err)
}

func TestPushPullValidate(t *testing.T) {
	host := registrytest.Start(t)
	img := imageOf(t, "amd64", randomLayer(t, 3000, 1), randomLayer(t, 5000, 2))
	want, _ := img.Digest()
	ref := host + "/strata-test/app:v1"
	got := push(t, ref, img, nil, registry.Options{})
	if got != want {
		t.Fatalf("pushed digest %s, want %s", got, want)
	}
	crane(t, "validate", "--remote", ref)
	if d := strings.TrimSpace(crane(t, "digest", ref)); d != want.String() {
		t.Fatalf("crane digest %s, want %s", d, want)
	}
	pimg, pidx, err := registry.Pull(context.Background(), ref, registry.Options{})
	if err != nil || pidx != nil || pimg == nil {
		t.Fatalf("Pull: %v %v %v", pimg, pidx, err)
	}
	if d, _ := pimg.Digest(); d != want {
		t.Fatalf("pulled digest %s, want %s", d, want)
	}
	if _, _, err := registry.Pull(context.Background(), host+"/strata-test/missing:v1", registry.Options{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("pulling a missing image: %v", err)
	}
}

func TestPushSkipsWhatIsThere(t *testing.T) {
	host := registrytest.Start(t)
	proxy := registrytest.NewProxy(t, host, nil)
	l1, l2, l3 := randomLayer(t, 20000, 11), randomLayer(t, 30000, 12), randomLayer(t, 40000, 13)
	img := imageOf(t, "amd64", l1, l2, l3)
	ref := proxy.Host + "/strata-test/skip:v1"

	push(t, ref, img, nil, registry.Options{})
	first := proxy.Stats()
	if want := compressedSize(t, l1, l2, l3) + configSize(t, img); first.BlobBytes != want {
		t.Fatalf("first push uploaded %d blob bytes, want %d", first.BlobBytes, want)
	}

	proxy.Reset()
	push(t, ref, img, nil, registry.Options{})
	if s := proxy.Stats(); s.BlobBytes != 0 || s.BlobUploads != 0 || s.ManifestPuts != 0 {
		t.Fatalf("second push of the same image uploaded %d bytes in %d sessions and %d manifests, want none", s.BlobBytes, s.BlobUploads, s.ManifestPuts)
	}

	proxy.Reset()
	l2b := randomLayer(t, 30000, 99)
	img2 := imageOf(t, "amd64", l1, l2b, l3)
	push(t, host+"/strata-test/skip:v2", img2, nil, registry.Options{}) // direct, to compare digests
	proxy.Reset()
	d := push(t, proxy.Host+"/strata-test/skip:v3", img2, nil, registry.Options{})
	// The tag is new, so the manifest is put, but every blob is found by
	// HEAD first: 3 layers and the config.
	if s := proxy.Stats(); s.BlobBytes != 0 || s.BlobHeads < 4 || s.ManifestPuts != 1 {
		t.Fatalf("pushing a present image under a new tag: %d bytes uploaded, %d blob HEADs, %d manifest PUTs; want 0, >=4, 1", s.BlobBytes, s.BlobHeads, s.ManifestPuts)
	}
	if want, _ := img2.Digest(); d != want {
		t.Fatalf("digest %s want %s", d, want)
	}

	// Now through the proxy, an image that changes one layer only.
	proxy.Reset()
	l3b := randomLayer(t, 40000, 100)
	img3 := imageOf(t, "amd64", l1, l2, l3b)
	push(t, ref, img3, nil, registry.Options{})
	s := proxy.Stats()
	if want := compressedSize(t, l3b) + configSize(t, img3); s.BlobBytes != want {
		t.Fatalf("changing one layer uploaded %d bytes, want %d (that layer and the config)", s.BlobBytes, want)
	}
	if s.BlobUploads != 2 {
		t.Fatalf("changing one layer started %d uploads, want 2", s.BlobUploads)
	}
	t.Logf("first push %d bytes; repeat 0; one layer changed %d bytes", first.BlobBytes, s.BlobBytes)
}

func TestPushMountsFromOtherRepositories(t *testing.T) {
	host := registrytest.Start(t)
	proxy := registrytest.NewProxy(t, host, nil)
	img := imageOf(t, "amd64", randomLayer(t, 20000, 21), randomLayer(t, 20000, 22))
	hist := filepath.Join(t.TempDir(), "cache", "push-history.json")

	push(t, proxy.Host+"/team/base:v1", img, nil, registry.Options{History: hist})
	b, err := os.ReadFile(hist)
	if err != nil || !strings.Contains(string(b), "team/base") {
		t.Fatalf("push history: %s %v", b, err)
	}

	// Explicit --mount-from, without history.
	proxy.Reset()
	push(t, proxy.Host+"/team/app:v1", img, nil, registry.Options{MountFrom: []string{"team/base"}})
	s := proxy.Stats()
	if s.BlobBytes != 0 || s.Mounts != 3 {
		t.Fatalf("push with --mount-from: %d bytes uploaded, %d mounts; want 0 bytes and 3 mounts (2 layers + config)", s.BlobBytes, s.Mounts)
	}

	// From the history alone.
	proxy.Reset()
	push(t, proxy.Host+"/other/svc:v1", img, nil, registry.Options{History: hist})
	s = proxy.Stats()
	if s.BlobBytes != 0 || s.Mounts != 3 {
		t.Fatalf("push with history: %d bytes uploaded, %d mounts; want 0 bytes and 3 mounts", s.BlobBytes, s.Mounts)
	}
	b, _ = os.ReadFile(hist)
	var rec struct {
		Registries map[string][]string `json:"registries"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if got := rec.Registries[proxy.Host]; len(got) != 2 || got[0] != "other/svc" || got[1] != "team/base" {
		t.Fatalf("history for %s = %v, want [other/svc team/base]", proxy.Host, got)
	}
	crane(t, "validate", "--remote", host+"/other/svc:v1")
}

func TestPushIndex(t *testing.T) {
	host := registrytest.Start(t)
	shared := randomLayer(t, 10000, 31)
	amd := imageOf(t, "amd64", shared, randomLayer(t, 10000, 32))
	arm := imageOf(t, "arm64", shared, randomLayer(t, 10000, 33))
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref := host + "/strata-test/multi:v1"
	d := push(t, ref, nil, idx, registry.Options{})
	if want, _ := idx.Digest(); d != want {
		t.Fatalf("index digest %s want %s", d, want)
	}
	var m v1.IndexManifest
	if err := json.Unmarshal([]byte(crane(t, "manifest", ref)), &m); err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, desc := range m.Manifests {
		if desc.Platform != nil {
			plats = append(plats, desc.Platform.String())
		}
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("crane manifest platforms = %v", plats)
	}
	crane(t, "validate", "--remote", ref)
	_, pidx, err := registry.Pull(context.Background(), ref, registry.Options{})
	if err != nil || pidx == nil {
		t.Fatalf("Pull index: %v %v", pidx, err)
	}

	// The same index into another repository mounts every blob: the
	// shared layer, two own layers, two configs.
	proxy := registrytest.NewProxy(t, host, nil)
	d2 := push(t, proxy.Host+"/strata-test/multi-copy:v1", nil, idx, registry.Options{MountFrom: []string{"strata-test/multi"}})
	if d2 != d {
		t.Fatalf("copy digest %s want %s", d2, d)
	}
	if s := proxy.Stats(); s.BlobBytes != 0 || s.Mounts != 5 || s.ManifestPuts != 3 {
		t.Fatalf("index copy: %d bytes, %d mounts, %d manifest PUTs; want 0, 5, 3", s.BlobBytes, s.Mounts, s.ManifestPuts)
	}
	crane(t, "validate", "--remote", host+"/strata-test/multi-copy:v1")
}

func TestPushSurvivesFaults(t *testing.T) {
	host := registrytest.Start(t)
	proxy := registrytest.NewProxy(t, host, &registrytest.Faults{Seed: 42, Drop: 0.10, Unavailable: 0.10})
	var layers []v1.Layer
	for i := range 6 {
		layers = append(layers, randomLayer(t, 50000, int64(40+i)))
	}
	img := imageOf(t, "amd64", layers...)
	want, _ := img.Digest()
	d := push(t, proxy.Host+"/strata-test/flaky:v1", img, nil, registry.Options{RetryDelay: 20 * time.Millisecond, Retries: 6})
	if d != want {
		t.Fatalf("digest %s want %s", d, want)
	}
	s := proxy.Stats()
	if s.Dropped == 0 || s.Unavailable == 0 {
		t.Fatalf("no faults were injected (%+v): the test proves nothing", s)
	}
	t.Logf("faults: %d dropped, %d answered 503, of %d requests", s.Dropped, s.Unavailable, s.Requests)
	crane(t, "validate", "--remote", host+"/strata-test/flaky:v1")
	if got := strings.TrimSpace(crane(t, "digest", host+"/strata-test/flaky:v1")); got != want.String() {
		t.Fatalf("registry holds %s, want %s", got, want)
	}
}

func TestPushRegistryDown(t *testing.T) {
	img := imageOf(t, "amd64", randomLayer(t, 1000, 51))

	t.Run("always503", func(t *testing.T) {
		host := registrytest.Start(t)
		proxy := registrytest.NewProxy(t, host, &registrytest.Faults{Seed: 1, Unavailable: 1})
		start := time.Now()
		_, err := registry.Push(context.Background(), proxy.Host+"/strata-test/down:v1", img, nil, registry.Options{Retries: 2, RetryDelay: 10 * time.Millisecond})
		if err == nil {
			t.Fatal("push to a registry answering 503 succeeded")
		}
		msg := err.Error()
		if !strings.Contains(msg, proxy.Host) || !strings.Contains(msg, "503") {
			t.Fatalf("error does not name the registry and the status: %v", err)
		}
		// Bounded: the ping is retried at most 1+2 times.
		if n := proxy.Stats().Requests; n > 3*4 {
			t.Fatalf("%d requests to a registry that stays down, want a small bound", n)
		}
		t.Logf("gave up after %d requests in %v: %v", proxy.Stats().Requests, time.Since(start), err)
	})

	t.Run("nothingListening", func(t *testing.T) {
		host := registrytest.Start(t) // a free port once the helper stops it
		_ = host
		dead := deadAddress(t)
		_, err := registry.Push(context.Background(), dead+"/strata-test/down:v1", img, nil, registry.Options{RetryDelay: 10 * time.Millisecond})
		if err == nil {
			t.Fatal("push to nothing succeeded")
		}
		if !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "does not answer") {
			t.Fatalf("unclear error: %v", err)
		}
		t.Log(err)
	})

	t.Run("defaultsAreBounded", func(t *testing.T) {
		host := registrytest.Start(t)
		proxy := registrytest.NewProxy(t, host, &registrytest.Faults{Seed: 1, Unavailable: 1})
		start := time.Now()
		_, err := registry.Push(context.Background(), proxy.Host+"/strata-test/down:v1", img, nil, registry.Options{})
		if err == nil {
			t.Fatal("push succeeded")
		}
		t.Logf("default options gave up after %d requests in %v", proxy.Stats().Requests, time.Since(start))
		if n := proxy.Stats().Requests; n > 4*4 {
			t.Fatalf("%d requests with the default retries", n)
		}
	})
}

// deadAddress returns a loopback address where nothing listens.
func deadAddress(t testing.TB) string {
	t.Helper()
	p := registrytest.NewProxy(t, "127.0.0.1:1", nil)
	return strings.Replace(p.Host, "127.0.0.1", "127.0.0.2", 1)
}

func TestPushWithCredentials(t *testing.T) {
	host := registrytest.Start(t, registrytest.WithHtpasswd("strata", "s3cret"))
	img := imageOf(t, "amd64", randomLayer(t, 2000, 61))
	ref := host + "/strata-test/private:v1"

	writeDockerConfig := func(user, pass string) {
		dir := t.TempDir()
		cfg := map[string]any{"auths": map[string]any{host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
		}}}
		b, _ := json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dir)
	}

	// No credentials at all.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err := registry.Push(context.Background(), ref, img, nil, registry.Options{RetryDelay: 10 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "none are configured") || !strings.Contains(err.Error(), "docker login "+host) {
		t.Fatalf("anonymous push: %v, want an error naming docker login", err)
	}

	writeDockerConfig("strata", "wrong")
	_, err = registry.Push(context.Background(), ref, img, nil, registry.Options{RetryDelay: 10 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), host) {
		t.Fatalf("wrong credentials: %v, want a clear error naming the registry", err)
	}
	t.Log(err)

	writeDockerConfig("strata", "s3cret")
	d := push(t, ref, img, nil, registry.Options{})
	if want, _ := img.Digest(); d != want {
		t.Fatalf("digest %s want %s", d, want)
	}
	pimg, _, err := registry.Pull(context.Background(), ref, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pimg.Digest(); got != d {
		t.Fatalf("pulled %s want %s", got, d)
	}

	// A credential helper named in config.json (docker-credential-NAME on
	// PATH) supplies the credentials.
	bin := t.TempDir()
	helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"strata\",\"Secret\":\"s3cret\"}' \"$server\"\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-strata-test"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfgDir := t.TempDir()
	b, _ := json.Marshal(map[string]any{"credHelpers": map[string]string{host: "strata-test"}})
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)
	img2 := imageOf(t, "amd64", randomLayer(t, 2000, 62))
	if _, err := registry.Push(context.Background(), host+"/strata-test/private:helper", img2, nil, registry.Options{}); err != nil {
		t.Fatalf("push with a credential helper: %v", err)
	}
}

func TestPushProgress(t *testing.T) {
	host := registrytest.Start(t)
	img := imageOf(t, "amd64", randomLayer(t, 30000, 71))
	var buf strings.Builder
	ref := host + "/strata-test/progress:v1"
	push(t, ref, img, nil, registry.Options{Progress: &buf})
	out := buf.String()
	// Not a terminal: one summary line, no carriage returns.
	if strings.Count(out, "\n") != 1 || strings.Contains(out, "\r") || !strings.HasPrefix(out, "pushed "+ref+"  ") {
		t.Fatalf("progress output %q, want one summary line", out)
	}
	if !strings.Contains(out, "KiB") {
		t.Fatalf("progress output %q does not count the bytes", out)
	}
	// Quiet when nil: covered by every other test; a failing push says so.
	buf.Reset()
	_, err := registry.Push(context.Background(), deadAddress(t)+"/x/y:z", img, nil, registry.Options{Progress: &buf, Retries: -1})
	if err == nil || !strings.HasPrefix(buf.String(), "push failed ") {
		t.Fatalf("failed push: %v, progress %q", err, buf.String())
	}
}

func TestPushThenDockerRun(t *testing.T) {
	testutil.RequireDocker(t)
	host := registrytest.Start(t)
	img := registrytest.BusyboxImage(t, "echo", "pushed-ok")
	ref := host + "/strata-test/run:v1"
	push(t, ref, img, nil, registry.Options{})
	crane(t, "validate", "--remote", ref)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	if out, err := exec.Command("docker", "pull", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker pull %s: %v\n%s", ref, err, out)
	}
	out, err := exec.Command("docker", "run", "--rm", ref).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "pushed-ok" {
		t.Fatalf("docker run printed %q, want pushed-ok", out)
	}
}
