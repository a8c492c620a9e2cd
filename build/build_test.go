package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

// fakeSource is a closure.Source whose answers the test sets; it records
// the requests it got.
type fakeSource struct {
	name     string
	needs    []string
	key      string // InputsKey when non-empty (then it is an InputKeyer)
	nodes    []*closure.Node
	lock     string
	err      error
	calls    *[]string // shared log of calls, in order
	requests []closure.Request
}

func (f *fakeSource) Name() string { return f.name }

func (f *fakeSource) Resolve(_ context.Context, req closure.Request) (*closure.Result, error) {
	*f.calls = append(*f.calls, "resolve "+f.name)
	f.requests = append(f.requests, req)
	if f.err != nil {
		return nil, f.err
	}
	g := closure.New()
	for _, n := range f.nodes {
		cp := *n
		if err := g.Add(&cp); err != nil {
			return nil, err
		}
		g.Roots = append(g.Roots, n.ID)
	}
	var lock json.RawMessage
	if f.lock != "" {
		lock = json.RawMessage(f.lock)
	}
	return &closure.Result{Graph: g, Lock: lock}, nil
}

type needer struct{ *fakeSource }

func (n needer) Needs() []string { return n.needs }

type keyer struct{ *fakeSource }

func (k keyer) InputsKey() (json.RawMessage, error) { return json.RawMessage(k.key), nil }

type locker struct{ *fakeSource }

func (l locker) Lock(_ context.Context, req closure.Request) (json.RawMessage, error) {
	*l.calls = append(*l.calls, "lock "+l.name)
	return json.RawMessage(l.lock), nil
}

func fileNode(id, path, content string) *closure.Node {
	sum := sha256.Sum256([]byte(content))
	return &closure.Node{
		ID: id, Kind: closure.KindFiles, Name: id, Size: int64(len(content)),
		Contents: closure.StaticContents{ID: "test:" + hex.EncodeToString(sum[:]), List: []closure.Entry{{
			Path: path, Type: closure.Regular, Mode: 0o644, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil },
		}}},
	}
}

