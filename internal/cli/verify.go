package cli

import (
	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/inspect"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		platform         string
		asJSON, insecure bool
	)
	c := &cobra.Command{
		Use:   "verify IMAGE SPEC",
		Short: "Rebuild an image from its spec and lock and compare, layer by layer",
		Long: `Verify rebuilds SPEC from its strata.lock (--frozen: the lock must fit the spec)
and compares the result with IMAGE layer by layer, naming the first file that
differs in each layer that does. Exit 0 when identical, 1 when different, 2 on
error.`,
		Example: `  strata verify app.tar examples/hello
  strata verify oci:out/app:latest . --json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("verify takes an image and a spec, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			fail := g.compareFailed
			got, err := g.singleImage(c.Context(), args[0], platform, insecure)
			if err != nil {
				return fail(err)
			}
			s, err := g.loadSpec(args[1])
			if err != nil {
				return fail(err)
			}
			st, err := g.store()
			if err != nil {
				return fail(err)
			}
			opt := build.Options{Cache: st, Env: closure.Env{Events: g.events()}, Frozen: true}
			if platform != "" {
				opt.Platforms = []string{platform}
			}
			res, err := build.Build(c.Context(), s, opt)
			if err != nil {
				return fail(err)
			}
			// Compare with the rebuilt image of the platform IMAGE is for
			// (a multi-platform spec builds them all; the lock pins all).
			want := res.Images[0]
			if cf, err := got.ConfigFile(); err == nil {
				for _, im := range res.Images {
					if im.Platform.OS == cf.OS && im.Platform.Arch == cf.Architecture && (cf.Variant == "" || im.Platform.Variant == cf.Variant) {
						want = im
						break
					}
				}
			}
			rep, err := inspect.Verify(got, want.Image)
			if err != nil {
				return fail(err)
			}
			return g.verdict(rep, rep.Identical, asJSON)
		},
	}
	c.Flags().StringVar(&platform, "platform", "", "the platform to verify (os/arch)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	return c
}
