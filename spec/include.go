package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// maxIncludeDepth bounds include chains (a cycle is reported before).
const maxIncludeDepth = 8

// applyIncludes merges the specs s.Include names (relative to dir, a file
// or a folder holding strata.yaml) into s, in order, each after its own
// includes; chain holds the files on the way, for cycles, and merged the
// files already merged anywhere in the include tree: a spec reached twice
// (A includes B and C, both include D) is merged once, where it is first
// reached. See merge for what an included spec gives.
func (s *Spec) applyIncludes(display, dir string, chain []string, merged map[string]bool) error {
	for i, inc := range s.Include {
		key := fmt.Sprintf("include[%d]", i)
		p := inc
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		file, err := Find(p)
		if err != nil {
			return &Error{File: display, Key: key, Msg: err.Error(), Fix: "name a spec file or a folder holding strata.yaml, relative to this spec"}
		}
		if slices.Contains(chain, file) {
			return &Error{File: display, Key: key, Msg: fmt.Sprintf("%s includes itself through %s", inc, strings.Join(append(chain, file), " -> ")), Fix: "remove one include of the cycle"}
		}
		if merged[file] {
			continue
		}
		if len(chain) >= maxIncludeDepth {
			return &Error{File: display, Key: key, Msg: fmt.Sprintf("includes nest deeper than %d", maxIncludeDepth), Fix: "include fewer levels"}
		}
		b, err := readSpecFile(file, file)
		if err != nil {
			if se, ok := err.(*Error); ok {
				return se
			}
			return &Error{File: display, Key: key, Msg: fmt.Sprintf("reading %s: %v", inc, err)}
		}
		f, err := parseYAML(file, b)
		if err != nil {
			return err
		}
		if len(f.Docs) != 1 || f.Docs[0].Body == nil {
			return &Error{File: file, Msg: "an included spec must be one YAML mapping"}
		}
		var in Spec
		if err := decodeSpec(file, f, b, &in); err != nil {
			return err
		}
		modeLiterals(f.Docs[0].Body, &in) // mode: 0644 unquoted, as in the top spec
		if err := in.applyIncludes(file, filepath.Dir(file), append(chain, file), merged); err != nil {
			return err
		}
		merged[file] = true
		if err := s.merge(&in, file, dir); err != nil {
			return err
		}
	}
	return nil
}

