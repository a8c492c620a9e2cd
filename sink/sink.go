package sink

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/image"
)

// Result says what a sink wrote.
type Result struct {
	// Sink names the destination: "docker-archive:out.tar".
	Sink string `json:"sink"`
	// Ref is how to name what was written: a file path, "oci:DIR:TAG", a
	// registry reference by digest, "docker:NAME:TAG".
	Ref string `json:"ref"`
	// Digest is the digest of the manifest (or index) the output holds.
	Digest v1.Hash `json:"digest"`
	// ImageID is the config digest, which Docker shows as the image ID
	// (docker-archive and daemon outputs); empty for an index.
	ImageID string `json:"imageID,omitempty"`
}

// Sink writes a built artifact somewhere. The artifact is a v1.Image or,
// for several platforms, a v1.ImageIndex; tag is "name:tag".
type Sink interface {
	Write(ctx context.Context, tag string, a image.Artifact) (Result, error)
	// String names the destination for messages: "docker-archive:out.tar".
	String() string
}

// Streamer is a Sink that takes layers while the build still makes them,
// so that writing overlaps building. The call order is Begin, then
// PutLayer for some or all layers (in any order, from several goroutines;
// i is the layer's place among the layers the build adds above any base,
// so a stream that writes in image order can), then exactly one of
// Commit, with the finished artifact, or Abort.
// Nothing is visible under the destination's name before Commit.
type Streamer interface {
	Sink
	Begin(ctx context.Context, tag string) (Stream, error)
}

// Stream is one artifact being written by a Streamer.
type Stream interface {
	// PutLayer writes one layer's blob; safe for concurrent use.
	PutLayer(ctx context.Context, i int, l v1.Layer) error
	// Commit writes what PutLayer did not (config, any layer not put,
	// manifests) and makes the artifact visible.
	Commit(ctx context.Context, a image.Artifact) (Result, error)
	// Abort drops what was written; a no-op after Commit.
	Abort()
}

// LayerFile returns the path of a layer's blob when it is a read-only
// local file already checked against its digest (a layer from strata's
// file-system cache), so a sink can link or copy it without reading and
// hashing it again; "" otherwise.
func LayerFile(l v1.Layer) string {
	f, ok := l.(interface{ BlobFile() (string, error) })
	if !ok {
		return ""
	}
	p, err := f.BlobFile()
	if err != nil {
		return ""
	}
	return p
}

// Multi writes to each sink in turn and stops at the first error.
type Multi []Sink

// Write writes a to every sink and returns their results in order.
func (m Multi) Write(ctx context.Context, tag string, a image.Artifact) ([]Result, error) {
	out := make([]Result, 0, len(m))
	for _, s := range m {
		r, err := s.Write(ctx, tag, a)
		if err != nil {
			return out, fmt.Errorf("writing %s: %w", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (m Multi) String() string { return fmt.Sprintf("%d sinks", len(m)) }

// ErrMultiPlatform is returned by sinks that hold one image only when given
// an index.
var ErrMultiPlatform = errors.New("this output holds one platform's image only; use --oci DIR (or --push) for several platforms, or set one platform with --platform")

// SingleImage returns a as a v1.Image, or ErrMultiPlatform for an index.
func SingleImage(a image.Artifact) (v1.Image, error) {
	switch x := a.(type) {
	case v1.Image:
		return x, nil
	case v1.ImageIndex:
		return nil, ErrMultiPlatform
	}
	return nil, fmt.Errorf("unknown artifact type %T", a)
}

// Describe fills a Result's digests for a (ImageID only for an image).
func Describe(a image.Artifact, r Result) (Result, error) {
	d, err := a.Digest()
	if err != nil {
		return r, err
	}
	r.Digest = d
	if img, ok := a.(v1.Image); ok {
		cn, err := img.ConfigName()
		if err != nil {
			return r, err
		}
		r.ImageID = cn.String()
	}
	return r, nil
}
