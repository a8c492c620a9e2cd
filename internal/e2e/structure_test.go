package e2e

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stratabuild/strata/internal/testutil"
)

// structureConfig is the part of container-structure-test's schema (v1
// and v2) that distroless's configs use.
type structureConfig struct {
	FileExistenceTests []struct {
		Name        string `yaml:"name"`
		Path        string `yaml:"path"`
		ShouldExist bool   `yaml:"shouldExist"`
	} `yaml:"fileExistenceTests"`
	FileContentTests []struct {
		Name             string   `yaml:"name"`
		Path             string   `yaml:"path"`
		ExpectedContents []string `yaml:"expectedContents"`
		ExcludedContents []string `yaml:"excludedContents"`
	} `yaml:"fileContentTests"`
	CommandTests []struct {
		Name           string   `yaml:"name"`
		Command        any      `yaml:"command"` // a list (v1) or a string with args (v2)
		Args           []string `yaml:"args"`
		ExitCode       int      `yaml:"exitCode"`
		ExpectedOutput []string `yaml:"expectedOutput"`
		ExpectedError  []string `yaml:"expectedError"`
	} `yaml:"commandTests"`
	MetadataTest *struct {
		User       string   `yaml:"user"`
		Workdir    string   `yaml:"workdir"`
		Entrypoint []string `yaml:"entrypoint"`
		Env        []struct {
			Key   string `yaml:"key"`
			Value string `yaml:"value"`
		} `yaml:"envVars"`
	} `yaml:"metadataTest"`
}

// imageTree is an image's flattened file system: entries by clean path.
type imageTree map[string]struct {
	hdr  *tar.Header
	body []byte
}

func readTree(t *testing.T, tarPath string) imageTree {
	t.Helper()
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatalf("reading %s: %v", tarPath, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := imageTree{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the layers of %s: %v", tarPath, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[path.Clean("/"+h.Name)] = struct {
			hdr  *tar.Header
			body []byte
		}{h, b}
	}
}

// resolve follows symlinks in every component of p, as the kernel would
// inside the image.
func (tr imageTree) resolve(p string) (string, bool) {
	parts := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0 && hops < 40; {
		if parts[0] == "" {
			parts = parts[1:]
			continue
		}
		next := path.Join(cur, parts[0])
		e, ok := tr[next]
		if !ok {
			return "", false
		}
		if e.hdr.Typeflag == tar.TypeSymlink {
			hops++
			target := e.hdr.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(cur, target)
			}
			parts = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), parts[1:]...)
			cur = "/"
			continue
		}
		cur, parts = next, parts[1:]
	}
	return cur, len(parts) == 0
}

