package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/nix"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/internal/atomicfile"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/remotecache"
	"github.com/stratabuild/strata/sbom"
	"github.com/stratabuild/strata/sink"
	"github.com/stratabuild/strata/sink/daemon"
	"github.com/stratabuild/strata/sink/dockerarchive"
	"github.com/stratabuild/strata/sink/ocilayout"
	regsink "github.com/stratabuild/strata/sink/registry"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

type buildFlags struct {
	output      string
	oci         string
	outDir      string
	tag         string
	compression string
	platforms   []string
	frozen      bool
	check       bool
	asJSON      bool
	push        []string
	load        bool
	insecure    bool
	mountFrom   []string
	sbomDir     string
	nixPaths    []string
	strategy    string
	budget      int
	entrypoint  []string
	name        string
	cache       cacheFlags
	attachSBOM  bool
	jobs        int
	shard       string
	// allowExpired accepts a Debian Release past its Valid-Until.
	allowExpired bool
}

func newBuildCmd(g *globals) *cobra.Command {
	var f buildFlags
	c := &cobra.Command{
		Use:   "build [SPEC...]",
		Short: "Build the image of a spec (a strata.yaml, or a folder holding one)",
		Long: `Build resolves the spec's inputs (pinned by strata.lock when present), plans the
layers, builds them (cached by content) and writes the image to the outputs asked
for. With several specs the images are built together; with layering strategy
fleet they are planned jointly so that shared packages get identical layers.`,
		Example: `  strata build examples/hello-go -o hello.tar      # docker-archive file
  strata build examples/hello-go -o - | docker load  # stream to docker load
  strata build examples/hello-go --oci out/hello     # OCI image layout
  strata build a/ b/ c/ --out-dir out/               # several images: out/NAME.tar
  strata build --json -o x.tar                       # machine-readable summary`,
		RunE: func(c *cobra.Command, args []string) error { return runBuild(c, g, f, args) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "write a docker-archive to FILE (`-` for standard output)")
	fl.StringVar(&f.oci, "oci", "", "write an OCI image layout to DIR (with --out-dir: any value also writes DIR/NAME/ layouts)")
	fl.StringVar(&f.outDir, "out-dir", "", "with several specs: write DIR/NAME.tar (and DIR/NAME/ with --oci)")
	fl.StringVar(&f.tag, "tag", "", "override the spec's tag (TAG or NAME:TAG)")
	fl.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip, gzip:1 (fastest) to gzip:9 (smallest), zstd or none")
	fl.IntVar(&f.jobs, "jobs", 0, "work done at once: unpacks, layers (downloads: at least 4); default: the number of CPUs")
	fl.StringSliceVar(&f.platforms, "platform", nil, "override the spec's platforms (os/arch, repeatable)")
	fl.BoolVar(&f.check, "check", false, "run every build step again, ignoring the cache, and fail at the first file that differs")
	fl.BoolVar(&f.frozen, "frozen", false, "fail when strata.lock is missing or the spec changed since it was written")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON summary of the build")
	fl.StringArrayVar(&f.push, "push", nil, "push to a registry REF (repeatable; skips blobs already there)")
	fl.BoolVar(&f.load, "load", false, "load the image into the local Docker Engine, tagged NAME:TAG")
	fl.BoolVar(&f.insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	fl.StringVar(&f.sbomDir, "sbom", "", "write SPDX 2.3 and CycloneDX 1.6 SBOMs of the image to DIR")
	fl.StringArrayVar(&f.nixPaths, "nix", nil, "build without a spec from these Nix store paths' closure (repeatable)")
	fl.StringSliceVar(&f.entrypoint, "entrypoint", nil, "with --nix: the image's entrypoint (comma-separated argv)")
	fl.StringVar(&f.name, "name", "", "with --nix: the image name (default: the first path's name)")
	fl.StringVar(&f.strategy, "strategy", "", "override the specs' layering strategy: per-package, popularity, auto or fleet (several specs planned jointly)")
	fl.IntVar(&f.budget, "budget", 0, "override the specs' layer budget (1 to 127, base layers included)")
	fl.StringArrayVar(&f.mountFrom, "mount-from", nil, "mount blobs from this repository of the same registry instead of uploading (repeatable)")
	f.cache.register(c)
	fl.StringVar(&f.shard, "shard", "", "build only shard I/N of the specs' layers (the fleet plan's, balanced by bytes) into --cache-to; writes no image")
	fl.BoolVar(&f.allowExpired, "allow-expired-release", false, "accept a Debian Release whose Valid-Until has passed (a snapshot archive), with a warning; also "+closure.AllowExpiredReleaseEnv+"=1")
	fl.BoolVar(&f.attachSBOM, "attach-sbom", false, "with --push: attach SPDX and CycloneDX SBOMs to the pushed image as OCI referrers (also done by --push with --sbom)")
	return c
}

func runBuild(c *cobra.Command, g *globals, f buildFlags, args []string) error {
	comp, err := layer.ParseCompression(f.compression)
	if err != nil {
		return usageError{err}
	}
	if comp == layer.Zstd && (f.output != "" || f.outDir != "" || f.load) {
		// docker load before Engine 23 fails on zstd layers ("unexpected
		// EOF"), and converting would throw the choice away.
		return usagef("--compression zstd writes OCI zstd layers, which docker-archive files (-o, --out-dir's NAME.tar) and --load (docker load) cannot be relied on to carry: use --oci DIR or --push REF for zstd, or gzip for Docker")
	}
	if f.jobs < 0 {
		return usagef("--jobs %d: use 1 or more (0, the default, means one per CPU)", f.jobs)
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	if len(args) > 1 && f.output != "" {
		return usagef("-o writes one image; with several specs use --out-dir DIR")
	}
	if len(args) > 1 && len(f.push) > 0 {
		return usagef("--push REF writes one image; push several specs' images one build at a time")
	}
	if f.outDir != "" && f.output != "" {
		return usagef("use either -o or --out-dir")
	}
	if f.strategy != "" && !slices.Contains(spec.Strategies, f.strategy) {
		return usagef("unknown --strategy %q: use one of %v", f.strategy, spec.Strategies)
	}
	if (f.budget == 0 && c.Flags().Changed("budget")) || f.budget < 0 || f.budget > spec.MaxLayers {
		return usagef("--budget %d: use 1 to %d", f.budget, spec.MaxLayers)
	}
	for i, p := range f.platforms {
		if slices.Contains(f.platforms[:i], p) {
			return usagef("--platform %s is given twice: name each platform once", p)
		}
	}
	if f.attachSBOM && len(f.push) == 0 {
		return usagef("--attach-sbom attaches SBOMs to a pushed image: add --push REF (or write them to a folder with --sbom DIR)")
	}
	if f.output == "-" && f.asJSON {
		return usagef("-o - writes the image to standard output; --json cannot share it")
	}
	st, err := g.store()
	if err != nil {
		return err
	}
	var specs []*spec.Spec
	var extra []closure.Source
	if len(f.nixPaths) > 0 {
		if len(c.Flags().Args()) > 0 {
			return usagef("--nix builds without a spec: drop the SPEC argument or put the paths in its nix.paths")
		}
		s, err := nixSpec(f)
		if err != nil {
			return err
		}
		specs = []*spec.Spec{s}
		extra = append(extra, nix.FromPaths(f.nixPaths, st))
	} else {
		if len(f.entrypoint) > 0 || f.name != "" {
			return usagef("--entrypoint and --name go with --nix; a spec sets config.entrypoint and name")
		}
		for _, a := range args {
			s, err := g.loadSpec(a)
			if err != nil {
				return err
			}
			specs = append(specs, s)
		}
	}
	if f.outDir != "" {
		if err := sameOutputs(specs); err != nil {
			return err
		}
	}
	log := g.events()
	var buildCache cache.Cache = st
	tier, err := remoteTier(c.Context(), st, f.cache, specs, registry.Options{Insecure: f.insecure, MountFrom: f.mountFrom, History: st.StateFile("push-history.json")}, log)
	if err != nil {
		return err
	}
	if tier != nil {
		buildCache = tier
		// Pushed images mount the blobs the cache repositories hold.
		f.mountFrom = append(f.mountFrom, tier.Repositories()...)
	}
	if f.shard != "" {
		return runShard(c, g, f, specs, buildCache, tier, comp, extra, log)
	}
	// One image to -o/--oci/--push: streaming sinks write layers while
	// the build makes them.
	streams := newStreams()
	defer streams.abort()
	if len(specs) == 1 && f.outDir == "" {
		pre, err := sinksFor(f, nil, false)
		if err != nil {
			return err
		}
		if f.load {
			pre = append(pre, daemon.New())
		}
		if err := streams.begin(c.Context(), specs[0], build.TagOf(specs[0], f.tag), append(pre, pushSinks(st, f, log)...)); err != nil {
			return err
		}
	}
	results, err := build.BuildFleet(c.Context(), specs, build.Options{
		Cache:        buildCache,
		Compression:  comp,
		Tag:          f.tag,
		Platforms:    f.platforms,
		Env:          closure.Env{Events: log, Jobs: f.jobs, Getenv: trustGetenv(f.allowExpired, false)},
		Frozen:       f.frozen,
		Check:        f.check,
		Registry:     registry.Options{Insecure: f.insecure},
		ExtraSources: extra,
		NoLock:       len(f.nixPaths) > 0,
		Strategy:     f.strategy,
		Budget:       f.budget,
		OnLayer:      streams.onLayer,
	})
	if err != nil {
		return err
	}
	written := map[*build.Result][]sink.Result{}
	for _, r := range results {
		if !r.Reproducible {
			log.With("strata").Warnf("%s uses created: now, so its digest changes on every build (not reproducible)", r.Spec.Name)
		}
		sinks, err := sinksFor(f, r, len(results) > 1)
		if err != nil {
			return err
		}
		sinks = append(sinks, pushSinks(st, f, log)...)
		if f.load {
			sinks = append(sinks, daemon.New())
		}
		if len(sinks) == 0 {
			log.With("strata").Warnf("built %s but wrote it nowhere: add -o FILE, --oci DIR, --push REF or --load", r.Tag)
		}
		outs, err := streams.write(c.Context(), sinks, r)
		if err != nil {
			return err
		}
		written[r] = outs
		if f.sbomDir != "" {
			if err := writeSBOMs(f.sbomDir, r); err != nil {
				return err
			}
		}
		for _, o := range outs {
			log.Infof("wrote %s to %s", r.Tag, o.Sink)
			if strings.HasPrefix(o.Sink, "registry:") && !f.asJSON {
				fmt.Fprintf(g.stderr, "pushed %s\n", o.Ref)
			}
			if strings.HasPrefix(o.Sink, "registry:") && (f.attachSBOM || f.sbomDir != "") {
				refs, err := attachSBOMs(c.Context(), o.Ref, r, registry.Options{Insecure: f.insecure})
				if err != nil {
					return err
				}
				for _, a := range refs {
					log.Infof("attached SBOM %s", a)
				}
			}
		}
	}
	if tier != nil {
		// After the sinks, so that the cache's blobs mount from the
		// images just pushed to the same registry.
		tier.Flush(c.Context())
	}
	g.render.finish()
	if f.asJSON {
		all := make([]buildSummary, len(results))
		for i, r := range results {
			all[i] = summarize(r)
			for _, o := range written[r] {
				all[i].Outputs = append(all[i].Outputs, outputOf(o))
				if strings.HasPrefix(o.Sink, "registry:") {
					all[i].Pushed = append(all[i].Pushed, o.Ref)
				}
			}
		}
		if tier != nil {
			st := tier.Stats()
			for i := range all {
				all[i].RemoteCache = &st
			}
		}
		if len(all) == 1 {
			return printJSON(g.stdout, all[0])
		}
		return printJSON(g.stdout, all)
	}
	if f.output != "-" && !g.quiet {
		for _, r := range results {
			if len(written[r]) == 0 {
				fmt.Fprintf(g.stderr, "%s %s\n", r.Tag, r.Digest)
			}
			for _, o := range written[r] {
				fmt.Fprintln(g.stderr, outputLine(r.Tag, outputOf(o)))
			}
		}
	}
	return nil
}

func sinksFor(f buildFlags, r *build.Result, fleet bool) (sink.Multi, error) {
	var out sink.Multi
	switch {
	case f.outDir != "":
		// DIR/NAME.tar, and DIR/NAME/ as an OCI layout with --oci or when
		// the image is multi-platform (a docker-archive holds one platform).
		if err := os.MkdirAll(f.outDir, 0o755); err != nil {
			return nil, err
		}
		base := filepath.Join(f.outDir, safeName(r.Spec.Name))
		if r.Index == nil {
			out = append(out, dockerarchive.New(base+".tar"))
		}
		if f.oci != "" || r.Index != nil {
			out = append(out, ocilayout.New(base))
		}
		return out, nil
	case fleet:
		return nil, usagef("several specs need --out-dir DIR")
	}
	if f.output != "" {
		out = append(out, dockerarchive.New(f.output))
	}
	if f.oci != "" {
		out = append(out, ocilayout.New(f.oci))
	}
	return out, nil
}

// nixSpec makes the spec of a spec-less `--nix PATH...` build.
func nixSpec(f buildFlags) (*spec.Spec, error) {
	name := f.name
	if name == "" {
		base := filepath.Base(f.nixPaths[0])
		if i := strings.Index(base, "-"); i >= 0 {
			base = base[i+1:]
		}
		name = imageName(base)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	y := fmt.Sprintf("name: %q\n", name)
	if len(f.entrypoint) > 0 {
		b, _ := json.Marshal(f.entrypoint)
		y += "config:\n  entrypoint: " + string(b) + "\n"
	}
	return spec.Parse(filepath.Join(wd, "(--nix)"), []byte(y))
}

// imageName turns a store path name like "gtk+3-3.24" into a valid image
// name: lowercase, runs of other characters become one "-", no separator
// at either end.
func imageName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if out == "" {
		out = "nix-image"
	}
	return out
}

// writeSBOMs writes NAME[-OS-ARCH].spdx.json and .cdx.json for each image.
func writeSBOMs(dir string, r *build.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, im := range r.Images {
		base := safeName(r.Spec.Name)
		if len(r.Images) > 1 {
			base += "-" + im.Platform.OS + "-" + im.Platform.Arch
		}
		in := sbom.Input{Graph: im.Graph, ImageName: r.Spec.Name, Tag: r.Tag, ImageDigest: im.Digest, Created: r.Created, Platform: im.Platform}
		for ext, gen := range map[string]func(sbom.Input) ([]byte, error){".spdx.json": sbom.SPDX, ".cdx.json": sbom.CycloneDX} {
			b, err := gen(in)
			if err != nil {
				return fmt.Errorf("writing the SBOM of %s: %w", r.Tag, err)
			}
			if err := atomicfile.WriteFile(filepath.Join(dir, base+ext), b); err != nil {
				return err
			}
		}
	}
	return nil
}

func pushSinks(st *store.Store, f buildFlags, log *events.Log) []sink.Sink {
	var out []sink.Sink
	for _, ref := range f.push {
		var progress io.Writer
		if log != nil {
			progress = &lineEvents{log: log.With("push")}
		}
		out = append(out, regsink.New(ref, registry.Options{
			Insecure:  f.insecure,
			MountFrom: f.mountFrom,
			Progress:  progress,
			History:   st.StateFile("push-history.json"),
		}))
	}
	return out
}

// sameOutputs refuses, before anything is built, two specs that --out-dir
// would write to the same DIR/NAME.tar: the second would replace the first.
func sameOutputs(specs []*spec.Spec) error {
	seen := map[string]*spec.Spec{}
	for _, s := range specs {
		n := safeName(s.Name)
		if o, ok := seen[n]; ok {
			return fmt.Errorf("--out-dir: %s and %s are both named %q, so both would be written to %s.tar: give one of them another `name:`", o.Path, s.Path, s.Name, n)
		}
		seen[n] = s
	}
	return nil
}

func safeName(name string) string {
	return filepath.Base(name)
}

type layerSummary struct {
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
	Title  string `json:"title"`
	// Nodes are the closure nodes the layer holds ("deb:libc6:amd64").
	Nodes []string `json:"nodes,omitempty"`
	// Base marks a layer of the spec's base: image.
	Base bool `json:"base,omitempty"`
}

type platformSummary struct {
	Platform string         `json:"platform"`
	Digest   string         `json:"digest"`
	ImageID  string         `json:"imageID"`
	Layers   []layerSummary `json:"layers"`
	Size     int64          `json:"size"`
}

// buildSummary is `build --json`. Digest is the manifest (or index)
// digest that OCI layouts and registries hold; ImageID is the config
// digest, the ID docker-archives and the Docker Engine show.
type buildSummary struct {
	Digest       string            `json:"digest"`
	ImageID      string            `json:"imageID,omitempty"`
	Tag          string            `json:"tag"`
	Layers       []layerSummary    `json:"layers"`
	Size         int64             `json:"size"`
	Created      string            `json:"created"`
	Reproducible bool              `json:"reproducible"`
	Platforms    []platformSummary `json:"platforms,omitempty"`
	// Pushed are the registry references written, by digest.
	Pushed []string `json:"pushed,omitempty"`
	// Steps are the build steps: key, output hash, and whether they ran.
	Steps []build.StepRun `json:"steps,omitempty"`
	// Outputs are what each sink wrote, with the digest it holds.
	Outputs []outputSummary `json:"outputs,omitempty"`
	// RemoteCache counts the remote cache entries read, written and
	// made locally (with --cache-from/--cache-to).
	RemoteCache *remotecache.Stats `json:"remoteCache,omitempty"`
}

// outputSummary is one output and the digest it holds: a manifest digest
// for OCI layouts and registries; docker-archives and the Docker Engine
// store no manifest, only the config, so they have an image ID alone.
type outputSummary struct {
	Sink    string `json:"sink"`
	Ref     string `json:"ref"`
	Digest  string `json:"digest,omitempty"`
	ImageID string `json:"imageID,omitempty"`
}

// holdsManifest reports whether a sink's output stores the manifest.
func holdsManifest(sinkName string) bool {
	return !strings.HasPrefix(sinkName, "docker-archive:") && !strings.HasPrefix(sinkName, "docker-daemon")
}

func outputOf(o sink.Result) outputSummary {
	out := outputSummary{Sink: o.Sink, Ref: o.Ref, ImageID: o.ImageID}
	if holdsManifest(o.Sink) {
		out.Digest = o.Digest.String()
	}
	return out
}

// outputLine is the text line of one output: its digest in the form the
// output holds it.
func outputLine(tag string, o outputSummary) string {
	switch {
	case o.Digest != "" && o.ImageID != "":
		return fmt.Sprintf("%s %s digest %s image ID %s", tag, o.Sink, o.Digest, o.ImageID)
	case o.Digest != "":
		return fmt.Sprintf("%s %s digest %s", tag, o.Sink, o.Digest)
	}
	return fmt.Sprintf("%s %s image ID %s", tag, o.Sink, o.ImageID)
}

func summarize(r *build.Result) buildSummary {
	s := buildSummary{Digest: r.Digest.String(), Tag: r.Tag, Created: r.Created.Format("2006-01-02T15:04:05Z07:00"), Reproducible: r.Reproducible, Steps: r.Steps}
	for _, im := range r.Images {
		ps := platformSummary{Platform: im.Platform.String(), Digest: im.Digest.String()}
		if m, err := im.Image.Manifest(); err == nil {
			ps.Size = m.Config.Size
			for _, l := range m.Layers {
				ps.Size += l.Size
			}
		}
		if cn, err := im.Image.ConfigName(); err == nil {
			ps.ImageID = cn.String()
		}
		ps.Layers = allLayers(im)
		s.Platforms = append(s.Platforms, ps)
	}
	sort.Slice(s.Platforms, func(i, j int) bool { return s.Platforms[i].Platform < s.Platforms[j].Platform })
	if len(s.Platforms) == 1 {
		s.Layers, s.Size, s.ImageID = s.Platforms[0].Layers, s.Platforms[0].Size, s.Platforms[0].ImageID
		s.Platforms = nil
	} else {
		for _, p := range s.Platforms {
			s.Size += p.Size
		}
	}
	return s
}

// allLayers lists every layer of the image in order, a base image's
// included (marked base, titled by their history line), not only the
// layers strata built.
func allLayers(im *build.Image) []layerSummary {
	own := map[string]layerSummary{}
	for _, l := range im.Layers {
		own[l.Digest.String()] = layerSummary{Digest: l.Digest.String(), DiffID: l.DiffID.String(), Size: l.Size, Title: l.Title, Nodes: l.Nodes}
	}
	ls, err := im.Image.Layers()
	if err != nil {
		return nil
	}
	var hist []v1.History
	if cf, err := im.Image.ConfigFile(); err == nil {
		for _, h := range cf.History {
			if !h.EmptyLayer {
				hist = append(hist, h)
			}
		}
	}
	out := make([]layerSummary, 0, len(ls))
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			continue
		}
		if o, ok := own[d.String()]; ok {
			out = append(out, o)
			delete(own, d.String())
			continue
		}
		b := layerSummary{Digest: d.String(), Base: true, Title: "base layer"}
		if id, err := l.DiffID(); err == nil {
			b.DiffID = id.String()
		}
		if sz, err := l.Size(); err == nil {
			b.Size = sz
		}
		if i < len(hist) && hist[i].CreatedBy != "" {
			b.Title = "base: " + strings.TrimSpace(hist[i].CreatedBy)
		}
		out = append(out, b)
	}
	return out
}
