package registry

import (
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Tags lists the tags of the repository repo ("HOST/REPO") through the
// session (a remote cache's entries, for `strata cache pull`).
func (s *Session) Tags(repo string) ([]string, error) {
	r, err := ParseReference(repo, s.opt)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(r.Context(), s.ropts...)
	if err != nil {
		return nil, s.opt.explain(s.ctx, "listing the tags of", r, err)
	}
	return tags, nil
}
