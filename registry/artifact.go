package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ArtifactSpec describes a plain OCI image manifest that carries content
// other than an image (a cache entry, an SBOM): a config blob, its layers,
// annotations and, for a referrer, the subject it refers to.
type ArtifactSpec struct {
	ArtifactType    string
	Config          []byte
	ConfigMediaType types.MediaType
	Layers          []partial.CompressedLayer
	Annotations     map[string]string
	Subject         *v1.Descriptor
	// InlineMax, when above 0, also carries the config and every layer
	// of at most that many bytes in its descriptor's data field (OCI
	// image-spec 1.1), so a reader has them with the manifest and makes
	// no request for each (go-containerregistry's remote images read data
	// first, checked against the digest). They are still pushed as blobs:
	// registries check that a manifest's blobs exist, and readers that
	// ignore data fetch them.
	InlineMax int64
}

// emptyConfig is the OCI empty descriptor's content, for artifacts whose
// config says nothing.
const (
	emptyConfig          = "{}"
	emptyConfigMediaType = "application/vnd.oci.empty.v1+json"
)

// NewArtifact returns the artifact as a v1.Image that Push (or Attach)
// can write. An empty Config is the OCI empty descriptor.
func NewArtifact(spec ArtifactSpec) (v1.Image, error) {
	cfg, cmt := spec.Config, spec.ConfigMediaType
	if len(cfg) == 0 {
		cfg, cmt = []byte(emptyConfig), emptyConfigMediaType
	}
	h, size, err := v1.SHA256(strings.NewReader(string(cfg)))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  spec.ArtifactType,
		Config:        v1.Descriptor{MediaType: cmt, Size: size, Digest: h, Data: inline(spec.InlineMax, size, cfg)},
		Annotations:   spec.Annotations,
		Subject:       spec.Subject,
	}
	byDigest := map[v1.Hash]partial.CompressedLayer{}
	for _, l := range spec.Layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		sz, err := l.Size()
		if err != nil {
			return nil, err
		}
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		desc := v1.Descriptor{MediaType: mt, Size: sz, Digest: d}
		if spec.InlineMax > 0 && sz <= spec.InlineMax {
			if desc.Data, err = readSmall(l, sz); err != nil {
				return nil, err
			}
		}
		m.Layers = append(m.Layers, desc)
		byDigest[d] = l
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&artifact{manifest: raw, config: cfg, layers: byDigest})
}

// inline returns b for a descriptor's data field when it is at most max
// bytes (max > 0), else nil.
func inline(max, size int64, b []byte) []byte {
	if max > 0 && size <= max {
		return b
	}
	return nil
}

// readSmall reads a layer of size bytes whole, checking its size.
func readSmall(l partial.CompressedLayer, size int64) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != size {
		d, _ := l.Digest()
		return nil, fmt.Errorf("blob %s has %d bytes, its descriptor says %d", d, len(b), size)
	}
	return b, nil
}

type artifact struct {
	manifest, config []byte
	layers           map[v1.Hash]partial.CompressedLayer
}

func (a *artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// Attach pushes, into the repository of subject (REPO@sha256:...), an
// artifact of artifactType holding blob (of mediaType) whose subject is
// that manifest: registries with the referrers API index it themselves;
// for the others (docker-registry 2.8) the referrers tag schema's
// sha256-HEX index is updated. It returns the artifact's digest.
func Attach(ctx context.Context, subject, artifactType string, blob []byte, mediaType types.MediaType, annotations map[string]string, opt Options) (v1.Hash, error) {
	r, err := ParseReference(subject, opt)
	if err != nil {
		return v1.Hash{}, err
	}
	ropts := opt.remoteOptions(ctx)
	desc, err := remote.Head(r, ropts...)
	if err != nil {
		return v1.Hash{}, opt.explain(ctx, "attaching to", r, err)
	}
	sub := v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}
	// The config's media type is the artifact type too (the OCI 1.0
	// artifact convention): registries that build the referrers list
	// from config.mediaType (go-containerregistry's own) then report it.
	img, err := NewArtifact(ArtifactSpec{
		ArtifactType: artifactType, Annotations: annotations, Subject: &sub,
		Config: []byte(emptyConfig), ConfigMediaType: types.MediaType(artifactType),
		Layers: []partial.CompressedLayer{static.NewLayer(blob, mediaType)},
	})
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	ref := r.Context().Digest(d.String())
	if err := remote.Write(ref, img, append(ropts, remote.WithReferrersTagFallback(true))...); err != nil {
		return v1.Hash{}, opt.explain(ctx, "attaching to", r, err)
	}
	return d, nil
}

// Referrers lists the manifests whose subject is the manifest ref names
// (a tag is resolved first), through the referrers API or, where the
// registry lacks it, the referrers tag schema.
func Referrers(ctx context.Context, ref string, opt Options) (v1.Hash, []v1.Descriptor, error) {
	r, err := ParseReference(ref, opt)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	ropts := opt.remoteOptions(ctx)
	desc, err := remote.Head(r, ropts...)
	if err != nil {
		return v1.Hash{}, nil, opt.explain(ctx, "listing the referrers of", r, err)
	}
	idx, err := remote.Referrers(r.Context().Digest(desc.Digest.String()), ropts...)
	if err != nil {
		return v1.Hash{}, nil, opt.explain(ctx, "listing the referrers of", r, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	return desc.Digest, im.Manifests, nil
}
