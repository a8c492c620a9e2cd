package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/why"
)

func newWhyCmd(g *globals) *cobra.Command {
	var (
		platform string
		limit    int
		asJSON   bool
		insecure bool
	)
	c := &cobra.Command{
		Use:   "why SPEC|IMAGE PACKAGE",
		Short: "Show why a package is in a spec's closure",
		Long: `Why prints the dependency chains from the spec's roots to PACKAGE (a package
name, store path name or node ID), shortest first, like nix why-depends.`,
		Example: `  strata why examples/python libssl3
  strata why examples/hello libgcc-s1 --json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("why takes SPEC and PACKAGE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			gr, err := g.graphOf(c.Context(), args[0], platform, insecure)
			if err != nil {
				return err
			}
			chains, err := why.ChainsN(gr, args[1], limit)
			if err != nil {
				return err
			}
			lines := why.Format(gr, chains)
			if asJSON {
				return printJSON(g.stdout, map[string]any{"package": args[1], "chains": chains, "lines": lines})
			}
			for _, l := range lines {
				fmt.Fprintln(g.stdout, l)
			}
			return nil
		},
	}
	c.Flags().StringVar(&platform, "platform", "", "resolve for this platform (default the spec's first)")
	c.Flags().IntVar(&limit, "limit", 10, "show at most this many chains")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	return c
}
