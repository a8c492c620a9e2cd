package image

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/spec"
	"golang.org/x/sync/errgroup"
)

// Annotation keys written on manifests.
const (
	AnnotationCreated = "org.opencontainers.image.created"
	AnnotationTitle   = "org.opencontainers.image.title"
)

// Group is the nodes that share one layer, and what to call it.
type Group struct {
	Nodes []*closure.Node
	Title string
}

// Options configure Assemble.
type Options struct {
	Cache       cache.Cache
	Compression layer.Compression
	Created     time.Time
	Platform    closure.Platform
	Config      spec.Config
	// Name is the image name, for the title annotation.
	Name string
	// Base is the image strata's layers go on top of; nil for none.
	Base v1.Image
	// Progress is called after each layer is ready; nil for none.
	Progress func(done, total int, title string)
	// Jobs bounds how many layers are built at once; 0 means runtime.NumCPU().
	Jobs int
	// OnLayer, when set, gets each layer as soon as it is ready (in any
	// order, from several goroutines), with i its place among the layers
	// Assemble adds (0 is the first above the base), so a streaming sink
	// can write it while the next is built; an error fails the assembly.
	OnLayer func(ctx context.Context, i int, l v1.Layer) error
	// DefaultEnv ("KEY=VALUE", in order) is set where neither the base
	// nor the spec sets the variable, like PATH (see DefaultPath).
	DefaultEnv []string
}

// DefaultPath is the PATH images get unless the base or the spec sets one:
// Debian's default for login shells, as distroless images carry it. Docker
// injects a PATH into containers that have none; containerd, Podman and
// Kubernetes do not, so without it a command name in cmd is not found.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LayerInfo describes one layer strata wrote.
type LayerInfo struct {
	Digest v1.Hash  `json:"digest"`
	DiffID v1.Hash  `json:"diffID"`
	Size   int64    `json:"size"`
	Title  string   `json:"title"`
	Nodes  []string `json:"nodes,omitempty"`
}

// Assemble builds (or takes from the cache) one layer per group and
// returns the image and the facts of the layers it added: BuildLayers, then
// Compose.
func Assemble(ctx context.Context, groups []Group, opt Options) (v1.Image, []LayerInfo, error) {
	layers, err := BuildLayers(ctx, groups, opt)
	if err != nil {
		return nil, nil, err
	}
	return Compose(groups, layers, opt)
}

