package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stratabuild/strata/internal/testutil"
	"pault.ag/go/debian/control"
)

// These tests build the Debian examples against the real archive named by
// the host's apt sources and run them under the Docker Engine. Each test has
// its own cache unless it shares one on purpose (warm builds).

// copyExample copies examples/NAME into a temp folder, so that tests never
// write into the repository (strata lock writes next to the spec).
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(RepoRoot(), "examples", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "strata.lock" {
			return nil
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying example %s: %v", name, err)
	}
	return dst
}

// buildAndLoad builds the spec folder dir into a docker-archive with a
// fresh cache, loads it under a unique tag and returns the tag.
func buildAndLoad(t *testing.T, dir, name string) string {
	t.Helper()
	testutil.RequireDocker(t)
	tag := UniqueTag(t, name)
	tarPath := filepath.Join(t.TempDir(), name+".tar")
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--tag", tag, "-o", tarPath)
	Cmd(t, "docker", "load", "-i", tarPath)
	return tag
}

func TestDebianHelloRuns(t *testing.T) {
	tag := buildAndLoad(t, copyExample(t, "hello"), "deb-hello")
	if got := Cmd(t, "docker", "run", "--rm", tag); !strings.Contains(got, "Hello, world!") {
		t.Errorf("docker run %s printed %q, want Hello, world!", tag, got)
	}
}

func TestDebianPythonRuns(t *testing.T) {
	tag := buildAndLoad(t, copyExample(t, "python"), "deb-python")
	// main.py hashes this canonical JSON with hashlib; the test hashes the
	// same bytes, so the line proves json and hashlib ran.
	doc := `{"built-by":"strata","image":"python","layers":"one per package"}`
	sum := sha256.Sum256([]byte(doc))
	want := "strata python example: sha256(" + doc + ") = " + hex.EncodeToString(sum[:])
	got := Cmd(t, "docker", "run", "--rm", tag)
	if !strings.Contains(got, want) {
		t.Errorf("docker run printed %q, want the line %q", got, want)
	}
	if user := strings.TrimSpace(Cmd(t, "docker", "image", "inspect", "-f", "{{.Config.User}}", tag)); user != "65532" {
		t.Errorf("image user %q, want 65532", user)
	}
}

func TestDebianCaddySiteServes(t *testing.T) {
	tag := buildAndLoad(t, copyExample(t, "caddy-site"), "deb-caddy")
	serveAndCheck(t, tag, "strata-caddy-site-marker")
}

func TestDebianNginxSiteServes(t *testing.T) {
	tag := buildAndLoad(t, copyExample(t, "nginx-site"), "deb-nginx")
	serveAndCheck(t, tag, "strata-nginx-site-marker")
}

// serveAndCheck runs tag detached with its port 8080 published on a free
// loopback port, then GETs / until the page holds marker (at most ~20s).
func serveAndCheck(t *testing.T, tag, marker string) {
	t.Helper()
	id := strings.TrimSpace(Cmd(t, "docker", "run", "-d", "-p", "127.0.0.1:0:8080", tag))
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", id).CombinedOutput()
			t.Logf("container logs:\n%s", logs)
		}
		exec.Command("docker", "stop", "-t", "2", id).Run()
		exec.Command("docker", "rm", "-f", id).Run()
	})
	addr, _, _ := strings.Cut(strings.TrimSpace(Cmd(t, "docker", "port", id, "8080/tcp")), "\n")
	addr = strings.TrimSpace(addr)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("docker port printed %q, want 127.0.0.1:PORT", addr)
	}
	if user := strings.TrimSpace(Cmd(t, "docker", "inspect", "-f", "{{.Config.User}}", id)); user != "65532" && user != "nonroot" {
		t.Errorf("container user %q, want 65532 (nonroot)", user)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for attempt := 0; time.Now().Before(deadline) && attempt < 60; attempt++ {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			last = err.Error()
			time.Sleep(300 * time.Millisecond)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(body), marker) {
			return
		}
		last = fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body)
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("GET http://%s/ never served %q within 20s; last: %s", addr, marker, last)
}

// lockPackages reads the debian packages of platform plat from a
// strata.lock, as "name=version".
func lockPackages(t *testing.T, lockPath, plat string) []string {
	t.Helper()
	b, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var lf struct {
		Sources map[string]map[string]struct {
			Packages []struct{ Name, Version string }
		}
	}
	if err := json.Unmarshal(b, &lf); err != nil {
		t.Fatalf("reading %s: %v", lockPath, err)
	}
	sec, ok := lf.Sources["debian"][plat]
	if !ok || len(sec.Packages) == 0 {
		t.Fatalf("%s has no debian packages for %s:\n%s", lockPath, plat, b)
	}
	var out []string
	for _, p := range sec.Packages {
		out = append(out, p.Name+"="+p.Version)
	}
	sort.Strings(out)
	return out
}

