package nix

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
)

// Source resolves Nix store closures into graph nodes. It implements
// closure.Source with the lock section name "nix".
type Source struct {
	paths        []string
	installables []string
	closureFile  string
	register     bool
	specDir      string
	spec         *spec.Nix // as written, for InputsKey; nil for FromPaths
	st           cache.Cache
	// viaNixStore makes the store query use nix-store even when nix is on
	// PATH (the fallback path, exercised by tests).
	viaNixStore bool
}

// Option changes a Source made by FromPaths.
type Option func(*Source)

// WithClosureFile reads the closure from a closure file instead of the
// store (as the spec's nix.closureFile does).
func WithClosureFile(file string) Option { return func(s *Source) { s.closureFile = file } }

// New returns the Source for the spec's nix: section; a spec without one
// resolves to an empty graph.
func New(s *spec.Spec, st cache.Cache) *Source {
	src := &Source{st: st, specDir: s.Dir, spec: s.Nix}
	if n := s.Nix; n != nil {
		src.paths = append(src.paths, n.Paths...)
		src.installables = append(src.installables, n.Installables...)
		src.closureFile = n.ClosureFile
		src.register = n.RegisterClosure
	}
	return src
}

// FromPaths returns a Source for store paths given on the command line
// (strata build --nix PATH...); a path may also be a symlink into the
// store such as ./result.
func FromPaths(paths []string, st cache.Cache, opts ...Option) *Source {
	src := &Source{st: st, paths: append([]string(nil), paths...)}
	for _, o := range opts {
		o(src)
	}
	return src
}

// Factory returns the Nix source of a spec with a nix block.
func Factory(s *spec.Spec, st cache.Cache) []closure.Source {
	if s.Nix == nil {
		return nil
	}
	return []closure.Source{New(s, st)}
}

// Name implements closure.Source.
func (s *Source) Name() string { return "nix" }

var _ closure.InputKeyer = (*Source)(nil)

// InputsKey implements closure.InputKeyer: the nix block as written, or
// for a spec-less --nix build the paths it was given.
func (s *Source) InputsKey() (json.RawMessage, error) {
	if s.spec != nil {
		return json.Marshal(s.spec)
	}
	return json.Marshal(spec.Nix{Paths: s.paths})
}

// Lock is the source's strata.lock section: the requested roots and every
// store path of the closure with its narHash, sorted by path.
type Lock struct {
	Roots []string     `json:"roots"`
	Paths []LockedPath `json:"paths"`
}

// LockedPath pins one store path's contents.
type LockedPath struct {
	Path    string `json:"path"`
	NarHash string `json:"narHash"`
}

