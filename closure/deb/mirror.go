package deb

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/deb822"
)

// MirrorEnv names the environment variable that overrides the host's apt
// sources as the default mirror.
const MirrorEnv = "STRATA_DEBIAN_MIRROR"

// SecurityMirrorEnv names the environment variable that overrides the
// host's apt sources as the mirror of SUITE-security.
const SecurityMirrorEnv = "STRATA_DEBIAN_SECURITY_MIRROR"

// DefaultKeyring is the keyring used when the spec names none.
const DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Arch maps an OCI platform to Debian's architecture name.
func Arch(p closure.Platform) (string, error) {
	if p.OS != "" && p.OS != "linux" {
		return "", fmt.Errorf("platform %s: Debian packages run on Linux only (build for linux/%s, or drop the debian inputs for %s)", p, p.Arch, p.OS)
	}
	switch p.Arch {
	case "amd64", "arm64", "s390x", "riscv64":
		return p.Arch, nil
	case "386":
		return "i386", nil
	case "ppc64le":
		return "ppc64el", nil
	case "arm":
		if p.Variant == "v7" || p.Variant == "" {
			return "armhf", nil
		}
		if p.Variant == "v5" || p.Variant == "v6" {
			return "armel", nil
		}
	case "mips64le":
		return "mips64el", nil
	}
	return "", fmt.Errorf("platform %s has no Debian architecture (use one of linux/amd64, linux/arm64, linux/arm/v7, linux/386, linux/ppc64le, linux/s390x, linux/riscv64)", p)
}

// AptSource is one "deb" entry of the host's apt configuration.
type AptSource struct {
	URI        string
	Suites     []string
	Components []string
}

// MirrorOptions says where FindMirror looks.
type MirrorOptions struct {
	// Spec is the spec's mirror field; it wins when set.
	Spec string
	// Env is the value of STRATA_DEBIAN_MIRROR.
	Env string
	// AptRoot is the folder holding sources.list and sources.list.d
	// (default /etc/apt).
	AptRoot string
	// AnySecuritySuite lets FindSecurityMirror take the host's source of
	// another security suite when none names the one asked for. Callers
	// set it when the main mirror is the host's too: the host's security
	// archive belongs with the host's main archive, not with a mirror the
	// spec or STRATA_DEBIAN_MIRROR names.
	AnySecuritySuite bool
}

// FindMirror returns the mirror to use for suite: the spec's mirror, else
// STRATA_DEBIAN_MIRROR, else the host's apt source that serves suite (or,
// failing that, the host's main archive entry). The result has no trailing
// slash.
func FindMirror(suite string, o MirrorOptions) (string, error) {
	if o.Spec != "" {
		return strings.TrimRight(o.Spec, "/"), nil
	}
	if o.Env != "" {
		return strings.TrimRight(o.Env, "/"), nil
	}
	root := o.AptRoot
	if root == "" {
		root = "/etc/apt"
	}
	srcs, err := ReadAptSources(root)
	if err != nil {
		return "", err
	}
	if m := pickMirror(srcs, suite); m != "" {
		return strings.TrimRight(m, "/"), nil
	}
	return "", fmt.Errorf("no Debian mirror for suite %s: none in %s/sources.list.d/*.sources or %s/sources.list; set debian.mirror in the spec or the %s environment variable to the archive's base URL (the folder holding dists/ and pool/)", suite, root, root, MirrorEnv)
}

// FindSecurityMirror returns the mirror serving the security suite (like
// "bookworm-security"): o.Spec (debian.securityMirror), else o.Env
// (STRATA_DEBIAN_SECURITY_MIRROR), else the host's apt source that names
// suite, else (with o.AnySecuritySuite) the host's apt source of any
// security suite: one security archive serves every release, so a
// bookworm host's bookworm-security entry also serves trixie-security. It
// returns "" without an error when
// the host has no security source: the security archive usually lives
// elsewhere than the main one, so the main mirror is no fallback.
func FindSecurityMirror(suite string, o MirrorOptions) (string, error) {
	if o.Spec != "" {
		return strings.TrimRight(o.Spec, "/"), nil
	}
	if o.Env != "" {
		return strings.TrimRight(o.Env, "/"), nil
	}
	m, err := aptMirrorNaming(suite, o.AptRoot)
	if err != nil || m != "" || !o.AnySecuritySuite {
		return m, err
	}
	root := o.AptRoot
	if root == "" {
		root = "/etc/apt"
	}
	srcs, err := ReadAptSources(root)
	if err != nil {
		return "", err
	}
	for _, s := range srcs {
		for _, su := range s.Suites {
			if strings.HasSuffix(su, "-security") || strings.HasSuffix(su, "/updates") {
				return strings.TrimRight(s.URI, "/"), nil
			}
		}
	}
	return "", nil
}