// imageFiles flattens a docker-archive's layers and returns the regular
// files whose path starts with prefix (no leading slash), by path.
func imageFiles(t *testing.T, tarPath, prefix string) map[string][]byte {
	t.Helper()
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatalf("reading %s: %v", tarPath, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the layers of %s: %v", tarPath, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "/")
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(name, prefix) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// statusPackages parses every var/lib/dpkg/status.d entry of an image as
// one dpkg control paragraph and returns "Package=Version", sorted.
func statusPackages(t *testing.T, tarPath string) []string {
	t.Helper()
	files := imageFiles(t, tarPath, "var/lib/dpkg/status.d/")
	var out []string
	for name, b := range files {
		if strings.HasSuffix(name, ".md5sums") {
			continue
		}
		r, err := control.NewParagraphReader(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		paras, err := r.All()
		if err != nil {
			t.Fatalf("%s does not parse as a dpkg control file: %v\n%s", name, err, b)
		}
		if len(paras) != 1 {
			t.Fatalf("%s holds %d paragraphs, want 1:\n%s", name, len(paras), b)
		}
		p := paras[0]
		if p.Values["Package"] == "" || p.Values["Version"] == "" || p.Values["Architecture"] == "" {
			t.Errorf("%s lacks Package, Version or Architecture:\n%s", name, b)
		}
		if p.Values["Status"] != "install ok installed" {
			t.Errorf("%s: Status %q, want install ok installed", name, p.Values["Status"])
		}
		out = append(out, p.Values["Package"]+"="+p.Values["Version"])
	}
	sort.Strings(out)
	return out
}

// Locking twice gives the same bytes; a fresh cache builds the same digest
// from the lock; --frozen holds the lock to the spec.
func TestDebianLockReproducible(t *testing.T) {
	dir := copyExample(t, "hello")
	lockPath := filepath.Join(dir, "strata.lock")
	out := t.TempDir()

	first := buildJSON(t, nil, "build", dir, "--cache", t.TempDir(), "-o", filepath.Join(out, "first.tar"))
	if _, err := os.Stat(lockPath); err == nil {
		t.Fatalf("build wrote %s; only strata lock should", lockPath)
	}

	MustRun(t, nil, "lock", dir, "--cache", t.TempDir())
	lock1, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatalf("strata lock wrote no lock: %v", err)
	}
	MustRun(t, nil, "lock", dir, "--cache", t.TempDir())
	lock2, _ := os.ReadFile(lockPath)
	if !bytes.Equal(lock1, lock2) {
		t.Fatalf("two locks differ:\n%s\n---\n%s", lock1, lock2)
	}
	pkgs := lockPackages(t, lockPath, "linux/amd64")
	for _, want := range []string{"hello=", "libc6="} {
		if !slices.ContainsFunc(pkgs, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("lock lacks %s: %v", strings.TrimSuffix(want, "="), pkgs)
		}
	}

	fromLock := buildJSON(t, nil, "build", dir, "--cache", t.TempDir(), "--frozen", "-o", filepath.Join(out, "locked.tar"))
	if fromLock["digest"] != first["digest"] {
		t.Errorf("build from the lock in a fresh cache: digest %v, the first build %v", fromLock["digest"], first["digest"])
	}

	// Change debian.packages: the lock no longer fits.
	specPath := filepath.Join(dir, "strata.yaml")
	spec, _ := os.ReadFile(specPath)
	changed := strings.Replace(string(spec), "packages: [hello]", "packages: [hello, zlib1g]", 1)
	if changed == string(spec) {
		t.Fatalf("examples/hello/strata.yaml has no `packages: [hello]` line to change:\n%s", spec)
	}
	if err := os.WriteFile(specPath, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Run(t, nil, "build", dir, "--cache", t.TempDir(), "--frozen", "-o", filepath.Join(out, "frozen.tar"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "strata lock --update") {
		t.Errorf("--frozen after changing debian.packages: exit %d, stderr %q; want exit 1 naming `strata lock --update`", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "frozen.tar")); err == nil {
		t.Error("the failed --frozen build wrote its output")
	}
	if after, _ := os.ReadFile(lockPath); !bytes.Equal(after, lock1) {
		t.Error("a --frozen build changed strata.lock")
	}
}

// offlineMirror is a loopback address where nothing listens: a build that
// needs the archive fails fast against it.
const offlineMirror = "STRATA_DEBIAN_MIRROR=http://127.0.0.1:1/debian"

// With a lock and a warm cache, a rebuild needs no archive at all and
// writes the same bytes; the same build in an empty cache does need it (so
// the mirror override is honoured and the first check is not vacuous).
func TestDebianWarmBuildOffline(t *testing.T) {
	dir, out := copyExample(t, "hello"), t.TempDir()
	cache := t.TempDir() // shared on purpose: the second build is warm
	MustRun(t, nil, "lock", dir, "--cache", cache)
	cold := filepath.Join(out, "cold.tar")
	MustRun(t, nil, "build", dir, "--cache", cache, "--frozen", "-o", cold)
	warm := filepath.Join(out, "warm.tar")
	r := Run(t, []string{offlineMirror}, "build", dir, "--cache", cache, "--frozen", "-o", warm)
	if r.Code != 0 {
		t.Fatalf("warm build with the lock reached for the archive: exit %d\n%s", r.Code, r.Stderr)
	}
	b1, _ := os.ReadFile(cold)
	b2, _ := os.ReadFile(warm)
	if len(b1) == 0 || !bytes.Equal(b1, b2) {
		t.Errorf("warm rebuild wrote different bytes (%d vs %d)", len(b1), len(b2))
	}
	r = Run(t, []string{offlineMirror}, "build", dir, "--cache", t.TempDir(), "--frozen", "-o", filepath.Join(out, "empty.tar"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "127.0.0.1:1") {
		t.Errorf("build in an empty cache against a dead mirror: exit %d, stderr %q; want exit 1 naming the mirror", r.Code, r.Stderr)
	}
}

// lockedPython locks a copy of examples/python and builds it --frozen into
// a docker-archive; it returns the archive and the locked packages.
func lockedPython(t *testing.T) (string, []string) {
	t.Helper()
	dir := copyExample(t, "python")
	cache := t.TempDir()
	MustRun(t, nil, "lock", dir, "--cache", cache)
	locked := lockPackages(t, filepath.Join(dir, "strata.lock"), "linux/amd64")
	tarPath := filepath.Join(t.TempDir(), "python.tar")
	MustRun(t, nil, "build", dir, "--cache", cache, "--frozen", "-o", tarPath)
	return tarPath, locked
}

// The image's dpkg status.d parses as control paragraphs, one per locked
// package, with exactly the locked names and versions.
func TestDebianStatusMatchesLock(t *testing.T) {
	tarPath, locked := lockedPython(t)
	got := statusPackages(t, tarPath)
	if !slices.Equal(got, locked) {
		t.Errorf("status.d packages differ from the lock:\nstatus.d: %v\nlock:     %v", got, locked)
	}
	for _, p := range got {
		if strings.HasPrefix(p, "dpkg=") {
			t.Errorf("status.d lists %s, which the example excludes", p)
		}
	}
}

// syft, reading the image the way scanners do, finds exactly the locked
// Debian packages.
func TestDebianSyftMatchesLock(t *testing.T) {
	syft := testutil.RequireTool(t, "syft")
	tarPath, locked := lockedPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, syft, "docker-archive:"+tarPath, "-o", "json", "-q")
	cmd.Env = append(os.Environ(), "SYFT_CHECK_FOR_APP_UPDATE=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("syft: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Artifacts []struct{ Name, Version, Type string }
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("syft -o json: %v", err)
	}
	var debs []string
	for _, a := range doc.Artifacts {
		if a.Type == "deb" {
			debs = append(debs, a.Name+"="+a.Version)
		}
	}
	sort.Strings(debs)
	if !slices.Equal(debs, locked) {
		t.Errorf("syft's deb packages differ from the lock:\nsyft: %v\nlock: %v", debs, locked)
	}
}

// ociDescriptor is the part of an OCI descriptor the tests read.
type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

func readOCIJSON(t *testing.T, layout, digest string, v any) {
	t.Helper()
	algo, hexd, ok := strings.Cut(digest, ":")
	if !ok {
		t.Fatalf("bad digest %q", digest)
	}
	b, err := os.ReadFile(filepath.Join(layout, "blobs", algo, hexd))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("blob %s: %v", digest, err)
	}
}

// elfMachine finds file (no leading slash) in an OCI image's layers and
// returns its ELF machine.
func elfMachine(t *testing.T, layout, manifestDigest, file string) elf.Machine {
	t.Helper()
	var m struct {
		Layers []ociDescriptor `json:"layers"`
	}
	readOCIJSON(t, layout, manifestDigest, &m)
	for _, l := range m.Layers {
		algo, hexd, _ := strings.Cut(l.Digest, ":")
		f, err := os.Open(filepath.Join(layout, "blobs", algo, hexd))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(l.MediaType, "+gzip") || strings.HasSuffix(l.MediaType, ".gzip") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			r = zr
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			if strings.TrimPrefix(path.Clean(h.Name), "/") != file || h.Typeflag != tar.TypeReg {
				continue
			}
			b, err := io.ReadAll(tr)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elf.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s is not an ELF file: %v", file, err)
			}
			return ef.Machine
		}
		f.Close()
	}
	t.Fatalf("no layer of %s holds %s", manifestDigest, file)
	return 0
}

// A two-platform spec writes an OCI index with both platforms, each with
// binaries of its own architecture; a docker-archive refuses it.
func TestDebianMultiArch(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	spec := "name: hello-multi\nplatforms: [linux/amd64, linux/arm64]\ndebian:\n  suite: bookworm\n  packages: [hello]\nconfig:\n  entrypoint: [/usr/bin/hello]\n"
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	layout := filepath.Join(out, "oci")
	res := buildJSON(t, nil, "build", dir, "--cache", cache, "--oci", layout)

	var top struct {
		Manifests []ociDescriptor `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json should point to one image index:\n%s", b)
	}
	if top.Manifests[0].Digest != res["digest"] {
		t.Errorf("index digest %s, build --json says %v", top.Manifests[0].Digest, res["digest"])
	}
	var nested struct {
		Manifests []ociDescriptor `json:"manifests"`
	}
	readOCIJSON(t, layout, top.Manifests[0].Digest, &nested)
	byArch := map[string]string{}
	for _, m := range nested.Manifests {
		if m.Platform == nil || m.Platform.OS != "linux" {
			t.Errorf("nested index entry %s has platform %+v, want linux/...", m.Digest, m.Platform)
			continue
		}
		byArch[m.Platform.Architecture] = m.Digest
	}
	if len(nested.Manifests) != 2 || byArch["amd64"] == "" || byArch["arm64"] == "" {
		t.Fatalf("nested index has %d manifests %v, want linux/amd64 and linux/arm64", len(nested.Manifests), byArch)
	}
	if m := elfMachine(t, layout, byArch["arm64"], "usr/bin/hello"); m != elf.EM_AARCH64 {
		t.Errorf("arm64 image's /usr/bin/hello is %v, want EM_AARCH64", m)
	}
	if m := elfMachine(t, layout, byArch["amd64"], "usr/bin/hello"); m != elf.EM_X86_64 {
		t.Errorf("amd64 image's /usr/bin/hello is %v, want EM_X86_64", m)
	}

	tarPath := filepath.Join(out, "x.tar")
	r := Run(t, nil, "build", dir, "--cache", cache, "-o", tarPath)
	if r.Code != 1 || !strings.Contains(r.Stderr, "--oci") || !strings.Contains(r.Stderr, "--platform") {
		t.Errorf("-o with two platforms: exit %d, stderr %q; want exit 1 pointing to --oci or --platform", r.Code, r.Stderr)
	}
	if _, err := os.Stat(tarPath); err == nil {
		t.Error("the refused -o build left x.tar behind")
	}
}

// A spec excluding a dependency says what it dropped, and the image holds
// neither the excluded package nor what only it pulled in.
func TestDebianExcludeDrops(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	spec := "name: py-min\ndebian:\n  suite: bookworm\n  packages: [python3-minimal]\n  exclude: [dpkg]\nconfig:\n  entrypoint: [/usr/bin/python3]\n"
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	// Notices reach stderr even when it is not a terminal.
	tarPath := filepath.Join(out, "py.tar")
	term := MustRun(t, nil, "build", dir, "--cache", cache, "-o", tarPath).Stderr
	if !strings.Contains(string(term), "dropped dependency python3-minimal -> dpkg") ||
		!strings.Contains(string(term), "excluded by debian.exclude") {
		t.Errorf("build output does not name the dropped dependency dpkg:\n%s", term)
	}

	files := imageFiles(t, tarPath, "usr/")
	for _, f := range []string{"usr/bin/dpkg", "usr/bin/tar"} {
		if _, ok := files[f]; ok {
			t.Errorf("image holds /%s, which only the excluded dpkg pulls in", f)
		}
	}
	if _, ok := files["usr/bin/python3.11"]; !ok {
		t.Error("image lacks /usr/bin/python3.11")
	}
	status := statusPackages(t, tarPath)
	for _, p := range status {
		for _, gone := range []string{"dpkg=", "tar=", "libselinux1="} {
			if strings.HasPrefix(p, gone) {
				t.Errorf("status.d lists %s, which only the excluded dpkg pulls in", p)
			}
		}
	}
	if !slices.ContainsFunc(status, func(p string) bool { return strings.HasPrefix(p, "python3-minimal=") }) {
		t.Errorf("status.d lacks python3-minimal: %v", status)
	}
}