// runStructure runs one config against the image in tarPath (loaded into
// Docker as tag) and returns the names of the tests that failed, each
// with why.
func runStructure(t *testing.T, cfgPath, tarPath, tag string) (failed map[string]string, total int) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg structureConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	tree := readTree(t, tarPath)
	failed = map[string]string{}
	for _, ft := range cfg.FileExistenceTests {
		total++
		_, exists := tree.resolve(ft.Path)
		if ft.Path == "/" {
			exists = true
		}
		if exists != ft.ShouldExist {
			failed[ft.Name] = fmt.Sprintf("%s exists = %v", ft.Path, exists)
		}
	}
	for _, ct := range cfg.FileContentTests {
		total++
		p, ok := tree.resolve(ct.Path)
		if !ok {
			failed[ct.Name] = ct.Path + " is missing"
			continue
		}
		body := tree[p].body
		for _, re := range ct.ExpectedContents {
			if !regexp.MustCompile(re).Match(body) {
				failed[ct.Name] = fmt.Sprintf("%s does not match %q:\n%s", ct.Path, re, body)
			}
		}
		for _, re := range ct.ExcludedContents {
			if regexp.MustCompile(re).Match(body) {
				failed[ct.Name] = fmt.Sprintf("%s matches %q", ct.Path, re)
			}
		}
	}
	for _, ct := range cfg.CommandTests {
		total++
		var argv []string
		switch c := ct.Command.(type) {
		case string:
			argv = []string{c}
		case []any:
			for _, a := range c {
				argv = append(argv, fmt.Sprint(a))
			}
		}
		argv = append(argv, ct.Args...)
		if len(argv) == 0 {
			failed[ct.Name] = "no command"
			continue
		}
		r := RunCmd(t, exec.Command("docker", append([]string{"run", "--rm", "--network", "none", "--entrypoint", argv[0], tag}, argv[1:]...)...))
		if r.Code != ct.ExitCode {
			failed[ct.Name] = fmt.Sprintf("exit %d, want %d; stderr: %s", r.Code, ct.ExitCode, lastLines(r.Stderr, 3))
			continue
		}
		for _, re := range ct.ExpectedOutput {
			if !regexp.MustCompile(re).MatchString(r.Stdout) {
				failed[ct.Name] = fmt.Sprintf("stdout %q does not match %q", lastLines(r.Stdout, 3), re)
			}
		}
		for _, re := range ct.ExpectedError {
			if !regexp.MustCompile(re).MatchString(r.Stderr) {
				failed[ct.Name] = fmt.Sprintf("stderr %q does not match %q", lastLines(r.Stderr, 3), re)
			}
		}
	}
	if m := cfg.MetadataTest; m != nil {
		total++
		var insp []struct {
			Config struct {
				User, WorkingDir string
				Entrypoint, Env  []string
			}
		}
		if err := yaml.Unmarshal([]byte(Cmd(t, "docker", "image", "inspect", tag)), &insp); err != nil || len(insp) != 1 {
			t.Fatalf("docker image inspect %s: %v", tag, err)
		}
		c := insp[0].Config
		switch {
		case m.User != "" && c.User != m.User:
			failed["metadata"] = "user " + c.User
		case m.Workdir != "" && c.WorkingDir != m.Workdir:
			failed["metadata"] = "workdir " + c.WorkingDir
		case m.Entrypoint != nil && strings.Join(c.Entrypoint, " ") != strings.Join(m.Entrypoint, " "):
			failed["metadata"] = "entrypoint " + strings.Join(c.Entrypoint, " ")
		}
		for _, e := range m.Env {
			found := false
			for _, kv := range c.Env {
				found = found || kv == e.Key+"="+e.Value
			}
			if !found {
				failed["metadata"] = "env lacks " + e.Key + "=" + e.Value
			}
		}
	}
	return failed, total
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Why an expected failure fails: each is the internet, an upstream binary
// or version Debian does not ship, or a strata gap named by its issue.
const (
	needsInternet   = "needs the internet (connects to a public web site); the test machine has none"
	upstreamVersion = "expects an upstream binary version Debian does not ship"
	noTzconfig      = "Debian's tzdata (12 and 13) does not ship /usr/sbin/tzconfig"
	busybox12       = upstreamVersion + " (BusyBox v1.31.0; Debian 12's busybox-static is 1.35.0)"
	busybox13       = upstreamVersion + " (BusyBox v1.31.0; Debian 13's busybox-static is 1.37.0)"
	python35        = upstreamVersion + " (Python 3.5.3; Debian ships 3.11.2 in 12 and 3.13.5 in 13, which the debian12/debian13 twin test wants and gets)"
	node18          = upstreamVersion + ": distroless ships nodejs.org's v18.16.1 at /nodejs/bin/node, Debian 12 ships 18.20.4 at /usr/bin/node"
	node20          = upstreamVersion + ": distroless ships nodejs.org's v20.19.3 at /nodejs/bin/node, Debian 13 ships 20.19.2 at /usr/bin/node"
)

// structureSuites are the Debian suites every image is built on (with
// strata build --suite): the default first.
var structureSuites = []string{"trixie", "bookworm"}