// merge folds an included spec in under s: s's own settings win.
//   - debian: suite, components, mirror, keyring, updates and
//     securityMirror from s when set, else from in; packages, exclude
//     and keep are in's then s's (each name once); exact: both lists
//     joined, true in either wins; paths and packagePaths: the globs of
//     both joined; ldCache: true in either wins; perSuite: merged by
//     suite the same way;
//   - accounts: in's users and groups, then s's; exact if either is;
//   - osRelease, nsswitch, config.env and config.labels: merged per
//     key, s wins;
//   - the other config fields, platforms, layering: s's when set;
//   - builds: in's steps are added by name (a name in both is an
//     error); files: in's entries, then s's;
//   - name and tag stay s's. An included spec may not have nix or base,
//     nor local sources: a files entry without build: or a step with
//     src: (their paths, hashes and pins belong to one spec's folder);
//     its steps and the files taken from their outputs carry over.
func (s *Spec) merge(in *Spec, file, dir string) error {
	for _, f := range []struct {
		key string
		set bool
	}{{"nix", in.Nix != nil}, {"base", in.Base != ""}} {
		if f.set {
			return &Error{File: file, Key: f.key, Msg: "an included spec may not set " + f.key, Fix: "move " + f.key + " into the spec that includes this one"}
		}
	}
	for i, f := range in.Files {
		if f.Build == "" {
			return &Error{File: file, Key: fmt.Sprintf("files[%d]", i), Msg: "an included spec may only copy build steps' outputs (files with build:), not local files", Fix: "move the entry into the spec that includes this one"}
		}
	}
	for _, name := range buildNames(in) {
		b := in.Builds[name]
		if b != nil && b.Src != "" {
			return &Error{File: file, Key: "builds." + name + ".src", Msg: "a build step of an included spec may not read local sources", Fix: "move the step into the spec that includes this one"}
		}
		if _, dup := s.Builds[name]; dup {
			return &Error{File: file, Key: "builds." + name, Msg: "the including spec has a build step of the same name", Fix: "rename one of the steps"}
		}
		if s.Builds == nil {
			s.Builds = map[string]*Build{}
		}
		s.Builds[name] = b
	}
	if len(in.Files) > 0 {
		s.Files = append(slices.Clone(in.Files), s.Files...)
	}
	if d := in.Debian; d != nil {
		if s.Debian == nil {
			s.Debian = &Debian{}
		}
		o := s.Debian
		o.Suite = or(o.Suite, d.Suite)
		if len(o.Components) == 0 {
			o.Components = d.Components
		}
		o.Mirror, o.Keyring, o.SecurityMirror = or(o.Mirror, d.Mirror), or(o.Keyring, d.Keyring), or(o.SecurityMirror, d.SecurityMirror)
		if d.Keyring != "" && o.Keyring == d.Keyring && !filepath.IsAbs(d.Keyring) {
			// Relative to the including spec's folder (dir), as a keyring
			// it names itself would be: an absolute path would put where
			// the repository is checked out into the lock's inputs hash,
			// and --frozen would fail in every other checkout.
			k := filepath.Join(filepath.Dir(file), d.Keyring)
			if rel, err := filepath.Rel(dir, k); err == nil {
				k = filepath.ToSlash(rel)
			}
			o.Keyring = k
		}
		if o.Updates == nil {
			o.Updates = d.Updates
		}
		o.Packages = union(d.Packages, o.Packages)
		o.Exclude = union(d.Exclude, o.Exclude)
		o.Keep = union(d.Keep, o.Keep)
		o.Paths = mergeFilter(d.Paths, o.Paths)
		if d.PackagePaths != nil {
			pp := map[string]*PathFilter{}
			for k, f := range d.PackagePaths {
				pp[k] = f
			}
			for k, f := range o.PackagePaths {
				pp[k] = mergeFilter(pp[k], f)
			}
			o.PackagePaths = pp
		}
		o.LDCache = o.LDCache || d.LDCache
		o.Exact = joinExact(d.Exact, o.Exact)
		for k, e := range d.PerSuite {
			if o.PerSuite == nil {
				o.PerSuite = map[string]*SuiteDebian{}
			}
			if mine := o.PerSuite[k]; mine != nil {
				e = &SuiteDebian{Packages: union(e.Packages, mine.Packages), Exclude: union(e.Exclude, mine.Exclude), Exact: joinExact(e.Exact, mine.Exact)}
			}
			o.PerSuite[k] = e
		}
	}
	if a := in.Accounts; a != nil {
		if s.Accounts == nil {
			s.Accounts = &Accounts{}
		}
		s.Accounts.Users = append(slices.Clone(a.Users), s.Accounts.Users...)
		s.Accounts.Groups = append(slices.Clone(a.Groups), s.Accounts.Groups...)
		s.Accounts.Exact = s.Accounts.Exact || a.Exact
	}
	s.OSRelease = mergeMap(in.OSRelease, s.OSRelease)
	s.Nsswitch = mergeMap(in.Nsswitch, s.Nsswitch)
	c, ic := &s.Config, in.Config
	c.Env, c.Labels = mergeMap(ic.Env, c.Env), mergeMap(ic.Labels, c.Labels)
	if c.Entrypoint == nil && c.Cmd == nil {
		c.Entrypoint, c.Cmd = ic.Entrypoint, ic.Cmd
	}
	c.WorkingDir, c.User, c.StopSignal = or(c.WorkingDir, ic.WorkingDir), or(c.User, ic.User), or(c.StopSignal, ic.StopSignal)
	if c.ExposedPorts == nil {
		c.ExposedPorts = ic.ExposedPorts
	}
	if c.Volumes == nil {
		c.Volumes = ic.Volumes
	}
	if s.Platforms == nil {
		s.Platforms = in.Platforms
	}
	if s.Layering == (Layering{}) {
		s.Layering = in.Layering
	}
	return nil
}

// mergeFilter joins two path filters' globs (base's first).
func mergeFilter(base, over *PathFilter) *PathFilter {
	if base == nil || over == nil {
		if base == nil {
			return over
		}
		return base
	}
	return &PathFilter{Exclude: union(base.Exclude, over.Exclude), Include: union(base.Include, over.Include)}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// union is a then the names of b not in a, each once.
func union(a, b []string) []string {
	if a == nil && b == nil {
		return nil
	}
	var out []string
	for _, x := range append(slices.Clone(a), b...) {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// mergeMap is base with over's keys on top (nil when both are).
func mergeMap(base, over map[string]string) map[string]string {
	if base == nil && over == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
