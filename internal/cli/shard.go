package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/remotecache"
	"github.com/stratabuild/strata/spec"
)

// shardSummary is `build --shard --json`.
type shardSummary struct {
	Shard string `json:"shard"`
	// Layers are every distinct layer of the fleet plan with the shard
	// it belongs to; this shard's carry their digest and whether this
	// run built them.
	Layers      []*build.ShardLayer `json:"layers"`
	Steps       []build.StepRun     `json:"steps,omitempty"`
	RemoteCache *remotecache.Stats  `json:"remoteCache,omitempty"`
}

// runShard is `strata build SPEC... --shard I/N`: this machine's part of
// the fleet's layers, written to the remote cache, no image.
func runShard(c *cobra.Command, g *globals, f buildFlags, specs []*spec.Spec, bc cache.Cache, tier *remotecache.Cache, comp layer.Compression, extra []closure.Source, log *events.Log) error {
	sh, err := build.ParseShard(f.shard)
	if err != nil {
		return usageError{err}
	}
	switch {
	case f.output != "" || f.oci != "" || f.outDir != "" || len(f.push) > 0 || f.load || f.sbomDir != "" || f.attachSBOM:
		return usagef("--shard builds layers into the remote cache and writes no image: drop -o/--oci/--out-dir/--push/--load/--sbom, and assemble the images afterwards with `strata build SPEC... --out-dir DIR --cache-from REF` (no --shard)")
	case f.check:
		return usagef("--shard and --check do not go together: check build steps in a build without --shard")
	case tier == nil || tier.WritesTo() == "":
		return usagef("--shard writes its layers to a remote cache: add --cache-to REF (and --cache-sign-key NAME.key)")
	case !tier.Signs():
		return usagef("--shard writes layers to the remote cache, and layers are only written signed: add --cache-sign-key NAME.key (make one with `strata cache keygen NAME`)")
	}
	res, err := build.BuildShard(c.Context(), specs, build.Options{
		Cache:        bc,
		Compression:  comp,
		Tag:          f.tag,
		Platforms:    f.platforms,
		Env:          closure.Env{Events: log},
		Frozen:       f.frozen,
		Registry:     registry.Options{Insecure: f.insecure},
		ExtraSources: extra,
		NoLock:       len(f.nixPaths) > 0,
		Strategy:     f.strategy,
		Budget:       f.budget,
	}, sh)
	if err != nil {
		return err
	}
	tier.Flush(c.Context())
	g.render.finish()
	if f.asJSON {
		st := tier.Stats()
		return printJSON(g.stdout, shardSummary{Shard: sh.String(), Layers: res.Layers, Steps: res.Steps, RemoteCache: &st})
	}
	if !g.quiet {
		mine := res.Mine()
		built := 0
		var bytes int64
		for _, l := range mine {
			if l.Built {
				built++
			}
			bytes += l.Bytes
		}
		fmt.Fprintf(g.stderr, "shard %s: %d of %d layers (%.1f MB): %d built, %d already cached; written to %s\n",
			sh, len(mine), len(res.Layers), float64(bytes)/1e6, built, len(mine)-built, tier.WritesTo())
	}
	return nil
}
