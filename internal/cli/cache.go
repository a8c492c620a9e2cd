package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/remotecache"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/step"
	"github.com/stratabuild/strata/store"
)

// Environment variables for the remote cache (comma-separated for FROM).
const (
	envCacheFrom = "STRATA_CACHE_FROM"
	envCacheTo   = "STRATA_CACHE_TO"
)

// cacheFlags are build's remote cache flags.
type cacheFlags struct {
	from    []string
	to      string
	signKey string
	trust   []string
}

func (f *cacheFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringArrayVar(&f.from, "cache-from", nil, "read layers, step outputs and .debs missing locally from this registry repository (repeatable, in order; also "+envCacheFrom+", comma-separated)")
	fl.StringVar(&f.to, "cache-to", "", "write what the build used to this registry repository after the build (also "+envCacheTo+")")
	fl.StringVar(&f.signKey, "cache-sign-key", "", "sign the layers and step outputs written with --cache-to with this NAME.key")
	fl.StringArrayVar(&f.trust, "cache-trust", nil, "accept layers and step outputs signed by this NAME.pub (repeatable)")
}

// remoteTier wraps st in a remote cache when one is asked for, by flags,
// else the environment, else the specs' cache section. It returns nil
// when none is.
func remoteTier(ctx context.Context, st *store.Store, f cacheFlags, specs []*spec.Spec, ropt registry.Options, log *events.Log) (*remotecache.Cache, error) {
	from, to := f.from, f.to
	if len(from) == 0 {
		from = splitList(os.Getenv(envCacheFrom))
	}
	if to == "" {
		to = strings.TrimSpace(os.Getenv(envCacheTo))
	}
	for _, s := range specs {
		if s.Cache == nil {
			continue
		}
		if len(f.from) == 0 && os.Getenv(envCacheFrom) == "" {
			for _, r := range s.Cache.From {
				if !slices.Contains(from, r) {
					from = append(from, r)
				}
			}
		}
		if f.to == "" && os.Getenv(envCacheTo) == "" && s.Cache.To != "" {
			if to != "" && to != s.Cache.To {
				return nil, usagef("the specs name different cache.to repositories (%s, %s): pass --cache-to REF", to, s.Cache.To)
			}
			to = s.Cache.To
		}
	}
	if len(from) == 0 && to == "" {
		if f.signKey != "" || len(f.trust) > 0 {
			return nil, usagef("--cache-sign-key and --cache-trust go with --cache-to and --cache-from")
		}
		return nil, nil
	}
	opt := remotecache.Options{From: from, To: to, Registry: ropt, Events: log, TreeHash: step.TreeHash}
	if f.signKey != "" {
		k, err := remotecache.LoadSignKey(f.signKey)
		if err != nil {
			return nil, err
		}
		opt.Sign = k
	}
	for _, p := range f.trust {
		k, err := remotecache.LoadTrustKey(p)
		if err != nil {
			return nil, err
		}
		opt.Trust = append(opt.Trust, k)
	}
	if len(from) > 0 && len(opt.Trust) == 0 {
		log.With("cache").Noticef("no --cache-trust key: only .debs are read from the remote cache (layers, step outputs and unpacked .debs must be signed by a trusted key)")
	}
	return remotecache.New(ctx, st, opt), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newCacheCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "cache",
		Short: "Manage strata's caches",
	}
	keygen := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make a key pair for signing remote cache entries: NAME.key (private, mode 0600) and NAME.pub",
		Long: `Keygen writes NAME.key and NAME.pub. Builds that write a remote cache sign
layers and step outputs with --cache-sign-key NAME.key; builds that read it accept
them with --cache-trust NAME.pub. NAME may be a path; the key is named after its
last element. Existing files are never overwritten.`,
		Example: `  strata cache keygen ci
  strata build --cache-to HOST/team/cache --cache-sign-key ci.key
  strata build --cache-from HOST/team/cache --cache-trust ci.pub`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("keygen takes one NAME")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			pub, key, err := remotecache.Keygen(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s (keep it secret: --cache-sign-key) and %s (share it: --cache-trust)\n", key, pub)
			return nil
		},
	}
	c.AddCommand(keygen, newCacheLsCmd(g), newCacheGCCmd(g), newCacheVerifyCmd(g), newCachePushCmd(g), newCachePullCmd(g))
	return c
}
