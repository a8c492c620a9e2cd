package deb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// AllowExpiredReleaseEnv set to 1 accepts an expired Release, with a
// warning (what --allow-expired-release of strata build and strata lock
// sets).
const AllowExpiredReleaseEnv = closure.AllowExpiredReleaseEnv

// AllowDowngradeEnv set to 1 accepts a signed Release older than the one
// strata.lock records (what strata lock --allow-downgrade sets).
const AllowDowngradeEnv = closure.AllowDowngradeEnv

// ErrDowngrade is wrapped by the error of a Release older than the locked
// one.
var ErrDowngrade = errors.New("the archive serves an older Release than strata.lock records")

// previousLock is the lock section a fresh resolution replaces: the one
// being updated (lock --update), else the one given; nil when there is
// none or it does not parse (then nothing is compared).
func previousLock(req closure.Request) *Lock {
	raw := req.Previous
	if len(raw) == 0 {
		raw = req.Locked
	}
	if len(raw) == 0 {
		return nil
	}
	var l Lock
	if json.Unmarshal(raw, &l) != nil {
		return nil
	}
	return &l
}

// lockedDate is the Release Date old records for suite ("" if none).
func (l *Lock) lockedDate(suite string) string {
	for _, r := range l.Releases {
		if r.Suite == suite {
			return r.Date
		}
	}
	if suite == l.Suite {
		return l.ReleaseDate
	}
	return ""
}

// lockedSuites are the suites old read or took packages from, the main
// suite first, in the order first named.
func (l *Lock) lockedSuites() []string {
	out := []string{l.Suite}
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, r := range l.Releases {
		add(r.Suite)
	}
	for _, p := range l.Packages {
		add(p.Suite)
	}
	return out
}

