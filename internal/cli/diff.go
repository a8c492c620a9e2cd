package cli

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/inspect"
)

func newDiffCmd(g *globals) *cobra.Command {
	var (
		platform         string
		asJSON, insecure bool
	)
	c := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two images: layers, files and config",
		Long: `Diff compares two images (any IMAGE form strata inspect takes, specs included):
the layers they share, add and remove, every changed file (size, mode, content
hash, link target) in their merged filesystems, and the config differences.
Exit 0 when identical, 1 when different, 2 on error.`,
		Example: `  strata diff old.tar new.tar
  strata diff oci:out/a:latest examples/hello --json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("diff takes two images, got %d", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			var imgs [2]v1.Image
			for i, a := range args {
				img, err := g.singleImage(c.Context(), a, platform, insecure)
				if err != nil {
					return g.compareFailed(err)
				}
				imgs[i] = img
			}
			rep, err := inspect.Diff(imgs[0], imgs[1])
			if err != nil {
				return g.compareFailed(err)
			}
			return g.verdict(rep, rep.Identical, asJSON)
		},
	}
	c.Flags().StringVar(&platform, "platform", "", "pick one platform of an index (os/arch)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	return c
}