// Compose is the image of layers (BuildLayers' for groups) over opt.Base,
// with its config, history and annotations.
func Compose(groups []Group, layers []*layer.Layer, opt Options) (v1.Image, []LayerInfo, error) {
	if len(layers) != len(groups) {
		return nil, nil, fmt.Errorf("assembling image: %d layers for %d groups", len(layers), len(groups))
	}
	base := opt.Base
	if base == nil {
		base = empty.Image
	}
	img := mutate.MediaType(base, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: opt.Created}
	adds := make([]mutate.Addendum, len(layers))
	infos := make([]LayerInfo, len(layers))
	for i, l := range layers {
		info := l.Info()
		ids := make([]string, len(groups[i].Nodes))
		for j, n := range groups[i].Nodes {
			ids[j] = n.ID
		}
		infos[i] = LayerInfo{Digest: info.Digest, DiffID: info.DiffID, Size: info.Size, Title: groups[i].Title, Nodes: ids}
		adds[i] = mutate.Addendum{
			Layer:       l,
			MediaType:   info.MediaType,
			History:     v1.History{Created: created, CreatedBy: "strata: " + groups[i].Title, Comment: "strata"},
			Annotations: map[string]string{AnnotationTitle: groups[i].Title},
		}
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, nil, fmt.Errorf("assembling image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("assembling image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture, cf.Variant = opt.Platform.OS, opt.Platform.Arch, opt.Platform.Variant
	cf.Config.Env = withDefaults(cf.Config.Env, opt.DefaultEnv)
	cf.Config = MergeConfig(cf.Config, opt.Config)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, nil, fmt.Errorf("assembling image: %w", err)
	}
	img = mutate.Annotations(img, map[string]string{
		AnnotationCreated: opt.Created.UTC().Format(time.RFC3339),
		AnnotationTitle:   opt.Name,
	}).(v1.Image)
	return img, infos, nil
}

// BuildLayers builds (or takes from the cache) one layer per group, at most
// opt.Jobs at once, giving each to opt.OnLayer as it is ready.
func BuildLayers(ctx context.Context, groups []Group, opt Options) ([]*layer.Layer, error) {
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	out := make([]*layer.Layer, len(groups))
	errs := make([]error, len(groups))
	var mu sync.Mutex
	done := 0
	g, ctx := errgroup.WithContext(ctx)
	sched := newSchedule(groups, opt.OnLayer != nil)
	build := func(i int) error {
		grp := groups[i]
		contents := make([]closure.Contents, 0, len(grp.Nodes))
		for _, n := range grp.Nodes {
			if n.Contents == nil {
				continue
			}
			// A key its source still makes (generated files) would
			// otherwise hold this worker past a cancel.
			if kw, ok := n.Contents.(closure.KeyWaiter); ok {
				if err := kw.WaitKey(ctx); err != nil {
					errs[i] = fmt.Errorf("building layer %d (%s): %w", i+1, grp.Title, err)
					return errs[i]
				}
			}
			contents = append(contents, n.Contents)
		}
		l, err := layer.Build(ctx, opt.Cache, layer.Spec{Contents: contents, MTime: opt.Created, Compression: opt.Compression})
		if err != nil {
			errs[i] = fmt.Errorf("building layer %d (%s): %w", i+1, grp.Title, err)
			return errs[i] // cancels the others
		}
		out[i] = l
		if opt.OnLayer != nil {
			if err := opt.OnLayer(ctx, i, l); err != nil {
				errs[i] = fmt.Errorf("writing layer %d (%s): %w", i+1, grp.Title, err)
				return errs[i]
			}
		}
		if opt.Progress != nil {
			mu.Lock()
			done++
			opt.Progress(done, len(groups), grp.Title)
			mu.Unlock()
		}
		return nil
	}
	for w := range min(jobs, len(groups)) {
		g.Go(func() error {
			for {
				i, ok := sched.next(w == 0)
				if !ok {
					return nil
				}
				if err := ctx.Err(); err != nil {
					errs[i] = err
					return err
				}
				if err := build(i); err != nil {
					return err
				}
			}
		})
	}
	g.Wait() //nolint:errcheck // errs holds each layer's error, reported in layer order
	// The first layer's own failure wins over the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// schedule hands out the layers to build. Largest first (by their nodes'
// sizes), so the last running layer is a small one and no core idles at the
// end while one big layer compresses. When the layers stream (OnLayer: a
// sink writes them in image order, each once the ones before it are
// written), the first worker takes them in image order instead, so the
// stream starts after the first layer rather than after the largest ones
// and keeps up; the other workers still take the largest. The order
// changes no byte.
type schedule struct {
	mu      sync.Mutex
	bySize  []int // layer indices, largest first
	started []bool
	front   int // every layer before it has started
	stream  bool
}

func newSchedule(groups []Group, stream bool) *schedule {
	s := &schedule{bySize: make([]int, len(groups)), started: make([]bool, len(groups)), stream: stream}
	size := make([]int64, len(groups))
	for i, grp := range groups {
		s.bySize[i] = i
		for _, n := range grp.Nodes {
			size[i] += n.Size
		}
	}
	sort.SliceStable(s.bySize, func(a, b int) bool { return size[s.bySize[a]] > size[s.bySize[b]] })
	return s
}

// next is the layer a worker builds next; inOrder asks for image order
// (honoured when the layers stream). ok is false when all have started.
func (s *schedule) next(inOrder bool) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.front < len(s.started) && s.started[s.front] {
		s.front++
	}
	if s.front == len(s.started) {
		return 0, false
	}
	i := s.front
	if !inOrder || !s.stream {
		for len(s.bySize) > 0 && s.started[s.bySize[0]] {
			s.bySize = s.bySize[1:]
		}
		i = s.bySize[0]
	}
	s.started[i] = true
	return i, true
}

// MergeConfig lays the spec's config over a base config: Env keeps the
// base's variables and the spec wins per variable; Entrypoint, Cmd,
// WorkingDir, User and StopSignal come from the spec when set (a spec
// Entrypoint without Cmd clears the base's Cmd, as Docker does); ports,
// volumes and labels are unions.
func MergeConfig(base v1.Config, s spec.Config) v1.Config {
	c := base
	c.Env = mergeEnv(base.Env, s.Env)
	if len(s.Entrypoint) > 0 {
		c.Entrypoint = s.Entrypoint
		c.Cmd = nil
	}
	if len(s.Cmd) > 0 {
		c.Cmd = s.Cmd
	}
	if s.WorkingDir != "" {
		c.WorkingDir = s.WorkingDir
	}
	if s.User != "" {
		c.User = s.User
	}
	if s.StopSignal != "" {
		c.StopSignal = s.StopSignal
	}
	if len(s.ExposedPorts) > 0 {
		c.ExposedPorts = copySet(base.ExposedPorts)
		for _, p := range s.ExposedPorts {
			c.ExposedPorts[p] = struct{}{}
		}
	}
	if len(s.Volumes) > 0 {
		c.Volumes = copySet(base.Volumes)
		for _, v := range s.Volumes {
			c.Volumes[v] = struct{}{}
		}
	}
	if len(s.Labels) > 0 {
		c.Labels = map[string]string{}
		for k, v := range base.Labels {
			c.Labels[k] = v
		}
		for k, v := range s.Labels {
			c.Labels[k] = v
		}
	}
	return c
}

func copySet(m map[string]struct{}) map[string]struct{} {
	out := map[string]struct{}{}
	for k := range m {
		out[k] = struct{}{}
	}
	return out
}

// withDefaults appends every default whose variable env does not set.
func withDefaults(env, defaults []string) []string {
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := env
	for _, kv := range defaults {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out[:len(out):len(out)], kv)
		}
	}
	return out
}

func mergeEnv(base []string, env map[string]string) []string {
	if len(env) == 0 {
		return base
	}
	out := make([]string, 0, len(base)+len(env))
	seen := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := env[k]; ok {
			out = append(out, k+"="+v)
			seen[k] = true
			continue
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// Artifact is what a build hands to sinks: a v1.Image (one platform) or a
// v1.ImageIndex (several). Sinks branch on which with a type switch; both
// have a digest, a media type and a manifest.
type Artifact interface {
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
	RawManifest() ([]byte, error)
	Size() (int64, error)
}