func testSpec(t *testing.T, yaml string) *spec.Spec {
	t.Helper()
	s, err := spec.Parse(filepath.Join(t.TempDir(), "strata.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testOptions(t *testing.T, sources ...closure.Source) Options {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Cache:     st,
		Factories: []Factory{func(*spec.Spec, cache.Cache) []closure.Source { return sources }},
		Env:       closure.Env{Getenv: func(string) string { return "" }},
	}
}

func TestSourcesRunAfterWhatTheyNeed(t *testing.T) {
	var calls []string
	closureSrc := &fakeSource{name: "closure", calls: &calls, nodes: []*closure.Node{fileNode("files:tool", "usr/bin/tool", "tool")}}
	step := &fakeSource{name: "step", needs: []string{"closure"}, calls: &calls, nodes: []*closure.Node{fileNode("files:out", "srv/index.html", "hi")}}
	// The step is listed first; build must still resolve its need first.
	opt := testOptions(t, needer{step}, closureSrc)
	s := testSpec(t, "name: app\n")
	r, err := Resolve(context.Background(), s, opt, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, ", "); got != "resolve closure, resolve step" {
		t.Fatalf("calls = %s", got)
	}
	got := step.requests[0].Needed["closure"]
	if got == nil || got.Graph.Nodes["files:tool"] == nil {
		t.Fatalf("the step did not get the closure's graph: %+v", step.requests[0].Needed)
	}
	if r.Graphs[0].Nodes["files:out"] == nil || r.Graphs[0].Nodes["files:tool"] == nil {
		t.Fatalf("image graph = %v", r.Graphs[0].IDs())
	}
}

func TestSourceOrderErrors(t *testing.T) {
	var calls []string
	for name, tc := range map[string]struct {
		sources []closure.Source
		want    string
	}{
		"cycle": {[]closure.Source{
			needer{&fakeSource{name: "a", needs: []string{"b"}, calls: &calls}},
			needer{&fakeSource{name: "b", needs: []string{"a"}, calls: &calls}},
		}, "cycle: a -> b -> a"},
		"unknown":   {[]closure.Source{needer{&fakeSource{name: "a", needs: []string{"zzz"}, calls: &calls}}}, `needs "zzz"`},
		"duplicate": {[]closure.Source{&fakeSource{name: "a", calls: &calls}, &fakeSource{name: "a", calls: &calls}}, `two sources of app are named "a"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Resolve(context.Background(), testSpec(t, "name: app\n"), testOptions(t, tc.sources...), ResolveOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if len(calls) != 0 {
		t.Fatalf("a source ran although the order was invalid: %v", calls)
	}
}

func TestSourceErrorNamesSourceAndPlatform(t *testing.T) {
	var calls []string
	bad := &fakeSource{name: "debian", calls: &calls, err: errors.New("no such package")}
	_, err := Resolve(context.Background(), testSpec(t, "name: app\n"), testOptions(t, bad), ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "resolving debian inputs for linux/amd64: no such package") {
		t.Fatalf("err = %v", err)
	}
}

// The --frozen hash is built from the sources' InputsKeys; for the
// built-in sources it equals the hash strata wrote before sources had
// keys, so existing locks stay valid.
func TestInputsHashKeepsTheFormatOfExistingLocks(t *testing.T) {
	s := testSpec(t, `name: app
base: oci:base:v1
debian: {suite: bookworm, packages: [hello], exclude: [x]}
nix: {paths: [/nix/store/00000000000000000000000000000000-a]}
`)
	opt := testOptions(t)
	opt.Factories = nil
	sources, err := sourcesOf(s, opt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := InputsHash(sources, []string{"linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	old := struct {
		Platforms []string     `json:"platforms"`
		Debian    *spec.Debian `json:"debian,omitempty"`
		Nix       *spec.Nix    `json:"nix,omitempty"`
		Base      string       `json:"base,omitempty"`
	}{[]string{"linux/amd64"}, s.Debian, s.Nix, s.Base}
	b, _ := json.Marshal(old)
	sum := sha256.Sum256(b)
	if want := "sha256:" + hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("InputsHash = %s, want the pre-existing %s", got, want)
	}
}

func TestFrozenComparesInputKeys(t *testing.T) {
	var calls []string
	src := keyer{&fakeSource{name: "pkgs", key: `{"packages":["a"]}`, lock: `{"v":1}`, calls: &calls}}
	opt := testOptions(t, src)
	s := testSpec(t, "name: app\n")
	if _, err := Lock(context.Background(), s, opt, ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	opt.Frozen = true
	if _, err := Resolve(context.Background(), s, opt, ResolveOptions{}); err != nil {
		t.Fatalf("frozen with an unchanged key: %v", err)
	}
	src.key = `{"packages":["a","b"]}`
	_, err := Resolve(context.Background(), s, opt, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "inputs changed since") {
		t.Fatalf("frozen with a changed key: err = %v", err)
	}
}

func TestLockUsesLockerWithoutResolving(t *testing.T) {
	var calls []string
	l := locker{&fakeSource{name: "debian", lock: `{"packages":[]}`, calls: &calls}}
	plain := &fakeSource{name: "files", calls: &calls}
	s := testSpec(t, "name: app\n")
	lf, err := Lock(context.Background(), s, testOptions(t, l, plain), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, ", "); got != "lock debian, resolve files" {
		t.Fatalf("calls = %s", got)
	}
	if string(lf.Section("debian", "linux/amd64")) != `{"packages":[]}` {
		t.Fatalf("lock section = %s", lf.Section("debian", "linux/amd64"))
	}
	back, err := lockfile.Read(LockPath(s))
	if err != nil || back.InputsHash != lf.InputsHash {
		t.Fatalf("written lock = %+v, %v", back, err)
	}
	// The next build hands the section back to the source.
	if _, err := Resolve(context.Background(), s, testOptions(t, l, plain), ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Compact(&got, l.requests[0].Locked); err != nil || got.String() != `{"packages":[]}` {
		t.Fatalf("Locked = %q (%v)", l.requests[0].Locked, err)
	}
}

func TestBuildWithFakeSourcesEmitsTypedEvents(t *testing.T) {
	var calls []string
	a := &fakeSource{name: "a", calls: &calls, nodes: []*closure.Node{fileNode("files:a", "a.txt", "a"), fileNode("files:b", "b.txt", "b")}}
	opt := testOptions(t, a)
	var rec events.Recorder
	opt.Env.Events = events.New(rec.Handle)
	s := testSpec(t, "name: app\nlayering: {budget: 5}\n")
	r, err := Build(context.Background(), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Artifact().(v1.Image); !ok {
		t.Fatalf("a one-platform build's artifact is %T, want a v1.Image", r.Artifact())
	}
	if err := validate.Image(r.Images[0].Image); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(r.Images[0].Layers) != 2 {
		t.Fatalf("layers = %d, want 2 (one per node)", len(r.Images[0].Layers))
	}
	prog := rec.Of(events.Progress)
	if len(prog) != 2 || prog[1].Done != 2 || prog[1].Total != 2 || prog[1].Stage != events.StageLayer || prog[1].Scope != "linux/amd64" {
		t.Fatalf("progress events = %+v", prog)
	}
	if infos := rec.Of(events.Info); len(infos) == 0 || !strings.Contains(infos[0].Message, "resolving a inputs for linux/amd64") {
		t.Fatalf("info events = %+v", infos)
	}
	// Same inputs, fresh cache: the same digest.
	r2, err := Build(context.Background(), s, testOptions(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Digest != r.Digest {
		t.Fatalf("digests differ: %s vs %s", r.Digest, r2.Digest)
	}
}

func TestOnLayerGetsEveryLayerBeforeBuildReturns(t *testing.T) {
	var calls []string
	a := &fakeSource{name: "a", calls: &calls, nodes: []*closure.Node{fileNode("files:a", "a.txt", "a"), fileNode("files:b", "b.txt", "b"), fileNode("files:c", "c.txt", "c")}}
	opt := testOptions(t, a)
	var mu sync.Mutex
	got := map[string]bool{}
	opt.OnLayer = func(_ context.Context, s *spec.Spec, _ int, l v1.Layer) error {
		d, _ := l.Digest()
		mu.Lock()
		defer mu.Unlock()
		got[s.Name+" "+d.String()] = true
		return nil
	}
	r, err := Build(context.Background(), testSpec(t, "name: app\n"), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, li := range r.Images[0].Layers {
		if !got["app "+li.Digest.String()] {
			t.Errorf("layer %s (%s) never reached OnLayer", li.Digest, li.Title)
		}
	}
	if len(got) != 3 {
		t.Fatalf("OnLayer saw %d layers, want 3", len(got))
	}
	opt.OnLayer = func(context.Context, *spec.Spec, int, v1.Layer) error { return errors.New("disk full") }
	if _, err := Build(context.Background(), testSpec(t, "name: app\n"), opt); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("an OnLayer error must fail the build, got %v", err)
	}
}

// TestLockUpdateReplacesUnreadableLocks: a damaged lock or one of another
// format version blocks builds with an error naming `strata lock --update`,
// and that command then works, with a warning saying what it replaces.
func TestLockUpdateReplacesUnreadableLocks(t *testing.T) {
	for _, c := range []struct{ name, lock, what string }{
		{"damaged", "{\"version\": 1, \"sources\": ", "is not a readable lock"},
		{"newer", `{"version": 99}`, "version 99, written by a newer strata"},
		{"older", `{"version": 0}`, "lock format version 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls []string
			l := locker{&fakeSource{name: "debian", lock: `{"packages":[]}`, calls: &calls}}
			s := testSpec(t, "name: app\n")
			if err := os.WriteFile(LockPath(s), []byte(c.lock), 0o644); err != nil {
				t.Fatal(err)
			}
			opt := testOptions(t, l)
			_, err := Resolve(context.Background(), s, opt, ResolveOptions{})
			if err == nil || !strings.Contains(err.Error(), c.what) || !strings.Contains(err.Error(), "strata lock --update") {
				t.Fatalf("build with a %s lock: err = %v", c.name, err)
			}
			for _, names := range [][]string{nil, {"libc6"}} {
				var rec events.Recorder
				opt.Env.Events = events.New(rec.Handle)
				if _, err := Lock(context.Background(), s, opt, ResolveOptions{Update: true, UpdateNames: names}); err != nil {
					t.Fatalf("lock --update %v over a %s lock: %v", names, c.name, err)
				}
				if _, err := lockfile.Read(LockPath(s)); err != nil {
					t.Fatalf("the rewritten lock: %v", err)
				}
				if err := os.WriteFile(LockPath(s), []byte(c.lock), 0o644); err != nil {
					t.Fatal(err)
				}
				ws := rec.Of(events.Warning)
				if len(ws) != 1 || !strings.Contains(ws[0].Message, "replacing "+LockPath(s)) || !strings.Contains(ws[0].Message, c.what) {
					t.Fatalf("warnings %+v, want one saying what is replaced", ws)
				}
				if names != nil && !strings.Contains(ws[0].Message, "not only libc6") {
					t.Errorf("warning %q should say that every input is resolved again", ws[0].Message)
				}
			}
		})
	}
}
