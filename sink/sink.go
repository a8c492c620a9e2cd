package sink

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Target is what a sink writes: a single-platform Image, or an Index for
// several platforms (then Image is nil). Tag is "name:tag".
type Target struct {
	Tag   string
	Image v1.Image
	Index v1.ImageIndex
}

// Sink writes a Target somewhere.
type Sink interface {
	Write(ctx context.Context, t Target) error
	// String names the destination for messages: "docker-archive:out.tar".
	String() string
}

// Multi writes to each sink in turn and stops at the first error.
type Multi []Sink

// Write implements Sink.
func (m Multi) Write(ctx context.Context, t Target) error {
	for _, s := range m {
		if err := s.Write(ctx, t); err != nil {
			return fmt.Errorf("writing %s: %w", s, err)
		}
	}
	return nil
}

func (m Multi) String() string { return fmt.Sprintf("%d sinks", len(m)) }

// ErrMultiPlatform is returned by sinks that hold one image only when given
// an index.
var ErrMultiPlatform = errors.New("this output holds one platform's image only; use --oci DIR (or --push) for several platforms, or set one platform with --platform")
