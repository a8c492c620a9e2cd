package registry

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// scopedClient returns an HTTP client authenticated for pulling from the
// target and every mount source, with the same plain-HTTP policy and
// retries as the push itself.
func scopedClient(ctx context.Context, target name.Repository, sources []name.Repository, opt Options) (*http.Client, error) {
	auth, err := authn.Resolve(ctx, opt.keychain(), target)
	if err != nil {
		return nil, err
	}
	rt := opt.transport(opt.baseTransport())
	scopes := []string{target.Scope(transport.PullScope)}
	for _, s := range sources {
		scopes = append(scopes, s.Scope(transport.PullScope))
	}
	tr, err := transport.NewWithContext(ctx, target.Registry, auth, rt, scopes)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

// wrapAll wraps layers for mounting, probing them in parallel.
func (m *mounter) wrapAll(ls []v1.Layer, jobs int) []v1.Layer {
	out := make([]v1.Layer, len(ls))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, l := range ls {
		g.Go(func() error { out[i] = m.wrap(l); return nil })
	}
	g.Wait() //nolint:errcheck // wrap cannot fail
	return out
}

// mountImage presents an image whose layers remote.Push may mount from
// another repository of the same registry.
type mountImage struct {
	v1.Image
	m *mounter
}

func (mi *mountImage) Layers() ([]v1.Layer, error) {
	ls, err := mi.Image.Layers()
	if err != nil {
		return nil, err
	}
	return mi.m.wrapAll(ls, mi.m.jobs), nil
}

func (mi *mountImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := mi.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return mi.m.wrap(l), nil
}

func (mi *mountImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := mi.Image.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	return mi.m.wrap(l), nil
}

// ConfigLayer lets the config blob be mounted too.
func (mi *mountImage) ConfigLayer() (v1.Layer, error) {
	l, err := partial.ConfigLayer(mi.Image)
	if err != nil {
		return nil, err
	}
	return mi.m.wrap(l), nil
}

// Descriptor keeps the wrapped image's descriptor (platform, annotations).
func (mi *mountImage) Descriptor() (*v1.Descriptor, error) {
	return partial.Descriptor(mi.Image)
}

// mountIndex wraps every child image of an index as a mountImage.
type mountIndex struct {
	idx v1.ImageIndex
	m   *mounter
}

func (mx *mountIndex) MediaType() (types.MediaType, error)       { return mx.idx.MediaType() }
func (mx *mountIndex) Digest() (v1.Hash, error)                  { return mx.idx.Digest() }
func (mx *mountIndex) Size() (int64, error)                      { return mx.idx.Size() }
func (mx *mountIndex) IndexManifest() (*v1.IndexManifest, error) { return mx.idx.IndexManifest() }
func (mx *mountIndex) RawManifest() ([]byte, error)              { return mx.idx.RawManifest() }
func (mx *mountIndex) Descriptor() (*v1.Descriptor, error)       { return partial.Descriptor(mx.idx) }

func (mx *mountIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := mx.idx.Image(h)
	if err != nil {
		return nil, err
	}
	return &mountImage{Image: img, m: mx.m}, nil
}

func (mx *mountIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := mx.idx.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return &mountIndex{idx: idx, m: mx.m}, nil
}
