package step

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

// busyboxApplets are linked to busybox in the test closure.
var busyboxApplets = []string{"sh", "mkdir", "cat", "echo", "date", "cp", "wget", "ls", "chmod", "ln", "mkfifo"}

// busyboxClosure is a build closure of one node holding the host's static
// busybox with applet links, merged-/usr style; version stands for the
// package version (it is part of the node's contents key).
func busyboxClosure(t *testing.T, version string) *closure.Result {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is required (apt-get install busybox-static): %v", err)
	}
	fi, err := os.Stat(bb)
	if err != nil {
		t.Fatal(err)
	}
	list := []closure.Entry{
		{Path: "usr", Type: closure.Dir, Mode: 0o755},
		{Path: "usr/bin", Type: closure.Dir, Mode: 0o755},
		{Path: "usr/bin/busybox", Type: closure.Regular, Mode: 0o755, Size: fi.Size(), Open: func() (io.ReadCloser, error) { return os.Open(bb) }},
		{Path: "bin", Type: closure.Symlink, Mode: 0o777, Link: "usr/bin"},
	}
	for _, a := range busyboxApplets {
		list = append(list, closure.Entry{Path: "usr/bin/" + a, Type: closure.Symlink, Mode: 0o777, Link: "busybox"})
	}
	g := closure.New()
	g.Add(&closure.Node{ID: "deb:busybox-static:amd64", Kind: closure.KindDeb, Name: "busybox-static", Version: version,
		Contents: closure.StaticContents{ID: "deb:busybox:" + version, List: list}})
	return &closure.Result{Graph: closure.New(), Private: g}
}

type fixture struct {
	t     *testing.T
	dir   string
	cache cache.Cache
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "in.txt"), []byte("hello\n"), 0o644)
	return &fixture{t: t, dir: dir, cache: st}
}

func (f *fixture) resolve(b *spec.Build, closureVersion string, locked json.RawMessage, check bool) (*closure.Result, error) {
	f.t.Helper()
	s := &Source{name: "app", build: b, specDir: f.dir, cache: f.cache, check: check}
	req := closure.Request{
		Env:      closure.Env{Getenv: func(string) string { return "" }},
		Platform: closure.Platform{OS: "linux", Arch: "amd64"},
		Locked:   locked,
		Needed:   map[string]*closure.Result{ClosureSourceName("app"): busyboxClosure(f.t, closureVersion)},
	}
	return s.Resolve(context.Background(), req)
}

func keyOf(t *testing.T, r *closure.Result) string {
	t.Helper()
	var l Lock
	if err := json.Unmarshal(r.Lock, &l); err != nil {
		t.Fatal(err)
	}
	return l.Key
}