// checkNotOlder refuses, unless allow, a suite whose signed Release is
// dated before the one old records for it: an archive (or a man in the
// middle) replaying an old signed Release would roll back every security
// update since. The Date fields are compared, as apt does. With updates
// (the update suites were to be read), a suite old records that is not
// among suites is refused the same way: a mirror answering 404 for
// SUITE-security withholds the security updates just as well.
func checkNotOlder(old *Lock, suites []IndexSuite, updates, allow bool, warnf func(string, ...any)) error {
	if old == nil {
		return nil
	}
	var bad []string
	if updates {
		for _, name := range old.lockedSuites() {
			if slices.ContainsFunc(suites, func(su IndexSuite) bool { return su.Name == name }) {
				continue
			}
			bad = append(bad, fmt.Sprintf("%s was not read (its InRelease was not served or no mirror for it was found), strata.lock records packages or a Release from it", name))
		}
	}
	for _, su := range suites {
		was := old.lockedDate(su.Name)
		if was == "" {
			continue
		}
		then, err := ParseReleaseTime(was)
		if err != nil {
			continue // an old lock's field strata cannot read: nothing to hold to
		}
		now, err := ParseReleaseTime(su.Release.Date)
		if err != nil {
			return fmt.Errorf("the signed Release of %s has a Date %q that is not a date, and strata.lock records %s: refusing it (the archive is broken; set debian.mirror to another mirror)", su.Name, su.Release.Date, was)
		}
		if now.Before(then) {
			bad = append(bad, fmt.Sprintf("%s is dated %s, strata.lock records %s", su.Name, su.Release.Date, was))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if allow {
		warnf("accepting an older signed Release than strata.lock records (--allow-downgrade): %s", strings.Join(bad, "; "))
		return nil
	}
	return fmt.Errorf("%w: %s: refusing it, a replayed old Release or a withheld suite lacks the security updates since (use another mirror or set debian.securityMirror; if the older archive is meant, run `strata lock --update --allow-downgrade`)", ErrDowngrade, strings.Join(bad, "; "))
}

// trustPolicy reads the opt-outs of a request's environment.
func trustPolicy(req closure.Request) (allowExpired, allowDowngrade bool) {
	return req.Env.Getenv(AllowExpiredReleaseEnv) == "1", req.Env.Getenv(AllowDowngradeEnv) == "1"
}

var _ closure.LockVerifier = (*Source)(nil)

// ErrLockNotSigned is wrapped by VerifyLock's error.
var ErrLockNotSigned = errors.New("strata.lock pins packages that no signed index lists")

// VerifyLock implements closure.LockVerifier: every package of the lock
// section req.Locked (name, version, architecture, filename, size and
// sha256) must be listed by the signed Packages index of its suite, read
// afresh from the archive (the suites, components and architecture the
// lock records; the mirror and keyring of the spec). The Releases are
// checked as a resolution checks them (signature, Valid-Until, not older
// than the lock's). The error names every entry that is not found.
func (s *Source) VerifyLock(ctx context.Context, req closure.Request) (int, error) {
	req.Env = req.Env.WithDefaults()
	in, err := s.inputs(req)
	if err != nil {
		return 0, err
	}
	l, err := ParseLock(req.Locked)
	if err != nil {
		return 0, err
	}
	if why := l.matches(in.suite, in.comps, in.arch, in.deb.Packages, in.deb.Exclude, in.updates, in.deb.Exact); why != "" {
		return len(l.Packages), fmt.Errorf("%w: strata.lock has %s (run `strata lock` to resolve the spec again)", ErrLockNotSigned, why)
	}
	log := req.Env.Events.With("debian")
	// A cached index found damaged while checking is dropped and read once
	// more from the archive, as resolution does: damage is the cache's
	// fault, not the lock's.
	for attempt := 0; ; attempt++ {
		idx, _, err := LoadIndex(ctx, s.store, s.indexOptions(req, in, l.Suite, l.Components, l.Arch, !l.NoUpdates))
		if err != nil {
			return 0, err
		}
		if err := checkNotOlder(l, idx.Suites, !l.NoUpdates, false, log.Warnf); err != nil {
			return 0, err
		}
		n, err := s.verifyAgainst(idx, l, in, req)
		if derr := idx.damage(); derr != nil {
			if attempt == 0 {
				log.Warnf("%v: reading the index again", derr)
				idx.forget()
				continue
			}
			return 0, derr
		}
		return n, err
	}
}

// verifyAgainst checks lock l against the signed index idx: every entry
// listed as locked, then the spec resolving to the same entries.
func (s *Source) verifyAgainst(idx *Index, l *Lock, in *inputs, req closure.Request) (int, error) {
	type key struct{ suite, name, version, arch string }
	signed := map[key][]*Package{}
	looked := map[string]bool{}
	for _, lp := range l.Packages {
		if looked[lp.Name] {
			continue
		}
		looked[lp.Name] = true
		for _, p := range idx.named(lp.Name) { // the index is read in place, per name
			k := key{p.Suite, p.Name, p.Version, p.Arch}
			signed[k] = append(signed[k], p)
		}
	}
	var bad []string
	for _, lp := range l.Packages {
		su := l.suiteOf(lp)
		cands := signed[key{su, lp.Name, lp.Version, lp.Arch}]
		if len(cands) == 0 {
			bad = append(bad, fmt.Sprintf("%s %s (%s): no such package version in the signed index of %s", lp.Name, lp.Version, lp.Arch, su))
			continue
		}
		found := false
		for _, p := range cands {
			// installedSize only weighs the layer plan, but a lock says
			// what the index said or nothing (an older lock).
			if p.SHA256 == lp.SHA256 && p.Size == lp.Size && p.Filename == lp.Filename && (lp.InstalledSize == nil || *lp.InstalledSize == p.InstalledSize) {
				found = true
				break
			}
		}
		if !found {
			p := cands[0]
			line := fmt.Sprintf("%s %s (%s): the lock says %s, %d bytes, sha256 %s; the signed index of %s says %s, %d bytes, sha256 %s",
				lp.Name, lp.Version, lp.Arch, lp.Filename, lp.Size, lp.SHA256, su, p.Filename, p.Size, p.SHA256)
			if lp.InstalledSize != nil && *lp.InstalledSize != p.InstalledSize {
				line += fmt.Sprintf(" (installed size: the lock says %d KiB, the index %d KiB)", *lp.InstalledSize, p.InstalledSize)
			}
			bad = append(bad, line)
		}
	}
	if len(bad) == 0 {
		if bad = checkResolution(idx, l, in); len(bad) > 0 {
			return len(l.Packages), fmt.Errorf("%w: %d %s entries for %s differ from what the spec resolves to from the signed indexes of %s, keeping the locked versions:\n  %s\n(the lock was edited by hand, or rolled back or padded with other signed packages: run `strata lock --update` to resolve it again from the signed archive)",
				ErrLockNotSigned, len(bad), s.Name(), req.Platform, strings.Join(suiteNames(idx.Suites), ", "), strings.Join(bad, "\n  "))
		}
	}
	if len(bad) > 0 {
		return len(l.Packages), fmt.Errorf("%w: %d of %d %s entries for %s are not in a signed index of %s:\n  %s\n(the lock was edited by hand or the archive dropped these versions: run `strata lock --update` to resolve them again from the signed archive)",
			ErrLockNotSigned, len(bad), len(l.Packages), s.Name(), req.Platform, strings.Join(suiteNames(idx.Suites), ", "), strings.Join(bad, "\n  "))
	}
	return len(l.Packages), nil
}

func suiteNames(ss []IndexSuite) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

// checkResolution resolves the spec's roots from the signed index idx,
// keeping the versions l locks, and returns a line for each difference: a
// locked package the resolution does not take (padded in), one it takes
// that the lock lacks, a version it cannot keep, and a locked version
// older than another suite (or the same one) offers, which a lock rolled
// back to an older signed .deb (the one before a security fix) shows.
// A root pinned as name=version in the spec is exempt from the last.
func checkResolution(idx *Index, l *Lock, in *inputs) []string {
	prefer := map[string]string{}
	for _, p := range l.Packages {
		prefer[p.Name] = p.Version
	}
	ro := ResolveOptions{Arch: in.arch, Roots: in.deb.Packages, Exclude: in.deb.Exclude, Prefer: prefer} // no Log: the lock's resolution logged its choices
	if e := in.deb.Exact; e != nil {
		ro.ExactAll, ro.Exact = e.All, e.Packages
	}
	res, err := Resolve(idx, ro)
	if err != nil {
		return []string{fmt.Sprintf("the spec's packages do not resolve from the signed index: %v", err)}
	}
	type key struct{ name, arch string }
	got := map[key]*Package{}
	for _, rp := range res.Packages {
		got[key{rp.Pkg.Name, rp.Pkg.Arch}] = rp.Pkg
	}
	var bad []string
	locked := map[key]bool{}
	pinned := map[string]bool{}
	for _, r := range in.deb.Packages {
		if name, _, ok := strings.Cut(r, "="); ok {
			pinned[name] = true
		}
	}
	for _, lp := range l.Packages {
		locked[key{lp.Name, lp.Arch}] = true
	}
	// The highest version of each locked package across the suites.
	highest := map[key]*Package{}
	for _, lp := range l.Packages {
		for _, p := range idx.named(lp.Name) { // the index is read in place, per name
			k := key{p.Name, p.Arch}
			if hi, ok := highest[k]; locked[k] && (!ok || compareVersions(p.Version, hi.Version) > 0) {
				highest[k] = p
			}
		}
	}
	for _, lp := range l.Packages {
		k := key{lp.Name, lp.Arch}
		p := got[k]
		switch {
		case p == nil:
			bad = append(bad, fmt.Sprintf("%s %s (%s): the spec's packages do not need it (an entry added to the lock)", lp.Name, lp.Version, lp.Arch))
			continue
		case p.Version != lp.Version:
			bad = append(bad, fmt.Sprintf("%s %s (%s): the spec's packages cannot keep it, they resolve to %s", lp.Name, lp.Version, lp.Arch, p.Version))
			continue
		}
		if pinned[lp.Name] {
			continue
		}
		if hi := highest[k]; hi != nil && compareVersions(hi.Version, lp.Version) > 0 {
			bad = append(bad, fmt.Sprintf("%s %s (%s): older than %s in %s (a lock rolled back to an older signed version)", lp.Name, lp.Version, lp.Arch, hi.Version, hi.Suite))
		}
	}
	for _, rp := range res.Packages {
		if p := rp.Pkg; !locked[key{p.Name, p.Arch}] {
			bad = append(bad, fmt.Sprintf("%s %s (%s): the spec's packages need it and the lock lacks it (an entry removed from the lock)", p.Name, p.Version, p.Arch))
		}
	}
	return bad
}
