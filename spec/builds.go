package spec

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Build is one build step: Run executes in a sandbox whose read-only root
// is the build closure (Debian packages), with Src at /src, other steps'
// outputs at their Inputs paths and an empty writable $out. The output is
// cached under a key hashed from all of that.
type Build struct {
	// Debian is the build closure: resolved, signed and locked like the
	// image's packages (suite, mirror and keyring default to the image's
	// debian block; without one the suite is DefaultSuite or the one the
	// command line asks for).
	Debian *BuildDebian `yaml:"debian,omitempty" json:"debian,omitempty" jsonschema:"description=The build closure: Debian packages the step runs with (suite, mirror and keyring default to the image's debian block)."`
	// Src is a folder relative to the spec, read-only at /src.
	Src string `yaml:"src,omitempty" json:"src,omitempty" jsonschema:"description=Folder relative to the spec, hashed into the step's key, read-only at /src."`
	// Env is set for the step (the rest of the environment is cleared).
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Run is a /bin/sh script; it writes the output under $out.
	Run string `yaml:"run" json:"run" jsonschema:"required,description=Shell script run with sh -e; it writes the step's output under $out."`
	// Inputs mounts other steps' outputs read-only: step name -> path.
	Inputs map[string]string `yaml:"inputs,omitempty" json:"inputs,omitempty" jsonschema:"description=Other steps' outputs mounted read-only: step name -> absolute path."`
	// Network allows the network: the step is fixed-output, keyed by the
	// hash of its output, which strata.lock records.
	Network bool `yaml:"network,omitempty" json:"network,omitempty" jsonschema:"description=Allow the network; the step becomes fixed-output: its output hash is recorded in strata.lock and checked on every later run."`
	// PassEnv names host variables a fixed-output step may read.
	PassEnv []string `yaml:"passEnv,omitempty" json:"passEnv,omitempty" jsonschema:"description=Host environment variables a fixed-output (network) step may read."`
	// Runtime is auto (default: the Debian packages that ship the
	// libraries the output's ELF files need go into the image) or none.
	Runtime string `yaml:"runtime,omitempty" json:"runtime,omitempty" jsonschema:"enum=auto,enum=none,description=auto (default): the packages providing the shared libraries and interpreter the output's ELF files need go into the image; none: nothing is added."`
}

// BuildDebian is a build step's build closure.
type BuildDebian struct {
	Suite    string   `yaml:"suite,omitempty" json:"suite,omitempty" jsonschema:"description=Debian suite; default the image's debian.suite (without a debian block: trixie\\, or the suite given by --suite or STRATA_DEBIAN_SUITE)."`
	Packages []string `yaml:"packages" json:"packages" jsonschema:"required"`
	Exclude  []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
}

var stepNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// reservedMounts are sandbox paths an input cannot take.
var reservedMounts = []string{"/", "/src", "/out", "/tmp", "/proc", "/dev", "/usr", "/etc"}

func buildNames(s *Spec) []string {
	names := make([]string, 0, len(s.Builds))
	for n := range s.Builds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// StepBasePackages are in every build closure, before the step's own: a
// shell and the basic tools a script expects (Nix's stdenv has the same
// idea; Debian's Essential packages are not implied, as in images).
var StepBasePackages = []string{"dash", "coreutils", "sed", "grep", "findutils"}

// StepDebian is the Debian block a build step's closure resolves: the
// base packages and the step's, with the image's suite, components,
// mirror and keyring unless the step names its own suite.
func (s *Spec) StepDebian(name string) *Debian {
	b := s.Builds[name]
	if b == nil || b.Debian == nil {
		return nil
	}
	pkgs := append([]string(nil), StepBasePackages...)
	for _, p := range b.Debian.Packages {
		if !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	d := &Debian{Packages: pkgs, Exclude: b.Debian.Exclude, Suite: b.Debian.Suite}
	if img := s.Debian; img != nil {
		if d.Suite == "" || d.Suite == img.Suite {
			d.Suite, d.Components, d.Mirror, d.Keyring, d.Updates, d.SecurityMirror = img.Suite, img.Components, img.Mirror, img.Keyring, img.Updates, img.SecurityMirror
		}
	}
	return d
}

func validateBuilds(s *Spec) Errors {
	var errs Errors
	add := func(key, msg, fix string) { errs = append(errs, &Error{Key: key, Msg: msg, Fix: fix}) }
	names := buildNames(s)
	for _, name := range names {
		b := s.Builds[name]
		key := "builds." + name
		if !stepNameRe.MatchString(name) {
			add(key, fmt.Sprintf("%q is not a step name", name), "use lowercase letters, digits, - and _")
		}
		if b == nil {
			add(key, "empty", "give the step at least `run:` and `debian: {packages: [...]}`")
			continue
		}
		if strings.TrimSpace(b.Run) == "" {
			add(key+".run", "missing", "write the shell commands that fill $out")
		}
		switch {
		case b.Debian == nil || len(b.Debian.Packages) == 0:
			add(key+".debian.packages", "no packages", "list the packages the step runs with, like [gcc, libc6-dev] (a shell and coreutils come with every step)")
		}
		if b.Src != "" {
			switch {
			case filepath.IsAbs(b.Src):
				add(key+".src", fmt.Sprintf("%q is absolute", b.Src), "write it relative to the spec's folder")
			case escapes(b.Src):
				add(key+".src", fmt.Sprintf("%q leaves the spec's folder through ..", b.Src), "move the sources under the spec's folder")
			default:
				if fi, err := os.Stat(filepath.Join(s.Dir, filepath.FromSlash(b.Src))); err != nil || !fi.IsDir() {
					add(key+".src", fmt.Sprintf("%s is not a folder", filepath.Join(s.Dir, filepath.FromSlash(b.Src))), "create it or fix the path (relative to the spec's folder)")
				}
			}
		}
		for k := range b.Env {
			if !envKeyRe.MatchString(k) {
				add(key+".env."+k, "is not a variable name", "use letters, digits and _")
			}
		}
		for in, mnt := range b.Inputs {
			if _, ok := s.Builds[in]; !ok || in == name {
				fix := "name another step of `builds`"
				if c := closestOf(in, names); c != "" && c != name {
					fix = fmt.Sprintf("did you mean `%s`?", c)
				}
				add(key+".inputs."+in, "is not another build step", fix)
			}
			clean := path.Clean(mnt)
			reserved := clean == "/"
			for _, r := range reservedMounts[1:] {
				reserved = reserved || clean == r || strings.HasPrefix(clean, r+"/")
			}
			if !path.IsAbs(mnt) || clean != mnt || reserved {
				add(key+".inputs."+in, fmt.Sprintf("%q is not a free absolute path", mnt), "mount it at a clean absolute path such as /deps, outside /src, /out, /tmp, /usr and /etc")
			}
		}
		if len(b.PassEnv) > 0 && !b.Network {
			add(key+".passEnv", "only a fixed-output step (network: true) may read host variables", "set network: true, or move the values into env")
		}
		for _, v := range b.PassEnv {
			if !envKeyRe.MatchString(v) {
				add(key+".passEnv", fmt.Sprintf("%q is not a variable name", v), "use letters, digits and _")
			}
		}
		if b.Runtime != "" && b.Runtime != "auto" && b.Runtime != "none" {
			add(key+".runtime", fmt.Sprintf("unknown value %q", b.Runtime), "use auto or none")
		}
	}
	return errs
}
