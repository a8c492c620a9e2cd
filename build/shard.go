package build

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/layering"
	"github.com/stratabuild/strata/spec"
	"golang.org/x/sync/errgroup"
)

// Shard is one part of a fleet build split across machines: shard Index
// of Count, 1-based (`--shard 2/4`).
type Shard struct {
	Index, Count int
}

// ParseShard reads I/N (1 <= I <= N).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("--shard %q: write I/N with 1 <= I <= N, e.g. --shard 2/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ShardLayer is one distinct layer of the fleet plan.
type ShardLayer struct {
	// Key is the layer's cache key (layer.Spec.Key).
	Key   string `json:"key"`
	Title string `json:"title"`
	// Bytes is the uncompressed size of its nodes, what shards balance.
	Bytes int64 `json:"bytes"`
	// Shard is the shard (1-based) the plan assigns it to.
	Shard int `json:"shard"`
	// Images are the images (NAME for PLATFORM) that hold it.
	Images []string `json:"images"`
	// Digest is set for the layers this shard built or found.
	Digest string `json:"digest,omitempty"`
	// Built is true when this shard wrote the layer (false: it was in
	// the cache already, local or remote).
	Built bool `json:"built"`

	spec layer.Spec
}

// ShardResult is what BuildShard did.
type ShardResult struct {
	Shard Shard `json:"-"`
	// Layers are every distinct layer of the fleet, in plan order (the
	// first image's layers bottom first, then the layers the next image
	// adds, ...); those of this shard carry a Digest.
	Layers []*ShardLayer `json:"layers"`
	// Steps are the build steps resolved on the way (every shard needs
	// their outputs to plan: a step's output decides the graph).
	Steps []StepRun `json:"steps,omitempty"`
}

// Mine are the layers assigned to this shard.
func (r *ShardResult) Mine() []*ShardLayer {
	var out []*ShardLayer
	for _, l := range r.Layers {
		if l.Shard == r.Shard.Index {
			out = append(out, l)
		}
	}
	return out
}

