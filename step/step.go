package step

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/closure/files"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/sandbox"
	"github.com/stratabuild/strata/spec"
)

// keyVersion is bumped when the same inputs would give another output.
const keyVersion = "strata-step-1"

// Cache kinds.
const (
	outKind  = "step-out"  // Trees: an output by step key (or fixed-output hash)
	rootKind = "step-root" // Trees: a materialized build closure by closure key
	infoKind = "step-info" // Index: a step key's record (tree hash)
	logKind  = "step-log"  // Index: a step key's log
)

// OutputNodeID is the ID of a step's output node in its private graph.
func OutputNodeID(name string) string { return "build:" + name }

// SourceName is the source (and lock section) name of step name;
// ClosureSourceName that of its build closure.
func SourceName(name string) string        { return "build/" + name }
func ClosureSourceName(name string) string { return "build/" + name + "/debian" }

// Meta keys of an output node.
const (
	MetaDir      = "dir"      // the output's cache folder on this machine
	MetaTreeHash = "treeHash" // the hash of the normalized output tree
	MetaKey      = "key"      // the step's input key
	MetaRuntime  = "runtime"  // auto or none
)

// Options configure the step sources of a spec.
type Options struct {
	// Check runs every step again, ignoring the cache, and fails naming
	// the first file that differs from the cached output.
	Check bool
	// Frozen refuses a fixed-output step that strata.lock does not pin.
	Frozen bool
}

// Factory returns a spec's build-step sources: for each step its closure
// source and its own.
func Factory(opt Options) func(s *spec.Spec, c cache.Cache) []closure.Source {
	return func(s *spec.Spec, c cache.Cache) []closure.Source {
		names := make([]string, 0, len(s.Builds))
		for n := range s.Builds {
			names = append(names, n)
		}
		sort.Strings(names)
		var out []closure.Source
		for _, n := range names {
			d := s.StepDebian(n)
			cs := &closureSource{step: n, deb: deb.New(&spec.Spec{Name: s.Name, Dir: s.Dir, Path: s.Path, Debian: d}, c, deb.WithName(ClosureSourceName(n)))}
			out = append(out, cs, &Source{name: n, build: s.Builds[n], specDir: s.Dir, cache: c, check: opt.Check, frozen: opt.Frozen})
		}
		return out
	}
}

// closureSource is a step's build closure: a Debian source whose graph is
// private (it never reaches the image).
type closureSource struct {
	step string
	deb  *deb.Source
}

var (
	_ closure.Locker     = (*closureSource)(nil)
	_ closure.InputKeyer = (*closureSource)(nil)
)

func (c *closureSource) Name() string { return c.deb.Name() }

func (c *closureSource) InputsKey() (json.RawMessage, error) { return c.deb.InputsKey() }

func (c *closureSource) Lock(ctx context.Context, req closure.Request) (json.RawMessage, error) {
	return c.deb.Lock(ctx, req)
}

// VerifyLock implements closure.LockVerifier for the step's closure.
func (c *closureSource) VerifyLock(ctx context.Context, req closure.Request) (int, error) {
	return c.deb.VerifyLock(ctx, req)
}

func (c *closureSource) Resolve(ctx context.Context, req closure.Request) (*closure.Result, error) {
	res, err := c.deb.Resolve(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("the build closure of step %s: %w", c.step, err)
	}
	return &closure.Result{Graph: closure.New(), Private: res.Graph, Lock: res.Lock, Wait: res.Wait}, nil
}

// Source is one build step.
type Source struct {
	name    string
	build   *spec.Build
	specDir string
	cache   cache.Cache
	check   bool
	frozen  bool
}

var (
	_ closure.Needer     = (*Source)(nil)
	_ closure.InputKeyer = (*Source)(nil)
	_ closure.Locker     = (*Source)(nil)
	_ closure.Recorder   = (*Source)(nil)
)

func (s *Source) Name() string { return SourceName(s.name) }

// Needs implements closure.Needer: the build closure and the input steps.
func (s *Source) Needs() []string {
	out := []string{ClosureSourceName(s.name)}
	for _, in := range sortedKeys(s.build.Inputs) {
		out = append(out, SourceName(in))
	}
	return out
}

// InputsKey implements closure.InputKeyer: the step as written.
func (s *Source) InputsKey() (json.RawMessage, error) { return json.Marshal(s.build) }

