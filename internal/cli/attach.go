package cli

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/imageref"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/sbom"
)

// SBOM artifact types (the documents' own media types).
const (
	spdxArtifactType = "application/spdx+json"
	cdxArtifactType  = "application/vnd.cyclonedx+json"
)

// attachSBOMs pushes the SPDX and CycloneDX documents of every image of r
// as referrers of its manifest in the repository pushed to (pushedRef is
// REPO@sha256:...). A multi-platform build attaches each platform's SBOMs
// to that platform's manifest.
func attachSBOMs(ctx context.Context, pushedRef string, r *build.Result, opt registry.Options) ([]string, error) {
	repo, _, ok := strings.Cut(pushedRef, "@")
	if !ok {
		return nil, fmt.Errorf("attaching SBOMs: %s is not a reference by digest", pushedRef)
	}
	var out []string
	for _, im := range r.Images {
		in := sbom.Input{Graph: im.Graph, ImageName: r.Spec.Name, Tag: r.Tag, ImageDigest: im.Digest, Created: r.Created, Platform: im.Platform}
		for _, doc := range []struct {
			typ string
			gen func(sbom.Input) ([]byte, error)
		}{{spdxArtifactType, sbom.SPDX}, {cdxArtifactType, sbom.CycloneDX}} {
			b, err := doc.gen(in)
			if err != nil {
				return nil, fmt.Errorf("writing the SBOM of %s: %w", r.Tag, err)
			}
			subject := repo + "@" + im.Digest.String()
			d, err := registry.Attach(ctx, subject, doc.typ, b, types.MediaType(doc.typ), map[string]string{"org.opencontainers.image.created": r.Created.UTC().Format("2006-01-02T15:04:05Z")}, opt)
			if err != nil {
				return nil, fmt.Errorf("attaching the SBOM of %s: %w", r.Tag, err)
			}
			out = append(out, repo+"@"+d.String())
		}
	}
	return out, nil
}

type referrersView struct {
	Subject   string          `json:"subject"`
	Referrers []v1.Descriptor `json:"referrers"`
}

func runReferrers(g *globals, c *cobra.Command, ref string, insecure, asJSON bool) error {
	if p := imageref.Parse(ref, ""); p.Kind != imageref.KindRegistry {
		return usagef("--view referrers reads a registry: %s is a local image; give HOST/REPO:TAG or HOST/REPO@sha256:...", ref)
	}
	d, refs, err := registry.Referrers(c.Context(), ref, registry.Options{Insecure: insecure})
	if err != nil {
		return err
	}
	if asJSON {
		if refs == nil {
			refs = []v1.Descriptor{}
		}
		return printJSON(g.stdout, referrersView{Subject: d.String(), Referrers: refs})
	}
	if len(refs) == 0 {
		fmt.Fprintf(g.stdout, "%s has no referrers\n", d)
		return nil
	}
	fmt.Fprintf(g.stdout, "referrers of %s:\n", d)
	for _, r := range refs {
		fmt.Fprintf(g.stdout, "  %s  %-32s %d bytes\n", r.Digest, r.ArtifactType, r.Size)
	}
	return nil
}
