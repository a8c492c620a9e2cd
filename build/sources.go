package build

import (
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/files"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

// Sources returns the sources a spec needs, in a fixed order.
func Sources(s *spec.Spec, st *store.Store) []closure.Source {
	var out []closure.Source
	out = append(out, files.New(s))
	return out
}
