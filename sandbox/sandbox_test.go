package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
)

// applets are the busybox commands the test root links to /usr/bin/busybox.
var applets = []string{"sh", "env", "ls", "cat", "echo", "touch", "mkdir", "sleep", "wget", "nc", "id", "hostname", "grep", "readlink", "test", "cp", "rm", "chmod", "ln"}

// busyboxRoot materializes a tiny merged-/usr root: the host's static
// busybox at usr/bin/busybox, applet symlinks beside it, bin -> usr/bin.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is required (apt-get install busybox-static): %v", err)
	}
	fi, err := os.Stat(bb)
	if err != nil {
		t.Fatal(err)
	}
	entries := []closure.Entry{
		{Path: "usr", Type: closure.Dir, Mode: 0o755},
		{Path: "usr/bin", Type: closure.Dir, Mode: 0o755},
		{Path: "usr/bin/busybox", Type: closure.Regular, Mode: 0o755, Size: fi.Size(), Open: func() (io.ReadCloser, error) { return os.Open(bb) }},
		{Path: "bin", Type: closure.Symlink, Link: "usr/bin"},
	}
	for _, a := range applets {
		entries = append(entries, closure.Entry{Path: "usr/bin/" + a, Type: closure.Symlink, Link: "busybox"})
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := Materialize(context.Background(), root, entries); err != nil {
		t.Fatal(err)
	}
	return root
}

// newSpec is a step over a fresh busybox root and an empty Out.
func newSpec(t *testing.T, run string) (Spec, *bytes.Buffer) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	return Spec{Root: busyboxRoot(t), Out: out, Run: run, SourceDateEpoch: 1700000000, Log: &log}, &log
}

func runOK(t *testing.T, s Spec, log *bytes.Buffer) {
	t.Helper()
	if err := Run(context.Background(), s); err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log)
	}
}

