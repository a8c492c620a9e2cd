package nixtest

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stratabuild/strata/internal/testutil"
)

// Config is the Nix configuration the tests use: no sandbox, no build
// users, no binary caches (the tests are offline), the nix command on.
const Config = "sandbox = false\nbuild-users-group =\nsubstituters =\nexperimental-features = nix-command\n"

// ConfigValue is the NIX_CONFIG value tests use: the environment's
// NIX_CONFIG followed by Config.
func ConfigValue() string {
	if v := os.Getenv("NIX_CONFIG"); v != "" && !strings.Contains(v, Config) {
		return v + "\n" + Config
	}
	return Config
}

// Env returns the process environment with NIX_CONFIG set to
// ConfigValue, for running Nix commands in tests.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NIX_CONFIG=") {
			env = append(env, kv)
		}
	}
	return append(env, "NIX_CONFIG="+ConfigValue())
}

// Main is for a test package's TestMain: it sets NIX_CONFIG for the whole
// test process, so that Nix commands strata itself runs (nix path-info,
// nix build) never try the network's binary caches, then runs the tests.
//
//	func TestMain(m *testing.M) { os.Exit(nixtest.Main(m)) }
func Main(m *testing.M) int {
	os.Setenv("NIX_CONFIG", ConfigValue())
	return m.Run()
}

// Run runs a Nix command with Env and returns its trimmed stdout; a
// failure fails the test.
func Run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = Env()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// RequireNix fails in CI and skips elsewhere when Nix or static busybox
// is missing.
func RequireNix(t testing.TB) {
	t.Helper()
	testutil.RequireTool(t, "nix-store")
	testutil.RequireTool(t, "nix-build")
	testutil.RequireTool(t, "nix")
	if _, err := os.Stat("/bin/busybox"); err != nil {
		msg := "/bin/busybox is missing; scripts/test.sh installs busybox-static"
		if testutil.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// demoExpr builds two derivations with busybox as the builder: a script
// that runs busybox's sh (so it refers to busybox), and an app whose
// bin/app is a symlink to the script (so it refers to the script only).
const demoExpr = `{ busyboxPath }:
let
  busybox = builtins.storePath busyboxPath;
  bb = "${busybox}/bin/busybox";
  script = builtins.derivation {
    name = "hello-script-1.0";
    system = builtins.currentSystem;
    builder = bb;
    args = [ "sh" "-c" "${bb} mkdir -p $out/bin && printf '#!${bb} sh\\necho hello from nix\\n' > $out/bin/hello && ${bb} chmod 755 $out/bin/hello" ];
  };
  app = builtins.derivation {
    name = "demo-app-2.3";
    system = builtins.currentSystem;
    builder = bb;
    args = [ "sh" "-c" "${bb} mkdir -p $out/bin $out/share/doc && ${bb} ln -s ${script}/bin/hello $out/bin/app && echo 'demo app' > $out/share/doc/README" ];
  };
in app
`

// BuildDemoClosure builds a three-path closure in the local Nix store and
// returns the app's store path and the closure's paths in dependency
// order: busybox-static (a folder holding bin/busybox), hello-script-1.0
// (bin/hello, a busybox sh script) and demo-app-2.3 (bin/app, a symlink to
// the script; share/doc/README). Running APP/bin/app prints
// "hello from nix". The paths are content-determined, so repeated calls
// return the same paths; they are left in the store.
func BuildDemoClosure(t testing.TB) (app string, paths []string) {
	t.Helper()
	RequireNix(t)
	dir := t.TempDir()
	bbDir := filepath.Join(dir, "busybox-static")
	if err := os.MkdirAll(filepath.Join(bbDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bbDir, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	busybox := Run(t, dir, "nix-store", "--add", bbDir)
	if err := os.WriteFile(filepath.Join(dir, "demo.nix"), []byte(demoExpr), 0o644); err != nil {
		t.Fatal(err)
	}
	app = Run(t, dir, "nix-build", "--no-out-link", "demo.nix", "--argstr", "busyboxPath", busybox)
	target, err := os.Readlink(filepath.Join(app, "bin", "app"))
	if err != nil {
		t.Fatalf("demo app has no bin/app symlink: %v", err)
	}
	script := path.Dir(path.Dir(target))
	return app, []string{busybox, script, app}
}

// GoToolchainClosure adds the Go toolchain's tools, sources and commands to
// the store (about 240 MB: big binaries and many small files) for
// benchmarks, and returns the store paths and their total NAR size.
func GoToolchainClosure(tb testing.TB) ([]string, int64) {
	tb.Helper()
	RequireNix(tb)
	goroot := "/usr/local/go"
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	var paths []string
	var total int64
	for _, d := range []string{"pkg/tool", "src", "bin"} {
		p := Run(tb, "", "nix-store", "--add", filepath.Join(goroot, d))
		n, err := strconv.ParseInt(Run(tb, "", "nix-store", "--query", "--size", p), 10, 64)
		if err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
		total += n
	}
	if total < 100<<20 {
		tb.Fatalf("benchmark closure is only %d bytes, want at least 100 MB", total)
	}
	return paths, total
}