// BuildShard resolves and plans specs exactly as BuildFleet does, then
// builds into opt.Cache only the distinct layers that AssignShards gives
// to shard sh; it assembles no image. Every shard computes the same plan
// from the same specs and locks, so the shards' layer sets are disjoint
// and together make every layer of the fleet; a later BuildFleet over a
// cache holding them (a remote cache the shards wrote) builds none.
func BuildShard(ctx context.Context, specs []*spec.Spec, opt Options, sh Shard) (*ShardResult, error) {
	opt.defaults()
	if sh.Count < 1 || sh.Index < 1 || sh.Index > sh.Count {
		return nil, fmt.Errorf("shard %d/%d: the index must be 1 to %d", sh.Index, sh.Count, sh.Count)
	}
	resolved := make([]*Resolved, len(specs))
	for i, s := range specs {
		if s.Created == "now" {
			return nil, fmt.Errorf("%s uses created: now, so its layers differ on every machine and cannot be sharded: set created to a fixed time (or leave it out)", s.Path)
		}
		r, err := Resolve(ctx, s, opt, ResolveOptions{})
		if err != nil {
			return nil, err
		}
		resolved[i] = r
	}
	plans, err := planAll(resolved, opt)
	if err != nil {
		return nil, err
	}
	for i, r := range resolved {
		for j, g := range r.Graphs {
			// The same checks as a full build, so a shard fails where
			// the assembly would.
			if err := checkImage(ctx, r.Spec, r.Platforms[j], g, plans[i][j], r.Bases[j], opt.Env.Events); err != nil {
				return nil, err
			}
		}
	}
	layers, err := fleetLayers(resolved, plans, opt, false)
	if err != nil {
		return nil, err
	}
	res := &ShardResult{Shard: sh, Layers: layers}
	for _, r := range resolved {
		res.Steps = append(res.Steps, r.Steps...)
	}
	AssignShards(res.Layers, sh.Count)
	mine := res.Mine()
	var total int64
	for _, l := range mine {
		total += l.Bytes
	}
	log := opt.Env.Events
	log.Infof("shard %s: %d of the fleet's %d layers (%.1f MB)", sh, len(mine), len(res.Layers), float64(total)/1e6)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(opt.Env.Jobs, 1))
	var mu sync.Mutex
	done := 0
	for _, l := range mine {
		g.Go(func() error {
			_, err := opt.Cache.Get("layers", l.Key+".json")
			l.Built = errors.Is(err, cache.ErrNotFound)
			built, err := layer.Build(gctx, opt.Cache, l.spec)
			if err != nil {
				return fmt.Errorf("building layer %s (%s): %w", l.Key, l.Title, err)
			}
			l.Digest = built.Info().Digest.String()
			mu.Lock()
			done++
			log.Emit(events.Event{Kind: events.Progress, Stage: events.StageLayer, Scope: "shard " + sh.String(), Done: done, Total: len(mine), Subject: l.Title})
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, nil
}

// fleetLayers are the distinct layers of the planned images, in plan
// order, with the images holding each. With known, a layer whose key waits
// for its source (generated files not made yet) is left out instead of
// waited for.
func fleetLayers(resolved []*Resolved, plans [][]*layering.Plan, opt Options, known bool) ([]*ShardLayer, error) {
	var out []*ShardLayer
	byKey := map[string]*ShardLayer{}
	for i, r := range resolved {
		s := r.Spec
		created, _, err := s.CreatedTime(opt.Env.Getenv, opt.Env.Now)
		if err != nil {
			return nil, err
		}
		for j, g := range r.Graphs {
			img := s.Name + " for " + r.Platforms[j].String()
			for _, l := range plans[i][j].Layers {
				ls := layer.Spec{MTime: created, Compression: opt.Compression}
				var size int64
				pending := false
				for _, id := range l.Nodes {
					n := g.Nodes[id]
					size += n.Size
					if n.Contents != nil {
						ls.Contents = append(ls.Contents, n.Contents)
						if kw, ok := n.Contents.(closure.KeyWaiter); ok && known && kw.WaitKey(noWait) != nil {
							pending = true
						}
					}
				}
				if pending {
					continue
				}
				k := ls.Key()
				sl := byKey[k]
				if sl == nil {
					sl = &ShardLayer{Key: k, Title: l.Title, Bytes: size, spec: ls}
					byKey[k] = sl
					out = append(out, sl)
				}
				if !slices.Contains(sl.Images, img) {
					sl.Images = append(sl.Images, img)
				}
			}
		}
	}
	return out, nil
}

// Prefetcher is a cache that can fetch many index records at once (a
// remote tier): a build hands it every layer key before assembling, so
// the layers' downloads overlap instead of waiting for the layer jobs.
type Prefetcher interface {
	Prefetch(kind string, keys []string)
}

// prefetchLayers asks a Prefetcher cache for every layer of the plans
// whose key is known; the others (generated files still being made) are
// looked up when they are built.
func prefetchLayers(resolved []*Resolved, plans [][]*layering.Plan, opt Options) {
	pf, ok := opt.Cache.(Prefetcher)
	if !ok {
		return
	}
	layers, err := fleetLayers(resolved, plans, opt, true)
	if err != nil {
		return // assemble reports it
	}
	keys := make([]string, len(layers))
	for i, l := range layers {
		keys[i] = l.Key + ".json"
	}
	pf.Prefetch("layers", keys)
}

// AssignShards gives every layer to one of n shards, balanced by bytes:
// largest first (ties by key), each to the shard with the fewest bytes so
// far (ties: the lowest index). It depends only on the layers' keys and
// sizes, so every machine computes the same assignment.
func AssignShards(layers []*ShardLayer, n int) {
	order := slices.Clone(layers)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].Bytes != order[j].Bytes {
			return order[i].Bytes > order[j].Bytes
		}
		return order[i].Key < order[j].Key
	})
	load := make([]int64, n)
	for _, l := range order {
		best := 0
		for s := 1; s < n; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		l.Shard = best + 1
		// A layer of no bytes still costs a tar and a push: count one.
		load[best] += max(l.Bytes, 1)
	}
}
