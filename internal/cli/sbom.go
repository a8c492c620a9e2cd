package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imagegraph"
	"github.com/stratabuild/strata/internal/atomicfile"
	"github.com/stratabuild/strata/sbom"
)

func newSBOMCmd(g *globals) *cobra.Command {
	var (
		format, output, platform string
		insecure                 bool
	)
	c := &cobra.Command{
		Use:   "sbom SPEC|IMAGE --format spdx-json|cyclonedx-json [-o FILE]",
		Short: "Write an SPDX 2.3 or CycloneDX 1.6 SBOM of a spec or an image",
		Long: `Sbom describes the image and every package in it: name, version, supplier,
purl, licenses, checksums (.deb sha256, narHash) and dependencies. For a spec
the closure graph is used (the image is assembled in the cache to learn its
digest); for an image, the packages are read from its dpkg status.d entries
and Nix store paths. The output is deterministic: timestamps come from the
image's created time, identifiers from its digest.`,
		Example: `  strata sbom examples/hello --format spdx-json -o hello.spdx.json
  strata sbom hello.tar --format cyclonedx-json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("sbom takes one SPEC or IMAGE, got %d", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			var gen func(sbom.Input) ([]byte, error)
			switch format {
			case "spdx", "spdx-json":
				gen = sbom.SPDX
			case "cyclonedx", "cyclonedx-json":
				gen = sbom.CycloneDX
			default:
				return usagef("unknown --format %q: use spdx (spdx-json) or cyclonedx (cyclonedx-json)", format)
			}
			ref, res, err := g.loadImage(c.Context(), args[0], platform, insecure)
			if err != nil {
				return err
			}
			img, err := ref.SingleImage()
			if err != nil {
				return err
			}
			digest, cf, err := imageFacts(img)
			if err != nil {
				return err
			}
			in := sbom.Input{ImageDigest: digest, Created: cf.Created.Time, Tag: ref.Tag}
			if p := cf.Platform(); p != nil {
				in.Platform = closure.PlatformOf(*p)
			}
			if res != nil {
				in.Graph, in.ImageName = res.Images[0].Graph, res.Spec.Name
			} else {
				if in.Graph, err = imagegraph.FromImage(img); err != nil {
					return err
				}
				in.ImageName = imageNameOf(ref.Tag, args[0])
			}
			b, err := gen(in)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = g.stdout.Write(b)
				return err
			}
			if err := atomicfile.WriteFile(output, b); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stderr, "wrote %s\n", output)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "spdx-json", "spdx or cyclonedx (spdx-json and cyclonedx-json are the same): both JSON")
	c.Flags().StringVarP(&output, "output", "o", "", "write to FILE (default standard output)")
	c.Flags().StringVar(&platform, "platform", "", "pick one platform (os/arch)")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	return c
}

// imageNameOf is the repository part of a tag, or the argument itself.
func imageNameOf(tag, arg string) string {
	if tag == "" {
		return arg
	}
	if i := lastColon(tag); i > 0 {
		return tag[:i]
	}
	return tag
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0 && s[i] != '/'; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}