// structureRun is what one image runs on one suite: distroless's configs
// for that release, and the tests expected to fail with why
// ("CONFIG: TEST" -> why).
type structureRun struct {
	configs []string
	fail    map[string]string
}

// join is the runs of several layers of an image (a debug variant is its
// image's run plus debug.yaml's).
func join(runs ...structureRun) structureRun {
	var out structureRun
	out.fail = map[string]string{}
	for _, r := range runs {
		out.configs = append(out.configs, r.configs...)
		for k, v := range r.fail {
			out.fail[k] = v
		}
	}
	return out
}

// The distroless configs per image and suite: debian12.yaml/debian13.yaml
// check os-release, the rest the image's contents. (cc has no configs of
// its own upstream; it runs base's, as it is base plus libraries.)
var (
	osReleaseRun = map[string]structureRun{
		"trixie":   {configs: []string{"debian13.yaml"}},
		"bookworm": {configs: []string{"debian12.yaml"}},
	}
	// static.yaml needs distroless's check_certs binary in the image (see
	// extra), so only static and static-nonroot run it.
	staticRun = map[string]structureRun{
		"trixie":   {configs: []string{"debian13.yaml", "static.yaml"}},
		"bookworm": {configs: []string{"debian12.yaml", "static.yaml"}},
	}
	baseRun = map[string]structureRun{
		"trixie":   {configs: []string{"base.yaml", "debian13.yaml"}, fail: map[string]string{"base.yaml: tzdata": noTzconfig}},
		"bookworm": {configs: []string{"base.yaml", "debian12.yaml"}, fail: map[string]string{"base.yaml: tzdata": noTzconfig}},
	}
	certsRun = map[string]structureRun{
		"trixie":   {configs: []string{"certs.yaml"}, fail: map[string]string{"certs.yaml: openssl verify google": needsInternet}},
		"bookworm": {configs: []string{"certs.yaml"}, fail: map[string]string{"certs.yaml: openssl verify google": needsInternet}},
	}
	python3Run = map[string]structureRun{
		"trixie":   {configs: []string{"python3.yaml", "python3-debian13.yaml"}, fail: map[string]string{"python3.yaml: version": python35, "python3.yaml: symlink": python35}},
		"bookworm": {configs: []string{"python3.yaml", "python3-debian12.yaml"}, fail: map[string]string{"python3.yaml: version": python35, "python3.yaml: symlink": python35}},
	}
	python3NonrootRun = map[string]structureRun{
		"trixie":   {configs: []string{"python3-debian13.yaml"}},
		"bookworm": {configs: []string{"python3-debian12.yaml"}},
	}
	nodejsRun = map[string]structureRun{
		"trixie":   {configs: []string{"nodejs20.yaml"}, fail: map[string]string{"nodejs20.yaml: nodejs": node20}},
		"bookworm": {configs: []string{"nodejs18.yaml"}, fail: map[string]string{"nodejs18.yaml: nodejs": node18}},
	}
	debugRun = map[string]structureRun{
		"trixie":   {configs: []string{"debug.yaml"}, fail: map[string]string{"debug.yaml: busybox": busybox13}},
		"bookworm": {configs: []string{"debug.yaml"}, fail: map[string]string{"debug.yaml: busybox": busybox12}},
	}
)

