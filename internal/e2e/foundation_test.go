package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
)

// fixtureSpec is the golden fixture: text files only, so its digest does
// not depend on the Go toolchain.
const fixtureSpec = `name: fixture
tag: v1
files:
  - src: app
    dst: /app
  - src: etc/greeting.txt
    dst: /etc/greeting.txt
    mode: "0600"
    uid: 65532
    gid: 65532
config:
  entrypoint: [/app/bin/run]
  cmd: [--flag]
  env: {B: "2", A: "1"}
  workingDir: /app
  user: "65532"
  exposedPorts: [8080/tcp]
  labels: {org.example: fixture}
`

// fixtureFiles in some order; writeFixture creates them in the order given.
var fixtureFiles = []struct {
	path, content string
	exec          bool
}{
	{"app/bin/run", "#!/bin/sh\necho run\n", true},
	{"app/share/data.txt", "data\n", false},
	{"app/share/deep/nested/file", "nested\n", false},
	{"etc/greeting.txt", "hello\n", false},
	{"strata.yaml", fixtureSpec, false},
}

// goldenFixtureDigest pins the fixture image's manifest digest. A change is
// a deliberate, documented change of strata's output.
const goldenFixtureDigest = "sha256:4737c60cc7cf9a99e3db90ad0a3f4a677b4ca168945245cbd2e7a096ae5eb496"