func readOut(t *testing.T, s Spec, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Out, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStepOutputAndEnv(t *testing.T) {
	s, log := newSpec(t, "echo hello > $out/hello; env > $out/env; pwd > $out/pwd")
	s.Env = map[string]string{"NODE_PATH": "/usr/share/nodejs", "LC_ALL": "C"}
	runOK(t, s, log)
	if got := readOut(t, s, "hello"); got != "hello\n" {
		t.Errorf("hello = %q", got)
	}
	if got := readOut(t, s, "pwd"); got != "/tmp\n" {
		t.Errorf("working directory = %q, want /tmp", got)
	}
	got := strings.Split(strings.TrimSpace(readOut(t, s, "env")), "\n")
	slices.Sort(got)
	want := []string{
		"HOME=/homeless-shelter",
		"LC_ALL=C", // the step's env overrides the default C.UTF-8
		"NODE_PATH=/usr/share/nodejs",
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"PWD=/tmp", // set by the shell
		"SHLVL=1",  // set by the shell
		"SOURCE_DATE_EPOCH=1700000000",
		"TZ=UTC",
		"out=/out",
	}
	if !slices.Equal(got, want) {
		t.Errorf("environment inside:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// snapshot is every path under dir with its type, mode and content hash.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			v += " " + hex.EncodeToString(h[:])
		}
		m[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStepConfinement(t *testing.T) {
	tmp := t.TempDir()
	mk := func(dir, file string) string {
		d := filepath.Join(tmp, dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if file != "" {
			if err := os.WriteFile(filepath.Join(d, file), []byte("original\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	src, deps, outside, rw := mk("src", "a"), mk("deps", "b"), mk("outside", "c"), mk("rw", "")
	targets := []string{"/x", "/usr/x", "/usr/bin/x", "/bin/x", "/usr/bin/busybox", "/src/x", "/src/a", "/deps/x", "/deps/b",
		outside + "/x", outside + "/c", tmp + "/x", "/proc/x"}
	script := `report=/tmp/report; : > $report
for p in ` + strings.Join(targets, " ") + `; do
  if (echo hacked > "$p") 2>/dev/null; then echo "wrote $p" >> $report; fi
done
for p in /src/a /deps/b /usr/bin/busybox; do
  if rm -f "$p" 2>/dev/null && ! test -e "$p"; then echo "removed $p" >> $report; fi
  if chmod 777 "$p" 2>/dev/null; then echo "chmod $p" >> $report; fi
done
if test -e ` + outside + `; then echo "sees ` + outside + `" >> $report; fi
# The test's folders may lie under /tmp, the sandbox's own tmpfs: this
# succeeds there and must leave the host alone (the snapshot checks).
mkdir -p ` + outside + ` 2>/dev/null && echo hacked > ` + outside + `/x 2>/dev/null || true
if ln /src/a /out/a 2>/dev/null; then echo "hardlinked /src/a" >> $report; fi
echo scratch > /tmp/scratch
echo rw > /rw/made
cat /src/a /deps/b > $out/inputs
cp $report $out/report`
	s, log := newSpec(t, script)
	s.Mounts = []Mount{{Src: src, Dst: "/src"}, {Src: deps, Dst: "/deps"}, {Src: rw, Dst: "/rw", Writable: true}}
	beforeTmp, beforeRoot := snapshot(t, tmp), snapshot(t, s.Root)
	runOK(t, s, log)
	if r := readOut(t, s, "report"); r != "" {
		t.Errorf("the step escaped its confinement:\n%s", r)
	}
	if got := readOut(t, s, "inputs"); got != "original\noriginal\n" {
		t.Errorf("inputs read inside = %q", got)
	}
	afterTmp := snapshot(t, tmp)
	delete(afterTmp, filepath.Join(rw, "made"))
	if b, err := os.ReadFile(filepath.Join(rw, "made")); err != nil || string(b) != "rw\n" {
		t.Errorf("the writable mount did not get the step's file: %q, %v", b, err)
	}
	for p, v := range afterTmp {
		if beforeTmp[p] != v {
			t.Errorf("host path %s changed or appeared: %q, was %q", p, v, beforeTmp[p])
		}
	}
	for p := range beforeTmp {
		if _, ok := afterTmp[p]; !ok {
			t.Errorf("host path %s disappeared", p)
		}
	}
	if afterRoot := snapshot(t, s.Root); !mapsEqual(beforeRoot, afterRoot) {
		t.Errorf("the root changed:\nbefore %v\nafter  %v", beforeRoot, afterRoot)
	}
	if entries, _ := os.ReadDir(s.Out); len(entries) != 2 {
		t.Errorf("Out holds %d entries, want inputs and report", len(entries))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestStepNetwork(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "pong")
	}))
	defer srv.Close()
	url := srv.URL + "/" // httptest listens on 127.0.0.1 only
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("the test server is not on loopback: %s", url)
	}
	// (busybox 1.35's wget crashes with -T; a refused connection fails fast)
	script := `if wget -q -O $out/got ` + url + `; then echo reached > $out/result; else echo blocked > $out/result; fi
readlink /proc/self/ns/net > $out/netns`
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}

	s, log := newSpec(t, script)
	runOK(t, s, log)
	if r := readOut(t, s, "result"); r != "blocked\n" {
		t.Errorf("without Network the step reached the host's listener: %q\nlog:\n%s", r, log)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("without Network the listener got %d requests", n)
	}
	if ns := strings.TrimSpace(readOut(t, s, "netns")); ns == hostNet {
		t.Errorf("without Network the step shares the host's network namespace %s", ns)
	}

	s, log = newSpec(t, script)
	s.Network = true
	runOK(t, s, log)
	if r := readOut(t, s, "result"); r != "reached\n" {
		t.Errorf("with Network the step did not reach the listener: %q\nlog:\n%s", r, log)
	}
	if got := readOut(t, s, "got"); got != "pong" {
		t.Errorf("with Network got %q", got)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("with Network the listener got %d requests, want 1", n)
	}
}

func TestStepFailure(t *testing.T) {
	s, log := newSpec(t, "echo to-stdout; echo to-stderr >&2; exit 3")
	err := Run(context.Background(), s)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 3 || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Run = %v, want an *ExitError with status 3", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("a failing step is not an unavailable sandbox: %v", err)
	}
	if l := log.String(); !strings.Contains(l, "to-stdout\n") || !strings.Contains(l, "to-stderr\n") {
		t.Errorf("log = %q, want both lines", l)
	}

	// -e: the first failing command ends the script
	s, log = newSpec(t, "false; echo not-reached")
	if err := Run(context.Background(), s); !errors.As(err, &ee) || ee.Status != 1 {
		t.Fatalf("Run = %v, want exit status 1", err)
	}
	if strings.Contains(log.String(), "not-reached") {
		t.Errorf("the script went on after a failing command: %q", log)
	}
}

// processesWith lists host pids whose command line contains marker.
func processesWith(t *testing.T, marker string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			pids = append(pids, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return pids
}

func TestStepCancel(t *testing.T) {
	s, log := newSpec(t, "touch $out/started; sleep 987654; echo not-reached")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if _, err := os.Stat(filepath.Join(s.Out, "started")); err == nil {
				cancel()
				return
			}
			if ctx.Err() != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, s) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("Run did not return after the cancel; log:\n%s", log)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled\nlog:\n%s", err, log)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Run took %v to return after the cancel", d)
	}
	// Out's path is in bwrap's arguments, 987654 in sleep's.
	var left []string
	for range 100 {
		left = append(processesWith(t, "987654"), processesWith(t, s.Out)...)
		if len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Errorf("processes left after the cancel:\n%s", strings.Join(left, "\n"))
	}
}

func TestStepNamespaces(t *testing.T) {
	s, log := newSpec(t, `echo $$ > $out/pid
hostname > $out/hostname
id -u > $out/uid; id -g > $out/gid
ls /proc | grep -E '^[0-9]+$' > $out/pids || true
for n in user mnt pid net ipc uts; do echo "$n $(readlink /proc/self/ns/$n)"; done > $out/ns
ls /dev > $out/dev`)
	runOK(t, s, log)
	if pid, _ := strconv.Atoi(strings.TrimSpace(readOut(t, s, "pid"))); pid < 1 || pid > 3 {
		t.Errorf("the shell's pid is %d, want 1..3 (a new pid namespace)", pid)
	}
	for _, p := range strings.Fields(readOut(t, s, "pids")) {
		if n, _ := strconv.Atoi(p); n > 10 {
			t.Errorf("/proc inside shows pid %d: not the step's own pid namespace", n)
		}
	}
	if h := strings.TrimSpace(readOut(t, s, "hostname")); h != hostname {
		t.Errorf("hostname inside = %q, want %q", h, hostname)
	} else if host, _ := os.Hostname(); host == h {
		t.Logf("the host is also named %q", host)
	}
	if u, g := readOut(t, s, "uid"), readOut(t, s, "gid"); u != "1000\n" || g != "1000\n" {
		t.Errorf("uid, gid inside = %q, %q, want 1000 whoever runs the test (uid %d)", u, g, os.Getuid())
	}
	for _, line := range strings.Split(strings.TrimSpace(readOut(t, s, "ns")), "\n") {
		name, inside, _ := strings.Cut(line, " ")
		host, err := os.Readlink("/proc/self/ns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if inside == host || inside == "" {
			t.Errorf("%s namespace inside is %q, the host's is %q: not unshared", name, inside, host)
		}
	}
	dev := strings.Fields(readOut(t, s, "dev"))
	for _, want := range []string{"null", "zero", "urandom"} {
		if !slices.Contains(dev, want) {
			t.Errorf("/dev lacks %s: %v", want, dev)
		}
	}
	for _, d := range dev {
		if strings.HasPrefix(d, "sd") || strings.HasPrefix(d, "nvme") || strings.HasPrefix(d, "vd") || d == "mem" || d == "kmsg" {
			t.Errorf("/dev shows the host's %s: %v", d, dev)
		}
	}
}

func bwrapVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bwrap", "--version").Output()
	if err != nil {
		t.Fatalf("bwrap is required (apt-get install bubblewrap): %v", err)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "bubblewrap ")
	if !ok {
		t.Fatalf("bwrap --version = %q", out)
	}
	return v
}

func TestVersion(t *testing.T) {
	got, err := Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "strata-sandbox-1 bwrap " + bwrapVersion(t); got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
}

// TestSandboxUnavailable: without bwrap on PATH, Run and Version say to
// install it. STRATA_SANDBOX_EXPECT_NO_USERNS is set by TestAsOtherUser
// when this user cannot create user namespaces: then Run must say so.
func TestSandboxUnavailable(t *testing.T) {
	if os.Getenv("STRATA_SANDBOX_EXPECT_NO_USERNS") == "1" {
		s, log := newSpec(t, "echo hello > $out/hello")
		err := Run(context.Background(), s)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "sysctl") || !strings.Contains(err.Error(), "user namespaces") {
			t.Errorf("Run without user namespaces = %v, want ErrUnavailable naming the sysctl\nlog:\n%s", err, log)
		}
		t.Logf("without user namespaces: %v", err)
	}
	s, _ := newSpec(t, "echo hello > $out/hello")
	t.Setenv("PATH", t.TempDir())
	err := Run(context.Background(), s)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "apt-get install bubblewrap") {
		t.Errorf("Run without bwrap = %v, want ErrUnavailable naming the fix", err)
	}
	if _, err := Version(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Version without bwrap = %v, want ErrUnavailable", err)
	}
}

