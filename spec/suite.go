package spec

import (
	"fmt"
	"regexp"
	"sort"
)

// DefaultSuite is the Debian suite of a debian block, and of a build
// step's closure, that names none: Debian 13, the current stable release.
// A spec that names its suite is never changed by this default.
const DefaultSuite = "trixie"

// SuiteEnv names the environment variable the command line reads as the
// suite of specs that name none (its --suite flag wins). Load itself reads
// no environment: callers pass the value with WithDefaultSuite.
const SuiteEnv = "STRATA_DEBIAN_SUITE"

// suiteRe is a Debian suite or codename: lowercase letters, digits, . and
// - (like trixie, bookworm-backports, stable).
var suiteRe = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)

// LoadOption changes how Load and Parse read a spec.
type LoadOption func(*loadOptions)

type loadOptions struct {
	suite    string // for blocks that name none; "" for DefaultSuite
	demanded bool   // suite was asked for explicitly: a spec naming another is an error
}

// WithDefaultSuite makes suite, instead of DefaultSuite, the suite of a
// debian block (or build step) that names none; a spec naming its suite
// keeps it. It is STRATA_DEBIAN_SUITE's meaning: a default for the
// environment, which never changes a spec that pins its release.
func WithDefaultSuite(suite string) LoadOption {
	return func(o *loadOptions) { o.suite, o.demanded = suite, false }
}

// WithSuite is WithDefaultSuite for a suite asked for explicitly (strata's
// --suite flag): a spec whose debian block names another suite is an
// error instead of being built on its own.
func WithSuite(suite string) LoadOption {
	return func(o *loadOptions) { o.suite, o.demanded = suite, true }
}

// chooseSuite gives the debian block (and build steps without a suite
// and without a debian block to take it from) the suite asked for or
// DefaultSuite, checks a demanded suite against the spec's, and folds in
// the debian.perSuite entry of the chosen suite.
func (s *Spec) chooseSuite(o loadOptions) Errors {
	var errs Errors
	suite := o.suite
	if suite == "" {
		suite = DefaultSuite
	} else if !suiteRe.MatchString(suite) {
		return Errors{{Key: "debian.suite", Msg: fmt.Sprintf("the suite asked for, %q, is not a Debian suite name", suite), Fix: "name a suite or codename like trixie or bookworm (--suite or " + SuiteEnv + ")"}}
	}
	if d := s.Debian; d != nil {
		switch {
		case d.Suite == "":
			d.Suite = suite
		case o.demanded && d.Suite != suite:
			errs = append(errs, &Error{Key: "debian.suite", Msg: fmt.Sprintf("the spec names suite %s, but %s was asked for", d.Suite, suite), Fix: "remove debian.suite from the spec (and its includes) so it builds on the suite asked for, or drop --suite"})
		}
		keys := make([]string, 0, len(d.PerSuite))
		for k := range d.PerSuite {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !suiteRe.MatchString(k) {
				errs = append(errs, &Error{Key: "debian.perSuite." + k, Msg: fmt.Sprintf("%q is not a Debian suite name", k), Fix: "key each entry by a suite or codename like bookworm"})
			}
		}
		if e := d.PerSuite[d.Suite]; e != nil {
			d.Packages = union(d.Packages, e.Packages)
			d.Exclude = union(d.Exclude, e.Exclude)
			d.Exact = joinExact(d.Exact, e.Exact)
		}
		d.PerSuite = nil
	}
	for _, name := range buildNames(s) {
		if b := s.Builds[name]; b != nil && b.Debian != nil && b.Debian.Suite == "" && s.Debian == nil {
			b.Debian.Suite = suite
		}
	}
	return errs
}

// joinExact is a and b's exact packages: true in either wins.
func joinExact(a, b *Exact) *Exact {
	switch {
	case b == nil:
		return a
	case a == nil:
		return b
	}
	return &Exact{All: a.All || b.All, Packages: union(a.Packages, b.Packages)}
}
