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
	var update, asJSON, verify, allowDowngrade, allowExpired bool
	c := &cobra.Command{
		Use:   "lock [SPEC] [--update [PKG...]] [--verify]",
		Short: "Pin every input of a spec in strata.lock",
		Long: `Lock resolves the spec's inputs (Debian packages, Nix store paths, base image)
and writes strata.lock next to the spec: JSON, stable order, diff-friendly.
strata build uses it when present. With --update it re-resolves, all inputs or
only the packages named. A signed Debian Release older than the one the lock
records is refused (a replayed downgrade) unless --allow-downgrade is given.
With --verify it writes nothing and checks that every locked .deb (name,
version, size, sha256) is listed by a signed index of the locked suites, and
that the lock is what the spec resolves to from those indexes (no entry added
or missing, no version older than one another suite offers).`,
		Example: `  strata lock examples/hello
  strata lock examples/hello --update          # re-resolve everything
  strata lock examples/hello --update libc6    # re-resolve libc6 only
  strata lock examples/hello --verify          # check the lock against the signed archive`,
		RunE: func(c *cobra.Command, args []string) error {
			specArg, names := "", args
			if len(args) > 0 {
				if _, err := os.Stat(args[0]); err == nil {
					specArg, names = args[0], args[1:]
				}
			}
			switch {
			case verify && (update || allowDowngrade):
				return usagef("--verify checks the lock as written: it goes without --update and --allow-downgrade")
			case len(names) > 0 && !update:
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
			opt := build.Options{Cache: st, Env: closure.Env{Events: g.events(), Getenv: trustGetenv(allowExpired, allowDowngrade)}}
			if verify {
				return verifyLock(c, g, s, opt, asJSON)
			}
			lf, err := build.Lock(c.Context(), s, opt,
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
	c.Flags().BoolVar(&asJSON, "json", false, "print the lock as JSON too (with --verify: the sections checked)")
	c.Flags().BoolVar(&verify, "verify", false, "write nothing: check every locked .deb against the signed indexes of the locked suites (exit 1 naming each entry not found)")
	c.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "accept a signed Debian Release older than the one strata.lock records when re-resolving (strata lock, with or without --update); also "+closure.AllowDowngradeEnv+"=1")
	c.Flags().BoolVar(&allowExpired, "allow-expired-release", false, "accept a Debian Release whose Valid-Until has passed (a snapshot archive), with a warning; also "+closure.AllowExpiredReleaseEnv+"=1")
	return c
}

// verifyLock runs `strata lock --verify`.
func verifyLock(c *cobra.Command, g *globals, s *spec.Spec, opt build.Options, asJSON bool) error {
	done, err := build.VerifyLock(c.Context(), s, opt)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(g.stdout, done)
	}
	if !g.quiet {
		n := 0
		for _, d := range done {
			n += d.Entries
		}
		fmt.Fprintf(g.stderr, "%s: %d entries in %d sections are listed by the signed indexes\n", build.LockPath(s), n, len(done))
	}
	return nil
}

// trustGetenv is the environment with the trust opt-outs the flags give
// set: the Debian source reads them there, so the flag and its variable
// are one switch.
func trustGetenv(allowExpired, allowDowngrade bool) func(string) string {
	return func(k string) string {
		switch {
		case k == closure.AllowExpiredReleaseEnv && allowExpired, k == closure.AllowDowngradeEnv && allowDowngrade:
			return "1"
		}
		return os.Getenv(k)
	}
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
