package image

import (
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/closure"
)

// PlatformImage is one platform's image of a multi-platform build.
type PlatformImage struct {
	Platform closure.Platform
	Image    v1.Image
}

// Index makes an OCI image index of several platforms' images, in the
// order given (callers sort platforms so the index is deterministic).
func Index(imgs []PlatformImage, created time.Time, name string) (v1.ImageIndex, error) {
	adds := make([]mutate.IndexAddendum, len(imgs))
	for i, pi := range imgs {
		mt, err := pi.Image.MediaType()
		if err != nil {
			return nil, fmt.Errorf("indexing %s: %w", pi.Platform, err)
		}
		adds[i] = mutate.IndexAddendum{
			Add: pi.Image,
			Descriptor: v1.Descriptor{
				MediaType: mt,
				Platform:  ptr(pi.Platform.OCI()),
			},
		}
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, map[string]string{
		AnnotationCreated: created.UTC().Format(time.RFC3339),
		AnnotationTitle:   name,
	}).(v1.ImageIndex), nil
}

func ptr[T any](v T) *T { return &v }
