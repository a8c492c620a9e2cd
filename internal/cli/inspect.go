package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/inspect"
	"github.com/stratabuild/strata/inspect/sharing"
)

// Inspect views.
var inspectViews = []string{"summary", "manifest", "config", "layers", "files", "efficiency", "closure", "referrers"}

func newInspectCmd(g *globals) *cobra.Command {
	var (
		view, platform string
		layer          int
		ci, asJSON     bool
		insecure       bool
		share          bool
		th             = inspect.DefaultThresholds
	)
	c := &cobra.Command{
		Use:   "inspect IMAGE... [--view V]",
		Short: "Show an image's manifest, config, layers, files, efficiency or closure",
		Long: `Inspect reads an image and never writes one. IMAGE is a docker-archive file,
oci:DIR[:TAG], a registry reference, docker:NAME (the local Docker Engine), or a
spec (planned and assembled in the cache, not written).

Views: summary (default), manifest (raw bytes, like crane manifest; an index
stays an index unless --platform), config, layers (with what each holds), files
(--layer N for one), efficiency (dive's formulas; --ci exits 1 below dive's
thresholds 0.9 / 0.1), closure (a spec's packages with own and exclusive size),
referrers (a registry image's attached artifacts, such as SBOMs, through the
referrers API or its sha256-HEX tag fallback).
--sharing takes several images and reports the bytes they share.`,
		Example: `  strata inspect hello.tar
  strata inspect oci:out/hello:latest --view layers --json
  strata inspect hello.tar --view efficiency --ci
  strata inspect examples/python --view closure
  strata inspect --sharing a.tar b.tar c.tar`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			if share {
				return runSharing(g, c, args, platform, insecure, asJSON)
			}
			if len(args) != 1 {
				return usagef("inspect takes one IMAGE (several only with --sharing)")
			}
			if !slices.Contains(inspectViews, view) {
				return usagef("unknown view %q: use one of %v", view, inspectViews)
			}
			if view == "referrers" {
				return runReferrers(g, c, args[0], insecure, asJSON)
			}
			if view == "closure" {
				gr, err := g.graphOf(ctx, args[0], platform, insecure)
				if err != nil {
					return err
				}
				rep, err := inspect.Closure(gr)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(g.stdout, rep)
				}
				return rep.Text(g.stdout)
			}
			ref, _, err := g.loadImage(ctx, args[0], platform, insecure)
			if err != nil {
				return err
			}
			switch view {
			case "summary":
				s, err := inspect.Summarize(ref)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(g.stdout, s)
				}
				return s.Text(g.stdout)
			case "manifest":
				_, err := g.stdout.Write(inspect.Manifest(ref))
				return err
			case "config":
				b, err := inspect.Config(ref)
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(b)
				return err
			}
			img, err := ref.SingleImage()
			if err != nil {
				return err
			}
			switch view {
			case "layers":
				ls, err := inspect.Layers(img)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(g.stdout, ls)
				}
				return inspect.LayersText(g.stdout, ls)
			case "files":
				fs, err := inspect.Files(img, layer)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(g.stdout, fs)
				}
				return inspect.FilesText(g.stdout, fs)
			case "efficiency":
				e, err := inspect.ComputeEfficiency(img)
				if err != nil {
					return err
				}
				if asJSON {
					err = printJSON(g.stdout, e)
				} else {
					err = e.Text(g.stdout)
				}
				if err != nil {
					return err
				}
				if ci {
					if err := e.CI(th); err != nil {
						fmt.Fprintf(g.stderr, "strata: %v\n", err)
						return exitError{ExitFailure}
					}
				}
				return nil
			}
			return usagef("unknown view %q: use one of %v", view, inspectViews)
		},
	}
	fl := c.Flags()
	fl.StringVar(&view, "view", "summary", fmt.Sprintf("what to show: %v", inspectViews))
	fl.StringVar(&platform, "platform", "", "pick one platform of an index (os/arch)")
	fl.IntVar(&layer, "layer", -1, "with --view files: only layer N (the index --view layers shows; default all)")
	fl.BoolVar(&ci, "ci", false, "with --view efficiency: exit 1 when dive's CI thresholds are breached")
	fl.Float64Var(&th.LowestEfficiency, "lowest-efficiency", th.LowestEfficiency, "with --ci: fail below this efficiency (dive's default)")
	fl.Float64Var(&th.HighestUserWastedPercent, "highest-user-wasted-percent", th.HighestUserWastedPercent, "with --ci: fail above this user-wasted ratio (0..1)")
	fl.Int64Var(&th.HighestWastedBytes, "highest-wasted-bytes", 0, "with --ci: fail above this many wasted bytes (0: no limit)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	fl.BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	fl.BoolVar(&share, "sharing", false, "report the bytes several images share and the fleet's dedup ratio")
	return c
}

func runSharing(g *globals, c *cobra.Command, args []string, platform string, insecure, asJSON bool) error {
	var imgs []sharing.NamedImage
	for _, a := range args {
		ref, _, err := g.loadImage(c.Context(), a, platform, insecure)
		if err != nil {
			return err
		}
		img, err := ref.SingleImage()
		if err != nil {
			return err
		}
		imgs = append(imgs, sharing.NamedImage{Name: a, Image: img})
	}
	rep, err := sharing.Measure(imgs)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(g.stdout, rep)
	}
	return rep.Text(g.stdout)
}