// Resolve implements closure.Source.
func (s *Source) Resolve(ctx context.Context, req closure.Request) (*closure.Result, error) {
	log := req.Env.Events.With("nix")
	dir := req.SpecDir
	if dir == "" {
		dir = s.specDir
	}
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("resolving nix inputs: %w", err)
		}
	}
	if len(s.paths) == 0 && len(s.installables) == 0 && s.closureFile == "" {
		return &closure.Result{Graph: closure.New()}, nil
	}
	if p := req.Platform; p.OS != "" && p.OS != "linux" {
		return nil, fmt.Errorf("platform %s: Nix store paths in an image need a Linux kernel (build for linux/%s, or drop the nix inputs for %s)", p, p.Arch, p.OS)
	}
	if p := req.Platform; p.OS != "" && (p.OS != runtime.GOOS || p.Arch != runtime.GOARCH) {
		log.Warnf("store paths go into the %s image as they are; make sure they were built for %s", p, p)
	}

	if s.closureFile == "" && len(s.paths) > 0 {
		// Say that Nix is missing before complaining about the paths.
		if _, err := lookTool("nix-store", "resolving nix.paths"); err != nil {
			return nil, err
		}
	}
	var roots []string
	for _, p := range s.paths {
		r, err := resolveRoot(p, dir)
		if err != nil {
			return nil, err
		}
		roots = append(roots, r)
	}
	if len(s.installables) > 0 {
		log.Infof("building %s", strings.Join(s.installables, " "))
		built, err := buildInstallables(ctx, dir, s.installables)
		if err != nil {
			return nil, err
		}
		roots = append(roots, built...)
	}

	var infos []PathInfo
	var err error
	if s.closureFile != "" {
		infos, roots, err = s.readClosureFile(dir, roots)
	} else {
		log.Infof("querying the closure of %d store paths", len(roots))
		infos, err = queryClosure(ctx, roots, s.viaNixStore)
	}
	if err != nil {
		return nil, err
	}
	roots = uniqueSorted(roots)
	if err := checkComplete(infos, roots); err != nil {
		return nil, err
	}
	for i := range infos {
		if infos[i].HasHash {
			continue
		}
		log.Infof("hashing %s (the closure file has no narHash for it)", infos[i].Path)
		h, n, err := narHash(ctx, infos[i].Path)
		if err != nil {
			return nil, fmt.Errorf("hashing %s, which the closure file lists without a narHash: %w", infos[i].Path, err)
		}
		infos[i].NarHash, infos[i].NarSize, infos[i].HasHash = h, n, true
	}

	lock := makeLock(roots, infos)
	if req.Locked != nil && !updates(req) {
		if err := checkLock(req.Locked, lock); err != nil {
			return nil, err
		}
	}

	g := closure.New()
	for _, in := range infos {
		if err := g.Add(node(in)); err != nil {
			return nil, err
		}
	}
	for _, r := range roots {
		g.Roots = append(g.Roots, "nix:"+r)
	}
	if s.register {
		if s.st == nil {
			return nil, fmt.Errorf("registerClosure needs strata's cache to hold the generated Nix database")
		}
		log.Infof("generating the Nix database for %d store paths", len(infos))
		n, err := buildNixDB(ctx, s.st, infos, roots)
		if err != nil {
			return nil, err
		}
		if err := g.Add(n); err != nil {
			return nil, err
		}
		g.Roots = append(g.Roots, n.ID)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("resolving nix inputs: %w", err)
	}
	raw, err := json.Marshal(lock)
	if err != nil {
		return nil, fmt.Errorf("encoding the nix lock section: %w", err)
	}
	return &closure.Result{Graph: g, Lock: raw}, nil
}

// readClosureFile reads nix.closureFile: a registration or
// exportReferencesGraph file, or a closureInfo output folder holding a
// registration file. Without requested paths the roots are the paths no
// other path refers to; with them, the closure is cut to what they reach.
func (s *Source) readClosureFile(dir string, roots []string) ([]PathInfo, []string, error) {
	file := s.closureFile
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		file = filepath.Join(file, "registration")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, fmt.Errorf("reading nix.closureFile: %w (point it at an exportReferencesGraph file or a closureInfo registration)", err)
	}
	defer f.Close()
	infos, err := ParseRegistration(f)
	if err != nil {
		return nil, nil, fmt.Errorf("reading nix.closureFile %s: %w", file, err)
	}
	if len(infos) == 0 {
		return nil, nil, fmt.Errorf("nix.closureFile %s lists no store paths", file)
	}
	if len(roots) == 0 {
		referenced := map[string]bool{}
		for _, in := range infos {
			for _, r := range in.References {
				if r != in.Path {
					referenced[r] = true
				}
			}
		}
		for _, in := range infos {
			if !referenced[in.Path] {
				roots = append(roots, in.Path)
			}
		}
		return infos, roots, nil
	}
	byPath := map[string]PathInfo{}
	for _, in := range infos {
		byPath[in.Path] = in
	}
	keep := map[string]bool{}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if keep[p] {
			continue
		}
		in, ok := byPath[p]
		if !ok {
			return nil, nil, fmt.Errorf("nix.closureFile %s does not list %s: regenerate it for the requested paths", file, p)
		}
		keep[p] = true
		stack = append(stack, in.References...)
	}
	var cut []PathInfo
	for _, in := range infos {
		if keep[in.Path] {
			cut = append(cut, in)
		}
	}
	return cut, roots, nil
}