// RecordsOnBuild implements closure.Recorder: the lock section (key, tree
// hash, fixed-output hash) is what the last build found.
func (s *Source) RecordsOnBuild() {}

// Lock implements closure.Locker: `strata lock` runs no step; it keeps
// the recorded section, except that `lock --update` (all, or naming this
// step) drops it so that the next build records the step anew.
func (s *Source) Lock(_ context.Context, req closure.Request) (json.RawMessage, error) {
	if req.Update && (len(req.UpdateNames) == 0 || slices.Contains(req.UpdateNames, s.name) || slices.Contains(req.UpdateNames, s.Name())) {
		return nil, nil
	}
	return req.Locked, nil
}

// Lock is a step's strata.lock section.
type Lock struct {
	// Key is the input key of the step as last built.
	Key string `json:"key"`
	// TreeHash is the hash of its normalized output.
	TreeHash string `json:"treeHash"`
	// OutputHash pins a fixed-output step's output (its TreeHash).
	OutputHash string `json:"outputHash,omitempty"`
	// Inputs hashes what the user controls of a fixed-output step (run,
	// env, src, passEnv names, input outputs), not the host (sandbox
	// version) or the closure: the pin holds until these change.
	Inputs string `json:"inputs,omitempty"`
}

type keyInput struct {
	Version  string            `json:"v"`
	Sandbox  string            `json:"sandbox"`
	Platform string            `json:"platform"`
	Closure  []string          `json:"closure"`
	Src      string            `json:"src"`
	Inputs   []keyMount        `json:"inputs"`
	Run      string            `json:"run"`
	Env      map[string]string `json:"env"`
	Network  bool              `json:"network"`
	PassEnv  []string          `json:"passEnv"`
	Epoch    int64             `json:"sourceDateEpoch"`
}

type keyMount struct {
	Step, Path, Tree string
}

