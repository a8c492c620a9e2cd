package build

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/spec"
)

// VerifiedSection is one lock section VerifyLock checked.
type VerifiedSection struct {
	Source   string `json:"source"`
	Platform string `json:"platform"`
	Entries  int    `json:"entries"`
}

// VerifyLock checks every section of s's strata.lock whose source can
// verify it (closure.LockVerifier; the Debian sources check each locked
// .deb against the signed indexes) without building anything. It returns
// the sections checked; the error joins the failure of each section.
func VerifyLock(ctx context.Context, s *spec.Spec, opt Options) ([]VerifiedSection, error) {
	opt.defaults()
	lock, err := lockfile.Read(LockPath(s))
	if err != nil {
		return nil, err
	}
	if lock == nil {
		return nil, fmt.Errorf("%s has no %s to verify: run `strata lock` first", s.Dir, lockfile.Name)
	}
	sources, err := sourcesOf(s, opt)
	if err != nil {
		return nil, err
	}
	var out []VerifiedSection
	var errs []error
	for _, src := range sources {
		v, ok := src.(closure.LockVerifier)
		if !ok {
			continue
		}
		plats := make([]string, 0, len(lock.Sources[src.Name()]))
		for p := range lock.Sources[src.Name()] {
			plats = append(plats, p)
		}
		sort.Strings(plats)
		for _, ps := range plats {
			p, err := closure.ParsePlatform(ps)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: section %s/%s: %w", LockPath(s), src.Name(), ps, err))
				continue
			}
			req := closure.Request{Env: opt.Env, Platform: p, SpecDir: s.Dir, Locked: lock.Section(src.Name(), ps)}
			n, err := v.VerifyLock(ctx, req)
			if err != nil {
				errs = append(errs, fmt.Errorf("verifying the %s inputs for %s: %w", src.Name(), ps, err))
				continue
			}
			out = append(out, VerifiedSection{Source: src.Name(), Platform: ps, Entries: n})
		}
	}
	return out, errors.Join(errs...)
}
