package build

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/closure/files"
	"github.com/stratabuild/strata/closure/nix"
	"github.com/stratabuild/strata/rootfs"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/step"
)

// A Factory returns the sources one kind of input needs for a spec: none
// when the spec has no such block. build knows sources only through the
// factory list, so a new kind of input is one more entry here.
type Factory func(s *spec.Spec, c cache.Cache) []closure.Source

// DefaultFactories are strata's sources, in the order their inputs are
// hashed for --frozen: packages first, the accounts, local files, then the
// base image.
func DefaultFactories(opt Options) []Factory {
	return []Factory{deb.Factory, nix.Factory, step.Factory(step.Options{Check: opt.Check, Frozen: opt.Frozen}), rootfsFactory, files.Factory, baseFactory(opt)}
}

// rootfsFactory gives images without a distribution the accounts, homes,
// /tmp, nsswitch and os-release the spec's accounts, osRelease or nsswitch
// ask for;
// a Debian image writes them in its own generated layer.
func rootfsFactory(s *spec.Spec, _ cache.Cache) []closure.Source {
	if (s.Accounts == nil && s.OSRelease == nil && s.Nsswitch == nil) || s.Debian != nil {
		return nil
	}
	return []closure.Source{rootfs.NewSource(s)}
}

// sourcesOf makes the spec's sources from the factories, plus extra.
func sourcesOf(s *spec.Spec, opt Options) ([]closure.Source, error) {
	fs := opt.Factories
	if fs == nil {
		fs = DefaultFactories(opt)
	}
	var out []closure.Source
	for _, f := range fs {
		out = append(out, f(s, opt.Cache)...)
	}
	out = append(out, opt.ExtraSources...)
	seen := map[string]bool{}
	for _, src := range out {
		if seen[src.Name()] {
			return nil, fmt.Errorf("two sources of %s are named %q: each lock section needs its own name", s.Name, src.Name())
		}
		seen[src.Name()] = true
	}
	return out, nil
}

// order sorts sources so that each comes after the sources it Needs,
// keeping the given order where nothing constrains it (deterministic).
// A need that names no source, or a cycle, is an error naming it.
func order(sources []closure.Source) ([]closure.Source, error) {
	byName := map[string]closure.Source{}
	for _, s := range sources {
		byName[s.Name()] = s
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var out []closure.Source
	var stack []string
	var visit func(s closure.Source) error
	visit = func(s closure.Source) error {
		switch state[s.Name()] {
		case done:
			return nil
		case visiting:
			i := 0
			for i < len(stack) && stack[i] != s.Name() {
				i++
			}
			return fmt.Errorf("sources need each other in a cycle: %s", strings.Join(append(stack[i:], s.Name()), " -> "))
		}
		state[s.Name()] = visiting
		stack = append(stack, s.Name())
		if n, ok := s.(closure.Needer); ok {
			needs := append([]string(nil), n.Needs()...)
			sort.Strings(needs)
			for _, name := range needs {
				dep, ok := byName[name]
				if !ok {
					return fmt.Errorf("source %s needs %q, which this spec does not have", s.Name(), name)
				}
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[s.Name()] = done
		out = append(out, s)
		return nil
	}
	for _, s := range sources {
		if err := visit(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}