// aptMirrorNaming returns the URI of the first of the host's apt sources
// under root (default /etc/apt) that names suite, or "".
func aptMirrorNaming(suite, root string) (string, error) {
	if root == "" {
		root = "/etc/apt"
	}
	srcs, err := ReadAptSources(root)
	if err != nil {
		return "", err
	}
	for _, s := range srcs {
		if slices.Contains(s.Suites, suite) {
			return strings.TrimRight(s.URI, "/"), nil
		}
	}
	return "", nil
}

// pickMirror chooses the entry that serves suite; failing that the first
// entry serving a plain release suite (no "-security", "-updates", ...),
// which is the main archive and serves every release.
func pickMirror(srcs []AptSource, suite string) string {
	for _, s := range srcs {
		for _, su := range s.Suites {
			if su == suite {
				return s.URI
			}
		}
	}
	for _, s := range srcs {
		for _, su := range s.Suites {
			if !strings.ContainsAny(su, "-/") {
				return s.URI
			}
		}
	}
	return ""
}

// ReadAptSources reads the "deb" entries of root/sources.list.d/*.sources
// (deb822) and root/sources.list plus root/sources.list.d/*.list (one-line
// form), in that order. Missing files are not an error.
func ReadAptSources(root string) ([]AptSource, error) {
	var out []AptSource
	d822, _ := filepath.Glob(filepath.Join(root, "sources.list.d", "*.sources"))
	sort.Strings(d822)
	for _, p := range d822 {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading apt sources %s: %w", p, err)
		}
		srcs, err := parseDeb822Sources(string(b))
		if err != nil {
			return nil, fmt.Errorf("reading apt sources %s: %w (fix the file; apt rejects it too)", p, err)
		}
		out = append(out, srcs...)
	}
	lists := []string{filepath.Join(root, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(root, "sources.list.d", "*.list"))
	sort.Strings(more)
	lists = append(lists, more...)
	for _, p := range lists {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading apt sources %s: %w", p, err)
		}
		out = append(out, parseOneLineSources(string(b))...)
	}
	return out, nil
}

func parseDeb822Sources(text string) ([]AptSource, error) {
	paras, err := deb822.Read(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	var out []AptSource
	for _, f := range paras {
		if !hasWord(f.Get("Types"), "deb") {
			continue
		}
		if e := strings.ToLower(f.Get("Enabled")); e == "no" || e == "false" {
			continue
		}
		for _, uri := range strings.Fields(f.Get("URIs")) {
			out = append(out, AptSource{URI: uri, Suites: strings.Fields(f.Get("Suites")), Components: strings.Fields(f.Get("Components"))})
		}
	}
	return out, nil
}

func hasWord(s, w string) bool {
	for _, x := range strings.Fields(s) {
		if x == w {
			return true
		}
	}
	return false
}

func parseOneLineSources(text string) []AptSource {
	var out []AptSource
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fs := strings.Fields(line)
		if len(fs) < 3 || fs[0] != "deb" {
			continue
		}
		fs = fs[1:]
		if strings.HasPrefix(fs[0], "[") {
			// options: skip to the closing bracket.
			for len(fs) > 0 && !strings.HasSuffix(fs[0], "]") {
				fs = fs[1:]
			}
			if len(fs) == 0 {
				continue
			}
			fs = fs[1:]
		}
		if len(fs) < 2 || strings.HasPrefix(fs[0], "[") {
			continue // no URI and suite, or a second options block: apt refuses the line too
		}
		out = append(out, AptSource{URI: fs[0], Suites: []string{fs[1]}, Components: fs[2:]})
	}
	return out
}
