package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/layering"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/spec"
)

// Options configure a build.
type Options struct {
	// Cache is where sources and layers keep what they fetch and derive.
	Cache       cache.Cache
	Compression layer.Compression
	// Tag overrides the spec's tag (just the tag part, or name:tag).
	Tag string
	// Platforms overrides the spec's platforms.
	Platforms []string
	// Env reaches every source and stage: environment, HTTP client, clock,
	// jobs and events (its zero value is filled with defaults).
	Env closure.Env
	// Frozen fails when strata.lock is missing or the spec changed since.
	Frozen bool
	// NoLock neither reads nor checks a strata.lock (spec-less builds,
	// whose folder is only where relative paths resolve).
	NoLock bool
	// Factories make the spec's sources; nil means DefaultFactories.
	Factories []Factory
	// ExtraSources are added to the spec's own (e.g. `--nix PATH`).
	ExtraSources []closure.Source
	// Registry configures registry access for base images.
	Registry registry.Options
	// Check runs every build step again, ignoring the cache, and fails at
	// the first output that differs (strata build --check).
	Check bool
	// Strategy and Budget override every spec's layering settings.
	Strategy string
	Budget   int
	// OnLayer, when set, gets every layer of spec s as soon as it is ready
	// (any order, concurrently): streaming sinks write it while the build
	// goes on. An error fails the build.
	OnLayer func(ctx context.Context, s *spec.Spec, i int, l v1.Layer) error
}

func (o *Options) defaults() {
	if o.Compression == "" {
		o.Compression = layer.Gzip
	}
	o.Env = o.Env.WithDefaults()
}

// Image is one platform's result.
type Image struct {
	Platform closure.Platform
	Graph    *closure.Graph
	Plan     *layering.Plan
	Image    v1.Image
	Digest   v1.Hash
	Layers   []image.LayerInfo
}

// Result is a finished build.
type Result struct {
	Spec *spec.Spec
	// Tag is name:tag.
	Tag          string
	Created      time.Time
	Reproducible bool
	Images       []*Image
	// Index is set when the build has several platforms.
	Index  v1.ImageIndex
	Digest v1.Hash
	// Steps are the build steps resolved, per platform, in order.
	Steps []StepRun
}

// StepRun is one build step of a build: its key, the hash of its output
// and whether this build ran it (false: the output came from the cache).
type StepRun struct {
	Name     string `json:"name"`
	Platform string `json:"platform"`
	Key      string `json:"key"`
	TreeHash string `json:"treeHash"`
	Ran      bool   `json:"ran"`
}

// Artifact is what sinks write: the image index of a multi-platform
// build, else its one image.
func (r *Result) Artifact() image.Artifact {
	if r.Index != nil {
		return r.Index
	}
	return r.Images[0].Image
}

// Resolved is a spec's closure per platform plus the lock that pins it.
type Resolved struct {
	Spec      *spec.Spec
	Platforms []closure.Platform
	Graphs    []*closure.Graph
	// Bases are the base images per platform (nil entries without base).
	Bases []v1.Image
	Lock  *lockfile.File
	// Recorded names the sources whose lock sections a build records
	// (closure.Recorder: build steps' output hashes).
	Recorded []string
	// Steps are the build steps resolved (KindStep nodes of the sources'
	// private graphs).
	Steps []StepRun
	// pending are the sources' results still being completed (an
	// Incremental resolution), for Complete; cancel stops them and unhook
	// detaches their context from the caller's.
	pending []pendingResult
	cancel  context.CancelFunc
	unhook  func() bool
	// completed: Complete has returned nil (or nothing was pending).
	completed bool
}

// release ends an incremental resolution's hold on the caller's context;
// with stop, it also cancels what its sources still do and waits until
// they have stopped.
func (r *Resolved) release(stop bool) {
	if r.unhook == nil {
		return
	}
	r.unhook()
	if stop {
		r.cancel()
		for _, pr := range r.pending {
			pr.res.Complete(context.Background()) //nolint:errcheck // only waits
		}
	}
}

type pendingResult struct {
	source   string
	platform closure.Platform
	res      *closure.Result
}

func (pr pendingResult) complete(ctx context.Context) error {
	if err := pr.res.Complete(ctx); err != nil {
		return fmt.Errorf("resolving %s inputs for %s: %w", pr.source, pr.platform, err)
	}
	return nil
}

// noWait is a context that has ended: a Wait given it answers at once.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Complete waits until every source has completed its graphs (see
// ResolveOptions.Incremental) and returns the first error.
func (r *Resolved) Complete(ctx context.Context) error {
	if r.completed {
		return nil
	}
	for _, pr := range r.pending {
		if err := pr.complete(ctx); err != nil {
			return err
		}
	}
	r.completed = true
	return nil
}

