package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
)

func newLockCmd(g *globals) *cobra.Command {
	var update, asJSON bool
	c := &cobra.Command{
		Use:   "lock [SPEC] [--update [PKG...]]",
		Short: "Pin every input of a spec in strata.lock",
		Long: `Lock resolves the spec's inputs (Debian packages, Nix store paths, base image)
and writes strata.lock next to the spec: JSON, stable order, diff-friendly.
strata build uses it when present. With --update it re-resolves, all inputs or
only the packages named.`,
		Example: `  strata lock examples/hello
  strata lock examples/hello --update          # re-resolve everything
  strata lock examples/hello --update libc6    # re-resolve libc6 only`,
		RunE: func(c *cobra.Command, args []string) error {
			specArg, names := "", args
			if len(args) > 0 {
				if _, err := os.Stat(args[0]); err == nil {
					specArg, names = args[0], args[1:]
				}
			}
			if len(names) > 0 && !update {
				return usagef("package names go with --update (or %q is not a spec path)", names[0])
			}
			s, err := g.loadSpec(specArg)
			if err != nil {
				return err
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			lf, err := build.Lock(c.Context(), s, build.Options{Cache: st, Env: closure.Env{Events: g.events()}},
				build.ResolveOptions{Update: true, UpdateNames: names})
			var unknown *build.UnknownNameError
			if errors.As(err, &unknown) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, lf)
			}
			if !g.quiet {
				fmt.Fprintf(g.stderr, "wrote %s\n", build.LockPath(s))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&update, "update", false, "re-resolve (all inputs, or only the packages named)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the lock as JSON too")
	return c
}

func newSchemaCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of strata.yaml",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			b, err := spec.Schema()
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
}