func (s *Source) Resolve(ctx context.Context, req closure.Request) (*closure.Result, error) {
	req.Env = req.Env.WithDefaults()
	log := req.Env.Events.With("build " + s.name)
	cres := req.Needed[ClosureSourceName(s.name)]
	if cres == nil || cres.Private == nil {
		return nil, fmt.Errorf("step %s: its build closure was not resolved", s.name)
	}
	cg := cres.Private
	version, err := sandbox.Version(ctx)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", s.name, err)
	}
	ki := keyInput{Version: keyVersion, Sandbox: version, Platform: req.Platform.String(), Run: s.build.Run, Env: s.build.Env, Network: s.build.Network, PassEnv: s.build.PassEnv}
	for _, id := range cg.IDs() {
		if c := cg.Nodes[id].Contents; c != nil {
			ki.Closure = append(ki.Closure, id+"="+c.Key())
		}
	}
	var srcDir string
	if s.build.Src != "" {
		srcDir = filepath.Join(s.specDir, filepath.FromSlash(s.build.Src))
		if fi, err := os.Lstat(srcDir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("step %s: src %q is a symlink: name the folder it points to (a symlink's target is not what the step's key hashes)", s.name, s.build.Src)
		}
		if err := files.Inside(s.specDir, s.build.Src, true); err != nil {
			return nil, fmt.Errorf("step %s: src: %w", s.name, err)
		}
		n, err := files.Node(ctx, s.specDir, 0, spec.File{Src: s.build.Src, Dst: "/src"})
		if err != nil {
			return nil, fmt.Errorf("step %s: hashing src: %w", s.name, err)
		}
		ki.Src = n.Contents.Key()
	}
	var mounts []sandbox.Mount
	if s.build.Network {
		// A fixed-output step reaches the network with the host's trust
		// store (as Nix's fixed-output derivations do): its output is
		// checked by hash, and the host may sit behind a TLS proxy that
		// Debian's CA bundle does not know.
		if _, err := os.Stat(hostCABundle); err == nil {
			mounts = append(mounts, sandbox.Mount{Src: hostCABundle, Dst: hostCABundle})
		}
	}
	if srcDir != "" {
		mounts = append(mounts, sandbox.Mount{Src: srcDir, Dst: "/src"})
	}
	for _, in := range sortedKeys(s.build.Inputs) {
		r := req.Needed[SourceName(in)]
		if r == nil || r.Private == nil || r.Private.Nodes[OutputNodeID(in)] == nil {
			return nil, fmt.Errorf("step %s: input step %s was not built", s.name, in)
		}
		out := r.Private.Nodes[OutputNodeID(in)]
		ki.Inputs = append(ki.Inputs, keyMount{Step: in, Path: s.build.Inputs[in], Tree: out.Meta[MetaTreeHash]})
		mounts = append(mounts, sandbox.Mount{Src: out.Meta[MetaDir], Dst: s.build.Inputs[in]})
	}
	ki.Epoch = epochOf(req.Env.Getenv)
	kb, err := json.Marshal(ki)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(kb)
	key := hex.EncodeToString(sum[:])
	// The fixed-output identity: what the user controls, not the host.
	fo := ki
	fo.Sandbox, fo.Closure, fo.Platform, fo.Version = "", nil, "", keyVersion+"-fo"
	fb, _ := json.Marshal(fo)
	fsum := sha256.Sum256(fb)
	foInputs := hex.EncodeToString(fsum[:])

	var locked Lock
	if len(req.Locked) > 0 {
		if err := json.Unmarshal(req.Locked, &locked); err != nil {
			return nil, fmt.Errorf("step %s: reading its section of strata.lock: %w (run `strata lock --update %s`)", s.name, err, s.name)
		}
	}
	run := runner{s: s, req: req, log: log, cg: cg, mounts: mounts, key: key, foInputs: foInputs}
	var dir, tree string
	if s.build.Network {
		dir, tree, err = run.fixedOutput(ctx, locked)
	} else {
		dir, tree, err = run.inputAddressed(ctx)
	}
	ran := "false"
	if run.ran {
		ran = "true"
	}
	if err != nil {
		return nil, err
	}
	lock := Lock{Key: key, TreeHash: tree}
	if s.build.Network {
		lock.OutputHash, lock.Inputs = tree, foInputs
	}
	raw, err := json.Marshal(lock)
	if err != nil {
		return nil, err
	}
	runtime := s.build.Runtime
	if runtime == "" {
		runtime = "auto"
	}
	priv := closure.New()
	if err := priv.Merge(cg); err != nil {
		return nil, err
	}
	priv.Roots = nil
	out := &closure.Node{
		ID: OutputNodeID(s.name), Kind: closure.KindStep, Name: s.name, Version: tree[len(tree)-12:],
		Meta: map[string]string{MetaDir: dir, MetaTreeHash: tree, MetaKey: key, MetaRuntime: runtime, "src": s.build.Src, "ran": ran, "srcHash": strings.TrimPrefix(ki.Src, "files:"), "closure": closureList(cg)},
	}
	if err := priv.Add(out); err != nil {
		return nil, err
	}
	priv.Roots = []string{out.ID}
	return &closure.Result{Graph: closure.New(), Private: priv, Lock: raw}, nil
}

// closureList is the build closure as "name version" lines, for SBOMs.
func closureList(g *closure.Graph) string {
	var lines []string
	for _, id := range g.IDs() {
		if n := g.Nodes[id]; n.Kind == closure.KindDeb {
			lines = append(lines, n.Name+" "+n.Version)
		}
	}
	return strings.Join(lines, "\n")
}

// TreeHash is the hash of a step output folder, normalized the way the
// files source normalizes a folder (modes, owners, times do not count).
func TreeHash(ctx context.Context, dir string) (string, error) {
	n, err := files.Node(ctx, dir, 0, spec.File{Src: ".", Dst: "/out"})
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(n.Contents.Key(), "files:"), nil
}

// runner runs one step.
type runner struct {
	s      *Source
	req    closure.Request
	log    *events.Log
	cg     *closure.Graph
	mounts []sandbox.Mount
	key    string
	// foInputs is the fixed-output identity (Lock.Inputs).
	foInputs string
	ran      bool // the step ran (its output did not come from the cache)
}