// probe asks every source without waiting: done when all have completed,
// err the error of one that has already failed (the others may be at work).
func (r *Resolved) probe() (done bool, err error) {
	if r.completed {
		return true, nil
	}
	done = true
	for _, pr := range r.pending {
		if perr := pr.complete(noWait); perr != nil {
			done = false
			if err == nil && !errors.Is(perr, context.Canceled) {
				err = perr
			}
		}
	}
	r.completed = done
	return done, err
}

// ParsePlatform reads os/arch[/variant].
func ParsePlatform(s string) (closure.Platform, error) { return closure.ParsePlatform(s) }

// InputsHash hashes what strata.lock pins: the platforms and, in source
// order, the inputs key of every source that has one (closure.InputKeyer),
// so --frozen can tell when the spec changed since. The JSON is
// {"platforms":[...],"NAME":KEY,...}.
func InputsHash(sources []closure.Source, platforms []string) (string, error) {
	var b bytes.Buffer
	pb, err := json.Marshal(platforms)
	if err != nil {
		return "", err
	}
	b.WriteString(`{"platforms":`)
	b.Write(pb)
	for _, src := range sources {
		k, ok := src.(closure.InputKeyer)
		if !ok {
			continue
		}
		key, err := k.InputsKey()
		if err != nil {
			return "", fmt.Errorf("hashing the inputs of %s: %w", src.Name(), err)
		}
		nb, _ := json.Marshal(src.Name())
		b.WriteByte(',')
		b.Write(nb)
		b.WriteByte(':')
		if err := json.Compact(&b, key); err != nil {
			return "", fmt.Errorf("hashing the inputs of %s: %w", src.Name(), err)
		}
	}
	b.WriteByte('}')
	sum := sha256.Sum256(b.Bytes())
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// LockPath is where a spec's lock lives.
func LockPath(s *spec.Spec) string { return filepath.Join(s.Dir, lockfile.Name) }

// ResolveOptions say how to treat strata.lock.
type ResolveOptions struct {
	// Update ignores the lock and re-resolves (names limit it).
	Update      bool
	UpdateNames []string
	// LockOnly skips what only a build needs (downloading and unpacking
	// .debs): sources that are closure.Lockers only pin their inputs, and
	// their graphs are empty.
	LockOnly bool
	// Incremental returns graphs whose contents may still be being made
	// (closure.Request.Incremental): layers can be planned and built in
	// image order while .debs unpack. The caller calls Resolved.Complete
	// before reading the whole graphs; the sources' work stops when ctx
	// ends. Results other sources need are always complete. BuildFleet
	// resolves so.
	Incremental bool
}

// Resolve runs every source of s for each platform, each after the
// sources it needs.
func Resolve(ctx context.Context, s *spec.Spec, opt Options, ro ResolveOptions) (_ *Resolved, err error) {
	opt.defaults()
	out := &Resolved{Spec: s}
	if ro.Incremental {
		// What the sources leave running gets a context of its own,
		// cancelled with ctx until the caller releases it (a built image
		// keeps it: its packages open their files through it), and at
		// once when the resolution or the build fails.
		parent := ctx
		ctx, out.cancel = context.WithCancel(context.WithoutCancel(parent))
		out.unhook = context.AfterFunc(parent, out.cancel)
		defer func() {
			if err != nil {
				out.release(true)
			}
		}()
	}
	plats := s.Platforms
	if len(opt.Platforms) > 0 {
		plats = opt.Platforms
	}
	plats = append([]string(nil), plats...)
	sort.Strings(plats)
	var lock *lockfile.File
	if !opt.NoLock {
		var err error
		var bad *lockfile.UnreadableError
		lock, err = lockfile.Read(LockPath(s))
		switch {
		case errors.As(err, &bad) && ro.Update && !opt.Frozen:
			// lock --update must always be able to rewrite a damaged or
			// foreign-version lock; no pin in it can be kept.
			msg := "replacing " + bad.Path + ": " + bad.What()
			if len(ro.UpdateNames) > 0 {
				msg += ": resolving every input again, not only " + strings.Join(ro.UpdateNames, ", ")
			}
			opt.Env.Events.With("lock").Warnf("%s", msg)
			lock, ro.UpdateNames = nil, nil
		case err != nil:
			return nil, err
		}
	}
	sources, err := sourcesOf(s, opt)
	if err != nil {
		return nil, err
	}
	if ro.Update && len(ro.UpdateNames) > 0 {
		if err := checkUpdateNames(s, sources, lock, ro.UpdateNames); err != nil {
			return nil, err
		}
	}
	hash, err := InputsHash(sources, plats)
	if err != nil {
		return nil, err
	}
	if opt.Frozen {
		switch {
		case lock == nil:
			return nil, fmt.Errorf("--frozen: %s has no %s: run `strata lock` first", s.Dir, lockfile.Name)
		case lock.InputsHash != hash:
			return nil, fmt.Errorf("--frozen: the spec's inputs changed since %s was written: run `strata lock --update`", LockPath(s))
		}
	}
	previous := lock
	if ro.Update && len(ro.UpdateNames) == 0 {
		lock = nil
	}
	ordered, err := order(sources)
	if err != nil {
		return nil, err
	}
	log := opt.Env.Events
	out.Lock = &lockfile.File{InputsHash: hash}
	for _, ps := range plats {
		p, err := closure.ParsePlatform(ps)
		if err != nil {
			return nil, err
		}
		g := closure.New()
		var base v1.Image
		results := map[string]*closure.Result{}
		for _, src := range ordered {
			req := closure.Request{
				Env:         opt.Env,
				Platform:    p,
				SpecDir:     s.Dir,
				Locked:      lock.Section(src.Name(), ps),
				Update:      ro.Update,
				UpdateNames: ro.UpdateNames,
				Previous:    previous.Section(src.Name(), ps),
				Incremental: ro.Incremental,
			}
			if n, ok := src.(closure.Needer); ok {
				req.Needed = map[string]*closure.Result{}
				for _, name := range n.Needs() {
					if err := results[name].Complete(ctx); err != nil {
						return nil, fmt.Errorf("resolving %s inputs for %s: %w", name, p, err)
					}
					req.Needed[name] = results[name]
				}
			}
			var res *closure.Result
			if l, ok := src.(closure.Locker); ok && ro.LockOnly {
				log.Infof("locking %s inputs for %s", src.Name(), p)
				raw, err := l.Lock(ctx, req)
				if err != nil {
					return nil, fmt.Errorf("resolving %s inputs for %s: %w", src.Name(), p, err)
				}
				res = &closure.Result{Graph: closure.New(), Lock: raw}
			} else {
				log.Infof("resolving %s inputs for %s", src.Name(), p)
				if res, err = src.Resolve(ctx, req); err != nil {
					return nil, fmt.Errorf("resolving %s inputs for %s: %w", src.Name(), p, err)
				}
			}
			results[src.Name()] = res
			if res.Wait != nil {
				out.pending = append(out.pending, pendingResult{src.Name(), p, res})
			}
			if res.Private != nil {
				for _, id := range res.Private.Roots {
					if n := res.Private.Nodes[id]; n != nil && n.Kind == closure.KindStep {
						out.Steps = append(out.Steps, StepRun{Name: n.Name, Platform: ps, Key: n.Meta["key"], TreeHash: n.Meta["treeHash"], Ran: n.Meta["ran"] == "true"})
					}
				}
			}
			if _, ok := src.(closure.Recorder); ok && !slices.Contains(out.Recorded, src.Name()) {
				out.Recorded = append(out.Recorded, src.Name())
			}
			if res.Graph != nil {
				if err := g.Merge(res.Graph); err != nil {
					return nil, err
				}
			}
			if res.Lock != nil {
				out.Lock.Set(src.Name(), ps, res.Lock)
			}
			if res.Base != nil {
				if base != nil {
					return nil, fmt.Errorf("source %s gives a second base image for %s: an image has one base", src.Name(), p)
				}
				base = res.Base
			}
		}
		if err := g.Validate(); err != nil {
			return nil, err
		}
		out.Bases = append(out.Bases, base)
		out.Platforms = append(out.Platforms, p)
		out.Graphs = append(out.Graphs, g)
	}
	if !ro.LockOnly { // lockers give no graphs: the check needs a build's
		if err := checkNotEmpty(s, out); err != nil {
			return nil, err
		}
	}
	if !ro.Incremental {
		if err := out.Complete(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Lock resolves s afresh (or only the named inputs) and writes strata.lock.
func Lock(ctx context.Context, s *spec.Spec, opt Options, ro ResolveOptions) (*lockfile.File, error) {
	ro.LockOnly = true
	r, err := Resolve(ctx, s, opt, ro)
	if err != nil {
		return nil, err
	}
	if err := lockfile.Write(LockPath(s), r.Lock); err != nil {
		return nil, err
	}
	return r.Lock, nil
}

// Build resolves, plans and assembles s.
func Build(ctx context.Context, s *spec.Spec, opt Options) (*Result, error) {
	results, err := BuildFleet(ctx, []*spec.Spec{s}, opt)
	if err != nil {
		return nil, err
	}
	return results[0], nil
}

// BuildFleet builds several specs. With strategy fleet in every spec they
// are planned jointly so shared packages get identical layers.
func BuildFleet(ctx context.Context, specs []*spec.Spec, opt Options) (_ []*Result, err error) {
	opt.defaults()
	// The sources finish their graphs while layers are built: a failed
	// build stops them and waits until they have.
	resolved := make([]*Resolved, 0, len(specs))
	defer func() {
		for _, r := range resolved {
			r.release(err != nil)
		}
	}()
	for _, s := range specs {
		r, err := Resolve(ctx, s, opt, ResolveOptions{Incremental: true})
		if err != nil {
			return nil, err
		}
		resolved = append(resolved, r)
	}
	plans, err := planAll(resolved, opt)
	if err != nil {
		return nil, err
	}
	prefetchLayers(resolved, plans, opt)
	results := make([]*Result, len(specs))
	for i, r := range resolved {
		res, err := assemble(ctx, r, plans[i], opt)
		if err != nil {
			return nil, err
		}
		results[i] = res
	}
	for _, r := range resolved {
		if err := recordLock(r, opt); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// recordLock writes the sections of closure.Recorder sources (build
// steps' output hashes) into the spec's existing strata.lock when they
// changed. Without a lock nothing is written (`strata lock` makes one);
// with --frozen the lock is never rewritten.
func recordLock(r *Resolved, opt Options) error {
	if opt.NoLock || opt.Frozen || len(r.Recorded) == 0 {
		return nil
	}
	path := LockPath(r.Spec)
	// Two builds of one spec (one per platform, say) must not drop each
	// other's sections: read, change and write under a cache lock.
	sum := sha256.Sum256([]byte(path))
	unlock, err := opt.Cache.Lock("strata-lock-" + hex.EncodeToString(sum[:8]))
	if err != nil {
		return err
	}
	defer unlock()
	lf, err := lockfile.Read(path)
	if err != nil || lf == nil {
		return nil // no lock (or one the build already refused to read)
	}
	changed := false
	for _, name := range r.Recorded {
		for _, p := range r.Platforms {
			got := r.Lock.Section(name, p.String())
			if got == nil || sameJSON(lf.Section(name, p.String()), got) {
				continue
			}
			lf.Set(name, p.String(), got)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	opt.Env.Events.Infof("recording build step outputs in %s", path)
	return lockfile.Write(path, lf)
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// planAll plans every platform of every spec; specs whose strategy is
// fleet are planned together, per platform, within the smallest budget and
// the largest base among them.
func planAll(rs []*Resolved, opt Options) ([][]*layering.Plan, error) {
	type fleetMember struct{ i, j int }
	plans := make([][]*layering.Plan, len(rs))
	fleet := map[string][]fleetMember{} // platform -> images planned jointly
	var fleetPlats []string
	for i, r := range rs {
		plans[i] = make([]*layering.Plan, len(r.Graphs))
		for j, g := range r.Graphs {
			lo, err := layeringOptions(r, j, opt)
			if err != nil {
				return nil, err
			}
			if lo.Strategy == layering.Fleet && len(rs) > 1 {
				plat := r.Platforms[j].String()
				if fleet[plat] == nil {
					fleetPlats = append(fleetPlats, plat)
				}
				fleet[plat] = append(fleet[plat], fleetMember{i, j})
				continue
			}
			p, err := layering.PlanImage(g, lo)
			if err != nil {
				return nil, fmt.Errorf("planning layers of %s: %w", r.Spec.Name, err)
			}
			plans[i][j] = p
		}
	}
	for _, plat := range fleetPlats {
		members := fleet[plat]
		gs := make([]*closure.Graph, len(members))
		var lo layering.Options
		for k, m := range members {
			gs[k] = rs[m.i].Graphs[m.j]
			mo, err := layeringOptions(rs[m.i], m.j, opt)
			if err != nil {
				return nil, err
			}
			if k == 0 {
				lo = mo
			}
			lo.Budget = min(lo.Budget, mo.Budget)
			lo.Reserved = max(lo.Reserved, mo.Reserved)
		}
		ps, err := layering.PlanFleet(gs, lo)
		if err != nil {
			return nil, fmt.Errorf("planning the fleet's layers for %s: %w", plat, err)
		}
		for k, m := range members {
			plans[m.i][m.j] = ps[k]
		}
	}
	return plans, nil
}

// layeringOptions are the spec's layering settings (overridden by the
// build's), with the base image's layers reserved.
func layeringOptions(r *Resolved, j int, opt Options) (layering.Options, error) {
	lo := layering.Options{Strategy: r.Spec.Layering.Strategy, Budget: r.Spec.Layering.Budget}
	if opt.Strategy != "" {
		lo.Strategy = opt.Strategy
	}
	if opt.Budget != 0 {
		lo.Budget = opt.Budget
	}
	if r.Bases[j] != nil {
		ls, err := r.Bases[j].Layers()
		if err != nil {
			return lo, fmt.Errorf("reading base image layers: %w", err)
		}
		lo.Reserved = len(ls)
	}
	return lo, nil
}

func assemble(ctx context.Context, r *Resolved, plans []*layering.Plan, opt Options) (*Result, error) {
	s := r.Spec
	created, repro, err := s.CreatedTime(opt.Env.Getenv, opt.Env.Now)
	if err != nil {
		return nil, err
	}
	res := &Result{Spec: s, Tag: tagOf(s, opt.Tag), Created: created, Reproducible: repro, Steps: r.Steps}
	var pis []image.PlatformImage
	for j, g := range r.Graphs {
		plan := plans[j]
		groups := make([]image.Group, len(plan.Layers))
		for k, l := range plan.Layers {
			nodes := make([]*closure.Node, len(l.Nodes))
			for m, id := range l.Nodes {
				nodes[m] = g.Nodes[id]
			}
			groups[k] = image.Group{Nodes: nodes, Title: l.Title}
		}
		p := r.Platforms[j]
		io := image.Options{
			Cache:       opt.Cache,
			Compression: opt.Compression,
			Jobs:        opt.Env.Jobs,
			Created:     created,
			Platform:    p,
			Config:      s.Config,
			Name:        s.Name,
			Base:        r.Bases[j],
			OnLayer:     onLayer(opt, s),
			Progress: func(done, total int, title string) {
				opt.Env.Events.Emit(events.Event{Kind: events.Progress, Stage: events.StageLayer, Scope: p.String(), Done: done, Total: total, Subject: title})
			},
		}
		// The layers are built (and streamed) while the sources complete
		// the graph; the whole-image checks and the config, which read all
		// of it, come before the image exists, so a failed check leaves no
		// image and ends a stream with the error.
		complete, _ := r.probe()
		if complete { // fail fast: no layer is built for an image the checks refuse
			if err := checkImage(ctx, s, p, g, plan, r.Bases[j], opt.Env.Events); err != nil {
				return nil, err
			}
		}
		layers, err := image.BuildLayers(ctx, groups, io)
		if err != nil {
			// A source that failed is why its contents failed the layer:
			// its own error says more.
			if _, serr := r.probe(); serr != nil {
				return nil, serr
			}
			return nil, fmt.Errorf("building %s for %s: %w", s.Name, p, err)
		}
		if !complete {
			if err := r.Complete(ctx); err != nil {
				return nil, err
			}
			if err := checkImage(ctx, s, p, g, plan, r.Bases[j], opt.Env.Events); err != nil {
				return nil, err
			}
		}
		io.DefaultEnv = defaultEnv(ctx, g)
		img, infos, err := image.Compose(groups, layers, io)
		if err != nil {
			return nil, fmt.Errorf("building %s for %s: %w", s.Name, p, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		res.Images = append(res.Images, &Image{Platform: p, Graph: g, Plan: plan, Image: img, Digest: d, Layers: infos})
		pis = append(pis, image.PlatformImage{Platform: p, Image: img})
	}
	if len(pis) > 1 {
		idx, err := image.Index(pis, created, s.Name)
		if err != nil {
			return nil, err
		}
		res.Index = idx
		res.Digest, err = idx.Digest()
		if err != nil {
			return nil, err
		}
	} else {
		res.Digest = res.Images[0].Digest
	}
	return res, nil
}

func onLayer(opt Options, s *spec.Spec) func(context.Context, int, v1.Layer) error {
	if opt.OnLayer == nil {
		return nil
	}
	return func(ctx context.Context, i int, l v1.Layer) error { return opt.OnLayer(ctx, s, i, l) }
}

// TagOf is the name:tag a build of s writes, with the --tag override
// (TAG or NAME:TAG) applied.
func TagOf(s *spec.Spec, override string) string { return tagOf(s, override) }

func tagOf(s *spec.Spec, override string) string {
	switch {
	case override == "":
		return s.Name + ":" + s.Tag
	case strings.Contains(override, ":"):
		return override
	}
	return s.Name + ":" + override
}
