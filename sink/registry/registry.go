package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/sink"
)

// Sink pushes Target.Image or Target.Index to one reference.
type Sink struct {
	ref string
	opt registry.Options
}

var _ sink.Sink = (*Sink)(nil)

// New returns a sink pushing to ref.
func New(ref string, opt registry.Options) *Sink {
	return &Sink{ref: ref, opt: opt}
}

// Write implements sink.Sink: it pushes the image or index, and its
// Result's Ref names what was pushed by digest (REPO@sha256:...).
func (s *Sink) Write(ctx context.Context, tag string, a image.Artifact) (sink.Result, error) {
	var img v1.Image
	var idx v1.ImageIndex
	switch x := a.(type) {
	case v1.ImageIndex:
		idx = x
	case v1.Image:
		img = x
	default:
		return sink.Result{}, fmt.Errorf("pushing to %s: unknown artifact type %T", s.ref, a)
	}
	h, err := registry.Push(ctx, s.ref, img, idx, s.opt)
	if err != nil {
		return sink.Result{}, err
	}
	r, err := registry.ParseReference(s.ref, s.opt)
	if err != nil {
		return sink.Result{}, err
	}
	return sink.Describe(a, sink.Result{Sink: s.String(), Ref: r.Context().Digest(h.String()).String()})
}

var _ sink.Streamer = (*Sink)(nil)

// Begin implements sink.Streamer: each layer is uploaded as soon as it is
// put; Commit pushes the config and manifests (and any blob not put yet).
func (s *Sink) Begin(ctx context.Context, tag string) (sink.Stream, error) {
	if _, err := registry.ParseReference(s.ref, s.opt); err != nil {
		return nil, err
	}
	return &stream{s: s, tag: tag}, nil
}

type stream struct {
	s   *Sink
	tag string
}

func (st *stream) PutLayer(ctx context.Context, _ int, l v1.Layer) error {
	return registry.WriteLayer(ctx, st.s.ref, l, st.s.opt)
}

func (st *stream) Commit(ctx context.Context, a image.Artifact) (sink.Result, error) {
	return st.s.Write(ctx, st.tag, a)
}

// Abort leaves uploaded blobs to the registry's garbage collection: no
// tag or manifest names them.
func (st *stream) Abort() {}

func (s *Sink) String() string { return "registry:" + s.ref }