func writeFixture(t *testing.T, dir string, reverse bool, mtime time.Time) {
	t.Helper()
	files := append(fixtureFiles[:0:0], fixtureFiles...)
	if reverse {
		for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
			files[i], files[j] = files[j], files[i]
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o666)
		if f.exec {
			mode = 0o777
		}
		if err := os.WriteFile(p, []byte(f.content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	if err := os.Symlink("bin/run", filepath.Join(dir, "app", "run")); err != nil {
		t.Fatal(err)
	}
}

func buildJSON(t *testing.T, env []string, args ...string) map[string]any {
	t.Helper()
	r := MustRun(t, env, append(args, "--json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.Stdout)
	}
	return m
}

// Two copies of the inputs, made with different umasks, mtimes and creation
// orders in different folders, built under different TZ and LC_ALL with
// separate caches, give the identical manifest digest, equal to the pin.
func TestReproducibleAcrossCopies(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	old := syscall.Umask(0o022)
	writeFixture(t, a, false, time.Unix(1e9, 0))
	syscall.Umask(0o002)
	writeFixture(t, b, true, time.Now())
	syscall.Umask(old)

	ra := buildJSON(t, []string{"TZ=UTC", "LC_ALL=C"}, "build", a, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "a.tar"))
	rb := buildJSON(t, []string{"TZ=Asia/Kolkata", "LC_ALL=de_DE.UTF-8"}, "build", b, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "b.tar"))
	if ra["digest"] != rb["digest"] {
		t.Fatalf("digests differ: %v vs %v", ra["digest"], rb["digest"])
	}
	if ra["digest"] != goldenFixtureDigest {
		t.Errorf("fixture digest %v, pinned %s: if the change is deliberate, update the pin and say why in the commit", ra["digest"], goldenFixtureDigest)
	}
	if ra["created"] != "1970-01-01T00:00:01Z" || ra["tag"] != "fixture:v1" {
		t.Errorf("summary %v", ra)
	}
	if n := len(ra["layers"].([]any)); n != 2 {
		t.Errorf("%d layers, want one per files entry (2)", n)
	}
	// SOURCE_DATE_EPOCH moves the default created time, so the digest.
	rc := buildJSON(t, []string{"SOURCE_DATE_EPOCH=1700000000"}, "build", a, "--cache", t.TempDir(), "-o", filepath.Join(t.TempDir(), "c.tar"))
	if rc["digest"] == ra["digest"] || rc["created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("SOURCE_DATE_EPOCH not honoured: %v", rc)
	}
}

// A rebuild with a warm cache gives the same digest and the same bytes.
func TestWarmCacheSameBytes(t *testing.T) {
	dir, cache, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeFixture(t, dir, false, time.Now())
	MustRun(t, nil, "build", dir, "--cache", cache, "-o", filepath.Join(out, "1.tar"))
	MustRun(t, nil, "build", dir, "--cache", cache, "-o", filepath.Join(out, "2.tar"))
	b1, _ := os.ReadFile(filepath.Join(out, "1.tar"))
	b2, _ := os.ReadFile(filepath.Join(out, "2.tar"))
	if string(b1) != string(b2) || len(b1) == 0 {
		t.Fatal("warm rebuild wrote different bytes")
	}
	digests := map[string]string{}
	for _, c := range []string{"none", "zstd", "gzip:1", "pgzip"} {
		r1 := buildJSON(t, nil, "build", dir, "--cache", cache, "--compression", c, "--oci", filepath.Join(out, c+"1"))
		r2 := buildJSON(t, nil, "build", dir, "--cache", t.TempDir(), "--compression", c, "--oci", filepath.Join(out, c+"2"))
		if r1["digest"] != r2["digest"] {
			t.Errorf("%s: cold and warm digests differ", c)
		}
		d, _ := r1["digest"].(string)
		if other, dup := digests[d]; dup || d == "" {
			t.Errorf("%s: digest %q, the same as %s's (the layer cache key must cover the compression)", c, d, other)
		}
		digests[d] = c
	}
}

// helloImage builds the hello-go example (static binary) into a spec dir.
func helloSpec(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	StaticHello(t, dir)
	spec, err := os.ReadFile(filepath.Join(RepoRoot(), "examples", "hello-go", "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExternalValidators(t *testing.T) {
	crane := testutil.RequireTool(t, "crane")
	skopeo := testutil.RequireTool(t, "skopeo")
	umoci := testutil.RequireTool(t, "umoci")
	dir, out := helloSpec(t), t.TempDir()
	tarPath, ociDir := filepath.Join(out, "hello.tar"), filepath.Join(out, "oci")
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "-o", tarPath, "--oci", ociDir)

	Cmd(t, crane, "validate", "--tarball", tarPath)
	var insp struct {
		Architecture string
		Os           string
		Layers       []string
	}
	if err := json.Unmarshal([]byte(Cmd(t, skopeo, "inspect", "docker-archive:"+tarPath)), &insp); err != nil {
		t.Fatal(err)
	}
	if insp.Os != "linux" || len(insp.Layers) != 1 {
		t.Errorf("skopeo inspect: %+v", insp)
	}
	Cmd(t, skopeo, "copy", "oci:"+ociDir+":latest", "dir:"+filepath.Join(out, "copied"))
	if _, err := os.Stat(filepath.Join(out, "copied", "manifest.json")); err != nil {
		t.Errorf("skopeo copy wrote no manifest: %v", err)
	}
	bundle := filepath.Join(out, "bundle")
	Cmd(t, umoci, "unpack", "--image", ociDir+":latest", bundle)
	got := Cmd(t, "chroot", filepath.Join(bundle, "rootfs"), "/usr/bin/hello")
	if !strings.Contains(got, "Hello, world! (from a strata image)") {
		t.Errorf("chroot run printed %q", got)
	}
}

func TestDockerEndToEnd(t *testing.T) {
	testutil.RequireDocker(t)
	dir, out := helloSpec(t), t.TempDir()
	tag := UniqueTag(t, "hello")
	tarPath := filepath.Join(out, "hello.tar")
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--tag", tag, "-o", tarPath)
	Cmd(t, "docker", "load", "-i", tarPath)
	if got := Cmd(t, "docker", "run", "--rm", tag); !strings.Contains(got, "Hello, world! (from a strata image)") {
		t.Errorf("docker run printed %q", got)
	}
	var insp []struct {
		Config struct {
			Entrypoint   []string
			Env          []string
			ExposedPorts map[string]any
			User         string
			WorkingDir   string
			Labels       map[string]string
		}
		RootFS  struct{ Layers []string }
		Created string
	}
	if err := json.Unmarshal([]byte(Cmd(t, "docker", "image", "inspect", tag)), &insp); err != nil {
		t.Fatal(err)
	}
	c := insp[0].Config
	if strings.Join(c.Entrypoint, " ") != "/usr/bin/hello" || c.User != "65532:65532" || c.WorkingDir != "/" ||
		!slices.Contains(c.Env, "GREETING_NAME=world") || len(insp[0].RootFS.Layers) != 1 || !strings.HasPrefix(insp[0].Created, "1970-01-01T00:00:01") {
		t.Errorf("docker image inspect: %+v", insp[0])
	}

	// The fixture has ports and more layers.
	fx := t.TempDir()
	writeFixture(t, fx, false, time.Now())
	ftag := UniqueTag(t, "fixture")
	MustRun(t, nil, "build", fx, "--cache", t.TempDir(), "--tag", ftag, "-o", filepath.Join(out, "fx.tar"))
	Cmd(t, "docker", "load", "-i", filepath.Join(out, "fx.tar"))
	insp = nil
	json.Unmarshal([]byte(Cmd(t, "docker", "image", "inspect", ftag)), &insp)
	c = insp[0].Config
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || c.User != "65532" || c.WorkingDir != "/app" || len(insp[0].RootFS.Layers) != 2 ||
		strings.Join(c.Env, ",") != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,A=1,B=2" {
		t.Errorf("fixture inspect: %+v", insp[0])
	}

	// strata build -o - | docker load
	stag := UniqueTag(t, "stream")
	pipe := exec.Command("sh", "-c", Strata(t)+" build "+dir+" --cache "+t.TempDir()+" --tag "+stag+" -o - | docker load")
	if b, err := pipe.CombinedOutput(); err != nil || !strings.Contains(string(b), "Loaded image: "+stag) {
		t.Fatalf("build -o - | docker load: %v\n%s", err, b)
	}
	if got := Cmd(t, "docker", "run", "--rm", "-e", "GREETING_NAME=stream", stag); !strings.Contains(got, "Hello, stream!") {
		t.Errorf("streamed image printed %q", got)
	}
}

// Bad input exits non-zero with a message naming the problem and leaves
// no output behind.
func TestBadInputLeavesNothing(t *testing.T) {
	cases := []struct {
		name, spec string
		args       []string
		code       int
		want       string
	}{
		{"unknown key", "name: x\nconfig:\n  entrypiont: [/a]\n", nil, 1, "did you mean `entrypoint`?"},
		{"relative dst", "name: x\nfiles:\n  - src: f\n    dst: f\n", nil, 1, "strata.yaml:4: files[0].dst"},
		{"src escapes", "name: x\nfiles:\n  - src: ../f\n    dst: /f\n", nil, 1, "leaves the spec's folder"},
		{"bad port", "name: x\nconfig:\n  exposedPorts: [99999/tcp]\n", nil, 1, "1 to 65535"},
		{"missing file", "name: x\nfiles:\n  - src: nope\n    dst: /f\n", nil, 1, "does not exist"},
		{"wrong type", "name: x\nconfig:\n  entrypoint: 5\n", nil, 1, "strata.yaml:3"},
		{"bad compression", "name: x\n", []string{"--compression", "lz4"}, 2, "use none, gzip, gzip:1 (fastest) to gzip:9"},
		{"bad gzip level", "name: x\n", []string{"--compression", "gzip:0"}, 2, "gzip:1 (fastest) to gzip:9 (smallest)"},
		{"zstd to docker-archive", "name: x\n", []string{"--compression", "zstd"}, 2, "use --oci DIR or --push REF for zstd"},
		{"unknown flag", "name: x\n", []string{"--nope"}, 2, "unknown flag"},
		{"frozen without lock", "name: x\n", []string{"--frozen"}, 1, "run `strata lock` first"},
		{"socket input", "name: x\nfiles:\n  - src: sock\n    dst: /s\n", nil, 1, "only files, folders and symlinks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, out := t.TempDir(), t.TempDir()
			os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(c.spec), 0o644)
			if c.name == "socket input" {
				l, err := listenUnix(filepath.Join(dir, "sock"))
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			tarPath, ociDir := filepath.Join(out, "x.tar"), filepath.Join(out, "oci")
			r := Run(t, nil, append([]string{"build", dir, "--cache", t.TempDir(), "-o", tarPath, "--oci", ociDir}, c.args...)...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.Code, c.code, r.Stderr)
			}
			if !strings.Contains(r.Stderr, c.want) {
				t.Errorf("stderr %q lacks %q", r.Stderr, c.want)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("left output behind: %v", ents)
			}
		})
	}
}