// structureImages maps each examples/distroless image to its runs per
// suite.
var structureImages = []struct {
	spec  string
	runs  []map[string]structureRun
	extra string // a files entry's dst for checkcerts, "" for none
}{
	{spec: "static", runs: []map[string]structureRun{staticRun}, extra: "/check_certs"},
	{spec: "static-nonroot", runs: []map[string]structureRun{staticRun}, extra: "/check_certs"},
	{spec: "static-debug", runs: []map[string]structureRun{debugRun, osReleaseRun}},
	{spec: "base", runs: []map[string]structureRun{baseRun, certsRun}},
	{spec: "base-nonroot", runs: []map[string]structureRun{baseRun}},
	{spec: "base-debug", runs: []map[string]structureRun{debugRun, baseRun}},
	{spec: "cc", runs: []map[string]structureRun{baseRun}},
	{spec: "cc-nonroot", runs: []map[string]structureRun{baseRun}},
	{spec: "cc-debug", runs: []map[string]structureRun{debugRun, baseRun}},
	{spec: "python3", runs: []map[string]structureRun{python3Run}},
	{spec: "python3-nonroot", runs: []map[string]structureRun{python3NonrootRun}},
	{spec: "python3-debug", runs: []map[string]structureRun{debugRun, python3Run}},
	{spec: "nodejs", runs: []map[string]structureRun{nodejsRun}},
	{spec: "nodejs-nonroot", runs: []map[string]structureRun{nodejsRun}},
	{spec: "nodejs-debug", runs: []map[string]structureRun{debugRun, nodejsRun}},
}

// TestDistrolessStructure builds every examples/distroless image, loads
// it into Docker and runs distroless's container-structure-test configs
// for it (examples/distroless/testdata) with the runner above: every test
// passes except the listed ones, which must fail (so a list that is out
// of date fails too).
func TestDistrolessStructure(t *testing.T) {
	testutil.RequireDocker(t)
	root := filepath.Join(RepoRoot(), "examples", "distroless")
	cache := t.TempDir() // shared by the images, as their packages are
	checkcerts, binDir := "", t.TempDir()
	for _, im := range structureImages {
		for _, suite := range structureSuites {
			var parts []structureRun
			for _, r := range im.runs {
				parts = append(parts, r[suite])
			}
			run := join(parts...)
			t.Run(im.spec+"/"+suite, func(t *testing.T) {
				specDir := filepath.Join(root, im.spec)
				if im.extra != "" {
					if checkcerts == "" {
						checkcerts = filepath.Join(binDir, "check_certs")
						cmd := exec.Command("go", "build", "-trimpath", "-o", checkcerts, "./internal/e2e/checkcerts")
						cmd.Dir = RepoRoot()
						cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
						if b, err := cmd.CombinedOutput(); err != nil {
							t.Fatalf("building checkcerts: %v\n%s", err, b)
						}
					}
					// distroless runs static.yaml on static plus its test binary.
					specDir = t.TempDir()
					data, err := os.ReadFile(checkcerts)
					if err != nil {
						t.Fatal(err)
					}
					writeTestFile(t, filepath.Join(specDir, "check_certs"), string(data), true)
					writeTestFile(t, filepath.Join(specDir, "strata.yaml"), fmt.Sprintf("name: %s-check\ninclude: [%s]\nfiles: [{src: check_certs, dst: %s}]\n", im.spec, filepath.Join(root, im.spec), im.extra), false)
				}
				tarPath := filepath.Join(t.TempDir(), "image.tar")
				tag := UniqueTag(t, "distroless-"+im.spec)
				MustRun(t, nil, "build", specDir, "--suite", suite, "--cache", cache, "-o", tarPath, "--tag", tag)
				Cmd(t, "docker", "load", "-i", tarPath)
				passed, total := 0, 0
				for _, c := range run.configs {
					failed, n := runStructure(t, filepath.Join(root, "testdata", c), tarPath, tag)
					total += n
					passed += n - len(failed)
					for name, why := range failed {
						if _, expected := run.fail[c+": "+name]; !expected {
							t.Errorf("%s: %s: %s", c, name, why)
						}
					}
					for key, why := range run.fail {
						cfg, name, _ := strings.Cut(key, ": ")
						if _, failedHere := failed[name]; cfg == c && !failedHere {
							t.Errorf("%s: %s passes but is listed as failing (%s): update structureImages", c, name, why)
						}
					}
				}
				size := strings.TrimSpace(Cmd(t, "docker", "image", "inspect", "--format", "{{.Size}}", tag))
				t.Logf("%s on %s: %d/%d structure tests passed; %s bytes uncompressed; expected failures: %v", im.spec, suite, passed, total, size, run.fail)
			})
		}
	}
}
