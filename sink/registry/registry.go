package registry

import (
	"context"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/sink"
)

// Sink pushes Target.Image or Target.Index to one reference.
type Sink struct {
	ref string
	opt registry.Options

	mu     sync.Mutex
	digest v1.Hash
}

var _ sink.Sink = (*Sink)(nil)

// New returns a sink pushing to ref ("host[:port]/repo[:tag]"); opt
// carries credentials, --insecure, --mount-from, parallelism and progress.
func New(ref string, opt registry.Options) *Sink {
	return &Sink{ref: ref, opt: opt}
}

// Write implements sink.Sink.
func (s *Sink) Write(ctx context.Context, t sink.Target) error {
	h, err := registry.Push(ctx, s.ref, t.Image, t.Index, s.opt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.digest = h
	s.mu.Unlock()
	return nil
}

// Digest is the digest of the last pushed manifest (zero before a
// successful Write).
func (s *Sink) Digest() v1.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.digest
}

// Pushed names what was pushed by digest, "host/repo@sha256:...", or ""
// before a successful Write.
func (s *Sink) Pushed() string {
	d := s.Digest()
	if d == (v1.Hash{}) {
		return ""
	}
	r, err := registry.ParseReference(s.ref, s.opt)
	if err != nil {
		return ""
	}
	return r.Context().Digest(d.String()).String()
}

// String implements sink.Sink.
func (s *Sink) String() string { return "registry:" + s.ref }