// inputAddressed returns the output cached under the key, running the
// step when it is missing (or always, with --check). The output is
// normalized and hashed before it enters the cache, so an output that
// cannot be hashed leaves no entry.
func (r *runner) inputAddressed(ctx context.Context) (dir, tree string, err error) {
	ran := false
	dir, err = r.s.cache.PutDir(outKind, r.key, func(tmp string) error {
		ran = true
		if err := r.run(ctx, tmp); err != nil {
			return err
		}
		t, err := r.finish(ctx, tmp)
		if err != nil {
			return err
		}
		tree = t
		return r.s.cache.Put(infoKind, r.key, []byte(t))
	})
	if err != nil {
		return "", "", err
	}
	if !ran {
		if tree, err = r.treeOf(ctx, dir); err != nil {
			return "", "", err
		}
		if !r.s.check {
			r.log.Infof("cached (key %s)", r.key[:12])
		}
	}
	// --check compares a second run with the first, even when the first
	// was this build's own (a cold cache).
	if r.s.check {
		if err := r.check(ctx, dir, tree); err != nil {
			return "", "", err
		}
	}
	return dir, tree, nil
}

// finish normalizes a fresh output and returns its tree hash.
func (r *runner) finish(ctx context.Context, out string) (string, error) {
	if err := normalizeOutput(out); err != nil {
		return "", fmt.Errorf("step %s: its output: %w", r.s.name, err)
	}
	tree, err := TreeHash(ctx, out)
	if err != nil {
		return "", fmt.Errorf("step %s: hashing its output: %w", r.s.name, err)
	}
	return tree, nil
}

// fixedOutput returns a network step's output: the pinned one from the
// cache when strata.lock pins it and the step's own inputs did not change,
// else a fresh run, which must give the pin when there is one. A pin is
// dropped only by `strata lock --update STEP`; with --frozen a step
// without a pin is refused.
func (r *runner) fixedOutput(ctx context.Context, locked Lock) (dir, tree string, err error) {
	pinned := locked.OutputHash
	inLock := pinned != ""
	changed := inLock && locked.Inputs != "" && locked.Inputs != r.foInputs
	if !inLock {
		if r.s.frozen {
			return "", "", fmt.Errorf("step %s is fixed-output and strata.lock pins no output for it (--frozen): build once without --frozen to record it", r.s.name)
		}
		// Without a pin in strata.lock, this machine's last run of the
		// same inputs is reused (and is what the lock will record).
		if b, err := r.s.cache.Get(infoKind, "fo-"+r.key); err == nil {
			pinned = string(b)
		}
	}
	if pinned != "" && !changed && !r.s.check {
		if d, err := r.s.cache.PutDir(outKind, "fo-"+pinned, func(string) error { return errNotCached }); err == nil {
			return d, pinned, nil
		} else if !errors.Is(err, errNotCached) {
			return "", "", err
		}
	}
	tmpParent, err := os.MkdirTemp("", "strata-step-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmpParent)
	tmp := filepath.Join(tmpParent, "out")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", "", err
	}
	if err := r.run(ctx, tmp); err != nil {
		return "", "", err
	}
	got, err := r.finish(ctx, tmp)
	if err != nil {
		return "", "", err
	}
	if pinned != "" && got != pinned {
		where, why := "this machine's last run", "the step is not reproducible, or the network served other content"
		if inLock {
			where = "strata.lock"
			if changed {
				why = "the step's run, env, src or inputs changed since the pin"
			}
		}
		return "", "", fmt.Errorf("step %s is fixed-output: %s pins its output as %s but this run gave %s (%s): %s", r.s.name, where, pinned, got, why, fixedOutputFix(r.s.name, inLock, changed))
	}
	dir, err = r.s.cache.PutDir(outKind, "fo-"+got, func(dst string) error { return copyTree(tmp, dst) })
	if err != nil {
		return "", "", err
	}
	if err := r.s.cache.Put(infoKind, "fo-"+r.key, []byte(got)); err != nil {
		return "", "", err
	}
	return dir, got, nil
}

func fixedOutputFix(name string, inLock, changed bool) string {
	switch {
	case inLock && changed:
		return fmt.Sprintf("to pin the new output, run `strata lock --update %s` and build again", name)
	case inLock:
		return fmt.Sprintf("if the new content is expected, run `strata lock --update %s` and build again; otherwise find what in the step is not reproducible (`strata log %s`)", name, name)
	}
	return fmt.Sprintf("make the step reproducible (`strata log %s` shows what it did)", name)
}

var errNotCached = errors.New("not cached")