// checkComplete makes sure the closure holds every root and reference.
func checkComplete(infos []PathInfo, roots []string) error {
	have := map[string]bool{}
	for _, in := range infos {
		have[in.Path] = true
	}
	for _, r := range roots {
		if !have[r] {
			return fmt.Errorf("nix closure lacks the requested path %s: is it built and valid? (nix-store --realise %s)", r, r)
		}
	}
	for _, in := range infos {
		for _, r := range in.References {
			if !have[r] {
				return fmt.Errorf("nix closure is incomplete: %s refers to %s, which it does not list (regenerate the closure file)", in.Path, r)
			}
		}
	}
	return nil
}

// node makes the graph node of one store path.
func node(in PathInfo) *closure.Node {
	name, version := ParseName(in.Path)
	var deps []string
	for _, r := range in.References {
		if r != in.Path {
			deps = append(deps, "nix:"+r)
		}
	}
	meta := map[string]string{"narHash": in.NarHash.String(), "storePath": in.Path, MetaPURL: PURL(in.Path)}
	if in.Deriver != "" {
		meta["deriver"] = in.Deriver
	}
	info := in
	return &closure.Node{
		ID:       "nix:" + in.Path,
		Kind:     closure.KindNix,
		Name:     name,
		Version:  version,
		Size:     in.NarSize,
		Deps:     deps,
		Meta:     meta,
		Contents: &storeContents{info: info},
	}
}

func uniqueSorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	w := 0
	for i, s := range out {
		if i == 0 || s != out[w-1] {
			out[w] = s
			w++
		}
	}
	return out[:w]
}

func makeLock(roots []string, infos []PathInfo) Lock {
	l := Lock{Roots: append([]string{}, roots...), Paths: []LockedPath{}}
	for _, in := range infos {
		l.Paths = append(l.Paths, LockedPath{Path: in.Path, NarHash: in.NarHash.String()})
	}
	sort.Slice(l.Paths, func(i, j int) bool { return l.Paths[i].Path < l.Paths[j].Path })
	return l
}

// updates reports whether the request re-resolves the nix inputs.
func updates(req closure.Request) bool {
	if !req.Update {
		return false
	}
	if len(req.UpdateNames) == 0 {
		return true
	}
	for _, n := range req.UpdateNames {
		if n == "nix" {
			return true
		}
	}
	return false
}

// checkLock compares the resolved closure with the locked one.
func checkLock(raw json.RawMessage, got Lock) error {
	var want Lock
	if err := json.Unmarshal(raw, &want); err != nil {
		return fmt.Errorf("reading the nix section of strata.lock: %w (run `strata lock --update`)", err)
	}
	const fix = "run `strata lock --update` to accept the new closure, or restore the locked build"
	if strings.Join(want.Roots, "\n") != strings.Join(got.Roots, "\n") {
		return fmt.Errorf("nix inputs resolve to %s but strata.lock records %s: %s", strings.Join(got.Roots, " "), strings.Join(want.Roots, " "), fix)
	}
	locked := map[string]string{}
	for _, p := range want.Paths {
		locked[p.Path] = p.NarHash
	}
	for _, p := range got.Paths {
		h, ok := locked[p.Path]
		if !ok {
			return fmt.Errorf("nix closure has %s, which strata.lock does not record: %s", p.Path, fix)
		}
		wh, err1 := ParseHash(h)
		gh, err2 := ParseHash(p.NarHash)
		if err1 != nil || err2 != nil || wh != gh {
			return fmt.Errorf("nix store path %s has narHash %s but strata.lock records %s: %s", p.Path, p.NarHash, h, fix)
		}
		delete(locked, p.Path)
	}
	for p := range locked {
		return fmt.Errorf("strata.lock records %s, which the nix closure no longer has: %s", p, fix)
	}
	return nil
}