func output(t *testing.T, r *closure.Result, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Private.Nodes[OutputNodeID("app")].Meta[MetaDir], file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const stampRun = "mkdir -p $out && cat /src/in.txt > $out/copy && cat /proc/sys/kernel/random/uuid > $out/stamp"

// An unchanged step never runs again: its output (which holds the time of
// the run) comes back identical from the cache.
func TestCacheHitDoesNotRun(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Src: "src", Run: stampRun}
	r1, err := f.resolve(b, "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := f.resolve(b, "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if output(t, r1, "stamp") != output(t, r2, "stamp") || keyOf(t, r1) != keyOf(t, r2) {
		t.Fatal("the step ran again with unchanged inputs")
	}
	if output(t, r1, "copy") != "hello\n" {
		t.Fatalf("output copy = %q", output(t, r1, "copy"))
	}
}

// One byte of src, the run text, an env value or a build package version
// each changes the key.
func TestKeyCoversEveryInput(t *testing.T) {
	f := newFixture(t)
	base := func() *spec.Build {
		return &spec.Build{Src: "src", Run: "mkdir -p $out && cat /src/in.txt > $out/copy", Env: map[string]string{"A": "1"}}
	}
	r, err := f.resolve(base(), "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	k0 := keyOf(t, r)
	keys := map[string]string{"base": k0}
	check := func(name string, b *spec.Build, version string) {
		t.Helper()
		r, err := f.resolve(b, version, nil, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		k := keyOf(t, r)
		for other, ok := range keys {
			if ok == k {
				t.Errorf("%s gives the same key as %s", name, other)
			}
		}
		keys[name] = k
	}
	b := base()
	b.Run += " "
	check("run text", b, "1.0")
	b = base()
	b.Env["A"] = "2"
	check("env value", b, "1.0")
	check("package version", base(), "1.1")
	os.WriteFile(filepath.Join(f.dir, "src", "in.txt"), []byte("hellp\n"), 0o644)
	check("src byte", base(), "1.0")
}

// A failing step's error holds its log; it leaves no cache entry, and the
// next run runs it again.
func TestFailingStepLeavesNothing(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Run: "echo building; echo boom >&2; exit 3"}
	_, err := f.resolve(b, "1.0", nil, false)
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "step app failed") || !strings.Contains(err.Error(), "strata log --key") {
		t.Fatalf("err = %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(f.cache.(*store.Store).Root(), outKind))
	if len(ents) != 0 {
		t.Fatalf("a failed step left %d cache entries", len(ents))
	}
}

// --check runs the step again and names the first file that differs.
func TestCheckCatchesNondeterminism(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Src: "src", Run: stampRun}
	if _, err := f.resolve(b, "1.0", nil, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.resolve(b, "1.0", nil, true)
	if err == nil || !strings.Contains(err.Error(), "not reproducible") || !strings.Contains(err.Error(), "$out/stamp") {
		t.Fatalf("--check err = %v", err)
	}
	det := &spec.Build{Src: "src", Run: "mkdir -p $out && cat /src/in.txt > $out/copy"}
	if _, err := f.resolve(det, "1.0", nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.resolve(det, "1.0", nil, true); err != nil {
		t.Fatalf("--check of a deterministic step: %v", err)
	}
}

// A fixed-output step is pinned by its output hash: the same inputs with
// another output are refused, naming both hashes and the fix.
func TestFixedOutputMismatchIsRefused(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Run: "mkdir -p $out && cat /proc/sys/kernel/random/uuid > $out/fetched", Network: true}
	r, err := f.resolve(b, "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var l Lock
	json.Unmarshal(r.Lock, &l)
	if l.OutputHash == "" || l.OutputHash != l.TreeHash {
		t.Fatalf("lock %+v: want the output hash recorded", l)
	}
	// Same inputs, pinned: the cached output is used, the step does not run.
	r2, err := f.resolve(b, "1.0", r.Lock, false)
	if err != nil {
		t.Fatal(err)
	}
	if output(t, r, "fetched") != output(t, r2, "fetched") {
		t.Fatal("a pinned fixed-output step ran again")
	}
	// The pin says something else: running gives another output, refused.
	l.OutputHash = strings.Repeat("0", 64)
	bad, _ := json.Marshal(l)
	_, err = f.resolve(b, "1.0", bad, false)
	if err == nil || !strings.Contains(err.Error(), l.OutputHash) || !strings.Contains(err.Error(), "strata lock --update app") {
		t.Fatalf("err = %v", err)
	}
}

// Without network: true a step reaches no network: its loopback is its own.
func TestNoNetworkWithoutFlag(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Run: "mkdir -p $out; wget -q -O $out/page http://127.0.0.1:9/ && echo reached > $out/net || true"}
	r, err := f.resolve(b, "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.Private.Nodes[OutputNodeID("app")].Meta[MetaDir], "net")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the step reached the network")
	}
}

// A step's output enters the cache normalized: no setuid bit, no
// world-writable folder, hardlinks broken; a fifo is refused and leaves
// no cache entry.
func TestOutputIsNormalized(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Run: "mkdir -p $out/d $out/locked && cp /bin/busybox $out/sh && chmod 6755 $out/sh && chmod 777 $out/d && echo x > $out/a && ln $out/a $out/b && chmod 000 $out/locked"}
	r, err := f.resolve(b, "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := r.Private.Nodes[OutputNodeID("app")].Meta[MetaDir]
	for p, want := range map[string]os.FileMode{"sh": 0o755, "d": 0o755 | os.ModeDir, "a": 0o644, "locked": 0o755 | os.ModeDir} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModeDir | os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky); got != want {
			t.Errorf("$out/%s has mode %v, want %v", p, got, want)
		}
	}
	fa, _ := os.Stat(filepath.Join(dir, "a"))
	fb, _ := os.Stat(filepath.Join(dir, "b"))
	if os.SameFile(fa, fb) {
		t.Error("a hardlink survived into the cache")
	}
	_, err = f.resolve(&spec.Build{Run: "mkdir -p $out && mkfifo $out/pipe"}, "1.0", nil, false)
	if err == nil || !strings.Contains(err.Error(), "$out/pipe") {
		t.Fatalf("a fifo in the output: err = %v", err)
	}
}

// A pin holds across host changes; a changed step with another output is
// refused (not silently re-pinned); --frozen refuses a step without a pin.
func TestFixedOutputPinRules(t *testing.T) {
	f := newFixture(t)
	b := &spec.Build{Run: "mkdir -p $out && cat /proc/sys/kernel/random/uuid > $out/fetched", Network: true}
	r, err := f.resolve(b, "1.0", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	// Another build closure version (a host or closure change): the pin and
	// its cached output still hold, the step does not run.
	r2, err := f.resolve(b, "2.0", r.Lock, false)
	if err != nil {
		t.Fatal(err)
	}
	if output(t, r, "fetched") != output(t, r2, "fetched") {
		t.Fatal("a closure change dropped the fixed-output pin")
	}
	changed := &spec.Build{Run: b.Run + " && echo more >> $out/fetched", Network: true}
	_, err = f.resolve(changed, "1.0", r.Lock, false)
	if err == nil || !strings.Contains(err.Error(), "changed since the pin") || !strings.Contains(err.Error(), "strata lock --update app") {
		t.Fatalf("changed step: err = %v", err)
	}
	s := &Source{name: "app", build: b, specDir: f.dir, cache: f.cache, frozen: true}
	_, err = s.Resolve(context.Background(), closure.Request{
		Env: closure.Env{Getenv: func(string) string { return "" }}, Platform: closure.Platform{OS: "linux", Arch: "amd64"},
		Needed: map[string]*closure.Result{ClosureSourceName("app"): busyboxClosure(t, "1.0")},
	})
	if err == nil || !strings.Contains(err.Error(), "--frozen") {
		t.Fatalf("frozen without a pin: err = %v", err)
	}
}

// --check on a cold cache runs the step twice and compares.
func TestCheckOnAColdCache(t *testing.T) {
	f := newFixture(t)
	_, err := f.resolve(&spec.Build{Src: "src", Run: stampRun}, "1.0", nil, true)
	if err == nil || !strings.Contains(err.Error(), "not reproducible") {
		t.Fatalf("--check with nothing cached: err = %v", err)
	}
}
