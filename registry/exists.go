package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Exists reports whether ref (a tag or digest) names a manifest on its
// registry, by one HEAD request with the usual retries. A 404 is
// (false, nil); any other failure is an error naming the registry.
func Exists(ctx context.Context, ref string, opt Options) (bool, error) {
	return exists(ctx, ref, opt, opt.remoteOptions(ctx))
}

func exists(ctx context.Context, ref string, opt Options, ropts []remote.Option) (bool, error) {
	r, err := ParseReference(ref, opt)
	if err != nil {
		return false, err
	}
	_, err = remote.Head(r, ropts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, opt.explain(ctx, "looking up", r, err)
	}
	return true, nil
}

// IsNotFound reports whether err (from Pull) says the manifest is not on
// the registry.
func IsNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// Session reads many small manifests and blobs (a remote cache's entries)
// with one authenticated transport per repository, instead of a ping and
// a token for every request. Its methods are safe for concurrent use.
type Session struct {
	ctx   context.Context
	opt   Options
	ropts []remote.Option
}

// NewSession returns a Session bound to ctx.
func NewSession(ctx context.Context, opt Options) (*Session, error) {
	ropts := opt.remoteOptions(ctx)
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, fmt.Errorf("setting up registry access: %w", err)
	}
	return &Session{ctx: ctx, opt: opt, ropts: append(ropts, remote.Reuse(p))}, nil
}

// Pull is Pull through the session.
func (s *Session) Pull(ref string) (v1.Image, v1.ImageIndex, error) {
	return pull(s.ctx, ref, s.opt, s.ropts)
}

// Exists is Exists through the session.
func (s *Session) Exists(ref string) (bool, error) {
	return exists(s.ctx, ref, s.opt, s.ropts)
}
