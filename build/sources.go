package build

import (
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/closure/files"
	"github.com/stratabuild/strata/closure/nix"
	"github.com/stratabuild/strata/rootfs"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

// Sources returns the sources a spec needs, in a fixed order: packages
// first, local files last.
func Sources(s *spec.Spec, st *store.Store) []closure.Source {
	var out []closure.Source
	if s.Debian != nil {
		out = append(out, deb.New(s, st))
	}
	if s.Nix != nil {
		out = append(out, nix.New(s, st))
	}
	if s.Accounts != nil && s.Debian == nil { // Debian writes them in its own generated layer
		out = append(out, rootfs.NewSource(s))
	}
	out = append(out, files.New(s))
	return out
}
