package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/step"
)

func newLogCmd(g *globals) *cobra.Command {
	var platform, key string
	var asJSON bool
	c := &cobra.Command{
		Use:   "log STEP [SPEC]",
		Short: "Show the log of a build step's last run",
		Long: `Log prints what a build step printed when it last ran, from the cache. The
step's key is read from strata.lock, where every build records it.`,
		Example: `  strata log site examples/spa
  strata log --key 3f2a…   # the key a failed step printed`,
		Args: func(c *cobra.Command, args []string) error {
			if key != "" && len(args) == 0 {
				return nil
			}
			if len(args) < 1 || len(args) > 2 {
				return usagef("log takes a step name and, optionally, a spec (or --key KEY)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if key != "" { // a failed run names its key: it is in no lock
				st, err := g.store()
				if err != nil {
					return err
				}
				b, err := step.Log(st, key)
				if errors.Is(err, cache.ErrNotFound) {
					return fmt.Errorf("the cache holds no log for the step key %s", key)
				}
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(b)
				return err
			}
			name, specArg := args[0], ""
			if len(args) > 1 {
				specArg = args[1]
			}
			s, err := g.loadSpec(specArg)
			if err != nil {
				return err
			}
			if _, ok := s.Builds[name]; !ok {
				names := make([]string, 0, len(s.Builds))
				for n := range s.Builds {
					names = append(names, n)
				}
				sort.Strings(names)
				return fmt.Errorf("%s has no build step %q (its steps: %v)", s.Path, name, names)
			}
			lf, err := lockfile.Read(build.LockPath(s))
			if err != nil {
				return err
			}
			if platform == "" && len(s.Platforms) > 0 {
				platform = s.Platforms[0]
			}
			if platform == "" {
				platform = "linux/amd64"
			}
			var l step.Lock
			if raw := lf.Section(step.SourceName(name), platform); raw != nil {
				if err := json.Unmarshal(raw, &l); err != nil {
					return fmt.Errorf("reading step %s in %s: %w", name, build.LockPath(s), err)
				}
			}
			if l.Key == "" {
				return fmt.Errorf("%s records no run of step %s for %s: build the spec first (with a strata.lock, made by `strata lock`)", build.LockPath(s), name, platform)
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			b, err := step.Log(st, l.Key)
			if errors.Is(err, cache.ErrNotFound) {
				return fmt.Errorf("the cache holds no log for step %s (key %s): it ran on another machine or the cache was cleared; `strata build --check` runs it again", name, l.Key[:12])
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, map[string]string{"step": name, "key": l.Key, "treeHash": l.TreeHash, "log": string(b)})
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	c.Flags().StringVar(&platform, "platform", "", "the platform whose run to show (default the spec's first)")
	c.Flags().StringVar(&key, "key", "", "show the log of the run with this step key (a failed step prints it)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
