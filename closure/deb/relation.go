package deb

import (
	"fmt"
	"strings"

	"pault.ag/go/debian/version"
)

// atom is one possibility of a relationship: "libc6:any (>= 2.34)".
type atom struct {
	Name    string
	Qual    string // architecture qualifier after ':' ("any", "native", an arch) or ""
	Op      string // "<<", "<=", "=", ">=", ">>" or "" for any version
	Version string
}

func (a atom) String() string {
	s := a.Name
	if a.Qual != "" {
		s += ":" + a.Qual
	}
	if a.Op != "" {
		s += " (" + a.Op + " " + a.Version + ")"
	}
	return s
}

// relation is a list of alternatives ("a | b").
type relation []atom

func (r relation) String() string {
	parts := make([]string, len(r))
	for i, a := range r {
		parts[i] = a.String()
	}
	return strings.Join(parts, " | ")
}

// parseRelations parses a Depends-like field for the target architecture:
// possibilities restricted to other architectures ("[!amd64]") are dropped,
// build profiles ("<!nocheck>") are ignored.
func parseRelations(field, arch string) ([]relation, error) {
	var out []relation
	if strings.TrimSpace(field) == "" {
		return nil, nil
	}
	for _, group := range strings.Split(field, ",") {
		if strings.TrimSpace(group) == "" {
			continue
		}
		var rel relation
		for _, alt := range strings.Split(group, "|") {
			a, keep, err := parseAtom(alt, arch)
			if err != nil {
				return nil, fmt.Errorf("bad relationship %q: %w", strings.TrimSpace(group), err)
			}
			if keep {
				rel = append(rel, a)
			}
		}
		if len(rel) > 0 {
			out = append(out, rel)
		}
	}
	return out, nil
}

func parseAtom(s, arch string) (atom, bool, error) {
	var a atom
	rest := strings.TrimSpace(s)
	if i := strings.IndexByte(rest, '('); i >= 0 {
		j := strings.IndexByte(rest, ')')
		if j < i {
			return atom{}, false, fmt.Errorf("unclosed version relation")
		}
		inner := strings.TrimSpace(rest[i+1 : j])
		rest = rest[:i] + " " + rest[j+1:]
		for _, op := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
			if strings.HasPrefix(inner, op) {
				a.Op = op
				a.Version = strings.TrimSpace(inner[len(op):])
				break
			}
		}
		switch a.Op {
		case "<":
			a.Op = "<="
		case ">":
			a.Op = ">="
		case "":
			return atom{}, false, fmt.Errorf("no operator in version relation %q", inner)
		}
		if a.Version == "" {
			return atom{}, false, fmt.Errorf("empty version in %q", inner)
		}
	}
	keep := true
	if i := strings.IndexByte(rest, '['); i >= 0 {
		j := strings.IndexByte(rest, ']')
		if j < i {
			return atom{}, false, fmt.Errorf("unclosed architecture list")
		}
		keep = archListMatches(strings.Fields(rest[i+1:j]), arch)
		rest = rest[:i] + " " + rest[j+1:]
	}
	if i := strings.IndexByte(rest, '<'); i >= 0 { // build profiles
		rest = rest[:i]
	}
	name := strings.TrimSpace(rest)
	if n, q, ok := strings.Cut(name, ":"); ok {
		name, a.Qual = n, q
	}
	a.Name = strings.TrimSpace(name)
	if a.Name == "" || strings.ContainsAny(a.Name, " \t") {
		return atom{}, false, fmt.Errorf("bad package name %q", name)
	}
	return a, keep, nil
}

// archListMatches evaluates "[amd64 arm64]" or "[!i386]" for arch.
func archListMatches(list []string, arch string) bool {
	if len(list) == 0 {
		return true
	}
	negated := strings.HasPrefix(list[0], "!")
	for _, a := range list {
		m := strings.TrimPrefix(a, "!") == arch || strings.TrimPrefix(a, "!") == "any" || strings.TrimPrefix(a, "!") == "linux-any"
		if m {
			return !negated
		}
	}
	return negated
}

// versionSatisfies reports whether have satisfies "op want".
func versionSatisfies(have, op, want string) bool {
	if op == "" {
		return true
	}
	hv, err := version.Parse(have)
	if err != nil {
		return false
	}
	wv, err := version.Parse(want)
	if err != nil {
		return false
	}
	c := version.Compare(hv, wv)
	switch op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// compareVersions orders Debian versions; unparsable ones sort by text.
func compareVersions(a, b string) int {
	av, err1 := version.Parse(a)
	bv, err2 := version.Parse(b)
	if err1 != nil || err2 != nil {
		return strings.Compare(a, b)
	}
	return version.Compare(av, bv)
}