func TestSpecRefused(t *testing.T) {
	s, _ := newSpec(t, "true")
	src := t.TempDir()
	cases := map[string]func(s *Spec){
		"Out not empty": func(s *Spec) {
			if err := os.WriteFile(filepath.Join(s.Out, "old"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"mount inside Out":    func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "/out/x"}} },
		"mount on /tmp":       func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "/tmp"}} },
		"mount inside /proc":  func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "/proc/x"}} },
		"relative mount":      func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "src"}} },
		"unclean mount":       func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "/src/../etc"}} },
		"nested mounts":       func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "/src"}, {Src: src, Dst: "/src/sub"}} },
		"missing mount src":   func(s *Spec) { s.Mounts = []Mount{{Src: filepath.Join(src, "nope"), Dst: "/src"}} },
		"mount via a symlink": func(s *Spec) { s.Mounts = []Mount{{Src: src, Dst: "/bin/tool"}} },
		"env out":             func(s *Spec) { s.Env = map[string]string{"out": "/elsewhere"} },
		"env epoch":           func(s *Spec) { s.Env = map[string]string{"SOURCE_DATE_EPOCH": "0"} },
		"env bad name":        func(s *Spec) { s.Env = map[string]string{"A=B": "x"} },
		"root without a shell": func(s *Spec) {
			s.Root = t.TempDir()
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := s
			c.Out = filepath.Join(t.TempDir(), "out")
			if err := os.Mkdir(c.Out, 0o755); err != nil {
				t.Fatal(err)
			}
			mutate(&c)
			err := Run(context.Background(), c)
			if err == nil {
				t.Fatal("Run accepted the spec")
			}
			var ee *ExitError
			if errors.As(err, &ee) {
				t.Errorf("Run ran the step: %v", err)
			}
		})
	}
}

