package cli

import (
	"os"

	"github.com/stratabuild/strata/spec"
)

// loadSpec loads a spec with the suite the command line asks for: --suite
// demands it (a spec naming another suite is an error), else
// STRATA_DEBIAN_SUITE is the default for specs that name none, else
// spec.DefaultSuite. The suite used is what strata.lock records.
func (g *globals) loadSpec(arg string) (*spec.Spec, error) {
	switch {
	case g.suite != "":
		return spec.Load(arg, spec.WithSuite(g.suite))
	case os.Getenv(spec.SuiteEnv) != "":
		return spec.Load(arg, spec.WithDefaultSuite(os.Getenv(spec.SuiteEnv)))
	}
	return spec.Load(arg)
}
