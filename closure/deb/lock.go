package deb

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/stratabuild/strata/spec"
)

// Lock is the "debian" section of strata.lock for one platform. It
// records nothing machine-specific (no mirror): the same lock builds the
// same closure from any mirror carrying the archive.
type Lock struct {
	Suite      string   `json:"suite"`
	Components []string `json:"components"`
	Arch       string   `json:"arch"`
	// Request is debian.packages and Exclude debian.exclude as locked.
	Request []string `json:"request"`
	Exclude []string `json:"exclude,omitempty"`
	// ExactAll and Exact record debian.exact (true, or the names).
	ExactAll bool     `json:"exactAll,omitempty"`
	Exact    []string `json:"exact,omitempty"`
	// NoUpdates records debian.updates: false (the main suite alone was
	// read). Locks written before update suites existed lack it, and fit
	// the default.
	NoUpdates bool `json:"noUpdates,omitempty"`
	// ReleaseDate is the signed Release file's Date field (main suite).
	// A later resolution refuses a Release of the suite dated before it
	// (a replayed downgrade; see checkNotOlder), so it is what the lock
	// holds the archive to; locks without Releases are compared by it.
	ReleaseDate string `json:"releaseDate"`
	// ReleaseVersion is the signed Release file's Version field (main
	// suite), "" for suites without one (sid) and in older locks; it gives
	// the purl distro qualifier (see Distro).
	ReleaseVersion string `json:"releaseVersion,omitempty"`
	// KeyFingerprint is the primary key fingerprint of the keyring entry
	// whose signature on InRelease was verified (main suite).
	KeyFingerprint string `json:"keyFingerprint"`
	// Releases are every suite read, main suite first, then
	// SUITE-updates and SUITE-security when they were read.
	Releases []LockedRelease `json:"releases,omitempty"`
	Packages []LockedPackage `json:"packages"`
}

// LockedRelease is one signed Release file read for a lock.
type LockedRelease struct {
	Suite string `json:"suite"`
	// Date is the Release's Date field: a later resolution refuses a
	// Release of this suite dated before it unless downgrades are allowed.
	Date           string `json:"date"`
	KeyFingerprint string `json:"keyFingerprint"`
}

// LockedPackage pins one package of the closure.
type LockedPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// Suite is the suite the package comes from, like bookworm-security;
	// its mirror (which Filename is relative to) is found on the building
	// machine. Empty in older locks: the main suite.
	Suite    string `json:"suite,omitempty"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	// InstalledSize is the index's Installed-Size (KiB): what the layer
	// plan weighs the package by, known before its .deb is unpacked. Nil
	// in locks written before it was recorded: the .deb's control file
	// gives it then.
	InstalledSize *int64 `json:"installedSize,omitempty"`
	// Root marks the packages debian.packages resolved to.
	Root bool `json:"root,omitempty"`
	// Depends are the names of the packages chosen for its Depends and
	// Pre-Depends, sorted.
	Depends []string `json:"depends,omitempty"`
}

// Marshal renders the lock as compact JSON with a fixed field order.
func (l *Lock) Marshal() (json.RawMessage, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encoding the debian lock: %w", err)
	}
	return b, nil
}

// ParseLock reads a lock section and checks it is complete.
func ParseLock(raw json.RawMessage) (*Lock, error) {
	var l Lock
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("reading the debian section of strata.lock: %w (run `strata lock --update` to write it anew)", err)
	}
	if l.Suite == "" || l.Arch == "" || len(l.Packages) == 0 {
		return nil, fmt.Errorf("the debian section of strata.lock lacks its suite, arch or packages (run `strata lock --update` to write it anew)")
	}
	for _, p := range l.Packages {
		if p.Suite != "" && p.Suite != l.Suite && !slices.Contains(UpdateSuites(l.Suite), p.Suite) {
			return nil, fmt.Errorf("the debian section of strata.lock says %s comes from suite %q, which is neither %s nor one of its update suites %v (run `strata lock --update` to write it anew)", p.Name, p.Suite, l.Suite, UpdateSuites(l.Suite))
		}
		if p.Name == "" || p.Version == "" || p.Filename == "" || !isHexSHA256(p.SHA256) {
			return nil, fmt.Errorf("the debian section of strata.lock has an incomplete entry for %q (run `strata lock --update` to write it anew)", p.Name)
		}
		if strings.HasPrefix(p.Filename, "/") || slices.Contains(strings.Split(p.Filename, "/"), "..") {
			return nil, fmt.Errorf("the debian section of strata.lock has a bad filename %q for %s (run `strata lock --update` to write it anew)", p.Filename, p.Name)
		}
	}
	return &l, nil
}

// matches reports why the lock does not fit the requested inputs ("" when
// it does).
func (l *Lock) matches(suite string, comps []string, arch string, request, exclude []string, updates bool, exact *spec.Exact) string {
	var exactAll bool
	var exactNames []string
	if exact != nil {
		exactAll, exactNames = exact.All, exact.Packages
	}
	switch {
	case l.Suite != suite:
		return fmt.Sprintf("suite %s, the spec asks for %s", l.Suite, suite)
	case l.NoUpdates == updates:
		return fmt.Sprintf("debian.updates %v, the spec asks for %v", !l.NoUpdates, updates)
	case !slices.Equal(l.Components, comps):
		return fmt.Sprintf("components %v, the spec asks for %v", l.Components, comps)
	case l.Arch != arch:
		return fmt.Sprintf("architecture %s, the build asks for %s", l.Arch, arch)
	case !slices.Equal(l.Request, request):
		return fmt.Sprintf("packages %v, the spec asks for %v", l.Request, request)
	case !slices.Equal(l.Exclude, exclude):
		return fmt.Sprintf("exclude %v, the spec asks for %v", l.Exclude, exclude)
	case l.ExactAll != exactAll || !slices.Equal(l.Exact, exactNames):
		return "another debian.exact than the spec's"
	}
	return ""
}

// suiteOf is the suite a locked package comes from.
func (l *Lock) suiteOf(p LockedPackage) string {
	if p.Suite == "" {
		return l.Suite
	}
	return p.Suite
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
