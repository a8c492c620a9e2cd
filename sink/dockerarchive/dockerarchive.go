package dockerarchive

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
func (s *Sink) Write(ctx context.Context, t sink.Target) error {
	if t.Image == nil {
		return sink.ErrMultiPlatform
	}
	tag, err := name.NewTag(t.Tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("tag %q: %w", t.Tag, err)
	}
	if s.Path == "-" {
		w := s.W
		if w == nil {
			w = os.Stdout
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := tarball.Write(tag, t.Image, bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	return atomicfile.Write(s.Path, func(w io.Writer) error { return tarball.Write(tag, t.Image, w) })
}