// TestAsOtherUser runs the step tests again under another identity: as
// uid 65534 when the tests run as root, as root in a user namespace
// otherwise. When that identity cannot create user namespaces (checked
// with util-linux's unshare, independently of this package), the run
// instead asserts the clear error.
func TestAsOtherUser(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A folder the other user can read and write, holding a copy of the
	// test binary (go test keeps it in a folder only we can read).
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var as []string
	if os.Getuid() == 0 {
		as = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	} else {
		as = []string{"unshare", "--map-root-user", "--"}
	}
	probe := exec.Command(as[0], append(as[1:], "unshare", "--user", "true")...)
	userns := probe.Run() == nil
	run := "^(TestStepOutputAndEnv|TestStepConfinement|TestStepNetwork|TestStepFailure|TestStepCancel|TestStepNamespaces|TestSandboxUnavailable)$"
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
	if !userns {
		t.Logf("%v cannot create user namespaces: asserting the error", as)
		run = "^TestSandboxUnavailable$"
		env = append(env, "STRATA_SANDBOX_EXPECT_NO_USERNS=1")
	}
	cmd := exec.Command(as[0], append(as[1:], bin, "-test.run", run, "-test.v", "-test.count=1")...)
	cmd.Env = env
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the step tests as %v failed: %v\n%s", as, err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestSandboxUnavailable")) || (userns && !bytes.Contains(out, []byte("--- PASS: TestStepConfinement"))) {
		t.Fatalf("the step tests as %v did not run:\n%s", as, out)
	}
	t.Logf("as %v:\n%s", as, out)
}

// TestNoUserNamespaces runs TestSandboxUnavailable where no user namespace
// can be created: inside a user namespace whose max_user_namespaces is 0
// (a per-namespace limit, so the host's sysctls stay untouched), bwrap
// fails the way it does on a host with them disabled.
func TestNoUserNamespaces(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -test.run '^TestSandboxUnavailable$' -test.v -test.count=1`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--", "sh", "-c", script, self)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(), "STRATA_SANDBOX_EXPECT_NO_USERNS=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("TestSandboxUnavailable without user namespaces failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestSandboxUnavailable")) {
		t.Fatalf("TestSandboxUnavailable did not run:\n%s", out)
	}
	t.Logf("%s", out)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestStepLogUnwritable(t *testing.T) {
	s, _ := newSpec(t, "echo hello; echo done > $out/done")
	s.Log = failingWriter{}
	if err := Run(context.Background(), s); err == nil {
		t.Error("Run succeeded although the step's log could not be written")
	}
}