// An output folder that cannot be written leaves no temp files and no
// partial file.
func TestUnwritableOutput(t *testing.T) {
	dir := helloSpec(t)
	r := Run(t, nil, "build", dir, "--cache", t.TempDir(), "-o", "/proc/strata-cannot-write/x.tar")
	if r.Code != 1 || !strings.Contains(r.Stderr, "x.tar") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	if r := MustRun(t, nil, "version"); !strings.HasPrefix(r.Stdout, "strata ") {
		t.Errorf("version: %q", r.Stdout)
	}
	if r := MustRun(t, nil, "build", "--help"); !strings.Contains(r.Stdout, "Examples:") && !strings.Contains(r.Stdout, "Example") {
		t.Errorf("build --help has no examples: %q", r.Stdout)
	}
	if r := Run(t, nil, "version", "extra"); r.Code != 2 {
		t.Errorf("usage error exit %d", r.Code)
	}
}

// A full disk fails the build with a clear error and leaves neither a
// partial output nor a temp file behind (the output folder is a 512 KiB
// tmpfs; the image is about 1.5 MB).
func TestFullDiskLeavesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		if testutil.InCI() {
			t.Fatal("this test mounts a tmpfs and needs root, as CI runs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	dir := helloSpec(t)
	full := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", full).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", full).Run() })
	for _, args := range [][]string{{"-o", filepath.Join(full, "x.tar")}, {"--oci", filepath.Join(full, "oci")}} {
		r := Run(t, nil, append([]string{"build", dir, "--cache", t.TempDir()}, args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "no space left on device") {
			t.Errorf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
		if ents, _ := os.ReadDir(full); len(ents) != 0 {
			t.Errorf("%v left %v behind", args, ents)
		}
	}
	// A full cache fails the same way and leaves no entry behind.
	cache := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", cache).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", cache).Run() })
	r := Run(t, nil, "build", dir, "--cache", cache, "-o", filepath.Join(t.TempDir(), "x.tar"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "no space left on device") {
		t.Errorf("full cache: exit %d: %s", r.Code, r.Stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) != 0 {
		t.Errorf("full cache left temp files: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "blobs", "sha256")); len(ents) != 0 {
		t.Errorf("full cache left blobs: %v", ents)
	}
}