// hostCABundle is where Debian (and most distributions) keep the CA bundle.
const hostCABundle = "/etc/ssl/certs/ca-certificates.crt"

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// treeOf returns the recorded tree hash of an output, hashing it once.
func (r *runner) treeOf(ctx context.Context, dir string) (string, error) {
	if b, err := r.s.cache.Get(infoKind, r.key); err == nil {
		return string(b), nil
	}
	tree, err := TreeHash(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("step %s: hashing its output: %w", r.s.name, err)
	}
	return tree, r.s.cache.Put(infoKind, r.key, []byte(tree))
}

// check runs the step again into a temporary folder and compares.
func (r *runner) check(ctx context.Context, dir, tree string) error {
	tmpParent, err := os.MkdirTemp("", "strata-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpParent)
	tmp := filepath.Join(tmpParent, "out")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	if err := r.run(ctx, tmp); err != nil {
		return err
	}
	got, err := r.finish(ctx, tmp)
	if err != nil {
		return err
	}
	if got == tree {
		r.log.Infof("--check: the output is identical (%s)", short(tree))
		return nil
	}
	return fmt.Errorf("--check: step %s is not reproducible: %s", r.s.name, FirstDifference(ctx, dir, tmp))
}

// run materializes the closure and runs the step with out as $out.
func (r *runner) run(ctx context.Context, out string) error {
	root, err := r.root(ctx)
	if err != nil {
		return err
	}
	r.ran = true
	env := map[string]string{}
	for k, v := range r.s.build.Env {
		env[k] = v
	}
	for _, k := range r.s.build.PassEnv {
		if v := r.req.Env.Getenv(k); v != "" {
			env[k] = v
		}
	}
	epoch := epochOf(r.req.Env.Getenv)
	r.log.Infof("running (key %s)", r.key[:12])
	var buf bytes.Buffer
	lw := &lastLine{log: r.log, name: r.s.name}
	err = sandbox.Run(ctx, sandbox.Spec{
		Root: root, Mounts: r.mounts, Out: out, Env: env, Run: r.s.build.Run,
		Network: r.s.build.Network, SourceDateEpoch: epoch, Log: io.MultiWriter(&buf, lw),
	})
	r.log.Emit(events.Event{Kind: events.Progress, Stage: "build", Scope: r.s.name, Task: "build " + r.s.name, End: true})
	if perr := r.s.cache.Put(logKind, r.key, buf.Bytes()); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("step %s failed: %w\n%s(the whole log: `strata log --key %s`)", r.s.name, err, tail(buf.Bytes(), 20), r.key)
	}
	return nil
}

// root returns the build closure materialized as a root filesystem,
// cached per closure.
func (r *runner) root(ctx context.Context) (string, error) {
	h := sha256.New()
	var entries []closure.Entry
	for _, id := range r.cg.IDs() {
		n := r.cg.Nodes[id]
		if n.Contents == nil {
			continue
		}
		fmt.Fprintf(h, "%s=%s\n", id, n.Contents.Key())
	}
	key := hex.EncodeToString(h.Sum(nil))
	return r.s.cache.PutDir(rootKind, key, func(tmp string) error {
		for _, id := range r.cg.IDs() {
			n := r.cg.Nodes[id]
			if n.Contents == nil {
				continue
			}
			es, err := n.Contents.Entries(ctx)
			if err != nil {
				return err
			}
			entries = append(entries, es...)
		}
		r.log.Infof("unpacking the build closure (%d packages)", len(r.cg.Nodes))
		return sandbox.Materialize(ctx, tmp, entries)
	})
}

// epochOf is SOURCE_DATE_EPOCH as a step sees it (1, strata's default
// mtime, when unset or not a non-negative integer). It is part of the key.
func epochOf(getenv func(string) string) int64 {
	if v := getenv("SOURCE_DATE_EPOCH"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	return 1
}

// Log returns the log of the step run under key.
func Log(c cache.Index, key string) ([]byte, error) { return c.Get(logKind, key) }

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString("  | " + l + "\n")
	}
	return sb.String()
}

// lastLine turns a step's log into Progress events carrying its last line.
type lastLine struct {
	mu   sync.Mutex
	log  *events.Log
	name string
	buf  []byte
	n    int
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.n++
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		l.log.Emit(events.Event{Kind: events.Progress, Stage: "build", Scope: l.name, Task: "build " + l.name, Done: l.n, Subject: line})
	}
	return len(p), nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
