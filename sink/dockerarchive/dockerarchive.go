package dockerarchive

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/internal/atomicfile"
	"github.com/stratabuild/strata/sink"
)

// Sink writes a docker-archive to Path, or to W when Path is "-".
type Sink struct {
	Path string
	// W is where "-" writes; os.Stdout when nil.
	W io.Writer
}

// New returns a sink for path ("-" for standard output).
func New(path string) *Sink { return &Sink{Path: path} }

func (s *Sink) String() string {
	if s.Path == "-" {
		return "docker-archive:<stdout>"
	}
	return "docker-archive:" + s.Path
}

// Write implements sink.Sink.
func (s *Sink) Write(ctx context.Context, tagName string, a image.Artifact) (sink.Result, error) {
	img, err := sink.SingleImage(a)
	if err != nil {
		return sink.Result{}, err
	}
	tag, err := name.NewTag(tagName, name.WeakValidation)
	if err != nil {
		return sink.Result{}, fmt.Errorf("tag %q: %w", tagName, err)
	}
	res, err := sink.Describe(a, sink.Result{Sink: s.String(), Ref: s.Path})
	if err != nil {
		return res, err
	}
	if s.Path == "-" {
		w := s.W
		if w == nil {
			w = os.Stdout
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := tarball.Write(tag, img, bw); err != nil {
			return res, err
		}
		return res, bw.Flush()
	}
	return res, atomicfile.Write(s.Path, func(w io.Writer) error { return tarball.Write(tag, img, w) })
}
