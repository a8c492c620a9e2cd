package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
	"golang.org/x/term"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Version is set at link time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = ""

// globals are the flags every command has, and the process's streams.
type globals struct {
	cache  string
	quiet  bool
	suite  string // --suite; see loadSpec
	stdout io.Writer
	stderr io.Writer
	render *renderer // set by events(); nil with --quiet
}

// usageError marks errors that exit with ExitUsage.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitError carries a specific exit code (strata diff exits 1 on difference).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs strata with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(stderr, "strata: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitFailure
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Build minimal, reproducible, layered OCI images the Nix way, and inspect them",
		Long: `strata builds OCI/Docker images from a strata.yaml spec: local files, Debian
packages from a signed archive and Nix store closures become a closure graph,
each package its own layer (up to a budget), with the same bytes for the same
inputs on any machine.`,
		Example: `  strata build examples/hello -o hello.tar && docker load -i hello.tar
  strata build examples/hello -o - | docker load
  strata lock examples/hello
  strata inspect hello.tar --view layers`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.cache, "cache", "", "cache folder (default $STRATA_CACHE, $XDG_CACHE_HOME/strata or ~/.cache/strata)")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print no progress")
	root.PersistentFlags().StringVar(&g.suite, "suite", "", "build specs whose debian block names no suite on this Debian suite (default $"+spec.SuiteEnv+", then "+spec.DefaultSuite+"); a spec naming another suite is an error")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newBuildCmd(g), newLockCmd(g), newInspectCmd(g), newDiffCmd(g), newWhyCmd(g), newSBOMCmd(g), newLogCmd(g), newVerifyCmd(g), newVersionCmd(g), newSchemaCmd(g), newCacheCmd(g))
	return root
}

// store opens the cache.
func (g *globals) store() (*store.Store, error) {
	root := g.cache
	if root == "" {
		var err error
		if root, err = store.DefaultRoot(); err != nil {
			return nil, err
		}
	}
	return store.Open(root)
}

// events is where library code tells the user what happens. On a
// terminal (and without --quiet) progress counters update one line in
// place and info lines are printed; elsewhere only notices and warnings
// reach stderr; with --quiet nothing does.
func (g *globals) events() *events.Log {
	if g.quiet {
		return nil
	}
	tty := false
	if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	g.render = newRenderer(g.stderr, tty, time.Now)
	return events.New(g.render.handle)
}

// lineEvents is an io.Writer for code that reports progress as text lines
// (registry pushes): each line becomes an Info event.
type lineEvents struct {
	log *events.Log
	buf []byte
}

func (l *lineEvents) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.log.Infof("%s", l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			return "dev-" + rev + dirty
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

func newVersionCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print strata's version",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if asJSON {
				return printJSON(g.stdout, map[string]string{"version": versionString()})
			}
			fmt.Fprintln(g.stdout, "strata", versionString())
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments", c.CommandPath())
	}
	return nil
}
