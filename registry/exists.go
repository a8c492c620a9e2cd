package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Exists reports whether ref (a tag or digest) names a manifest on its
// registry, by one HEAD request with the usual retries. A 404 is
// (false, nil); any other failure is an error naming the registry.
func Exists(ctx context.Context, ref string, opt Options) (bool, error) {
	r, err := ParseReference(ref, opt)
	if err != nil {
		return false, err
	}
	_, err = remote.Head(r, opt.remoteOptions(ctx)...)
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
