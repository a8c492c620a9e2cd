package sysfiles

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stratabuild/strata/closure/deb/debfile"
)

// alternative is one `update-alternatives --install` call.
type alternative struct {
	name, link, path string
	priority         int
	slaves           []slaveLink
}

type slaveLink struct{ name, link, path string }

// parseAlternatives finds the `update-alternatives --install` calls with
// literal arguments in a maintainer script. Calls whose arguments use shell
// variables or command substitution are counted in skipped.
func parseAlternatives(script string) (alts []alternative, skipped int) {
	script = strings.ReplaceAll(script, "\\\n", " ")
	for _, line := range strings.Split(script, "\n") {
		i := strings.Index(line, "update-alternatives")
		if i < 0 || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		words, dynamic := shellWords(line[i+len("update-alternatives"):])
		if !containsWord(words, "--install") {
			continue
		}
		if dynamic {
			skipped++
			continue
		}
		a, ok := parseInstall(words)
		if !ok {
			skipped++
			continue
		}
		alts = append(alts, a)
	}
	return alts, skipped
}

func containsWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// parseInstall reads [options] --install LINK NAME PATH PRIORITY
// [--slave LINK NAME PATH]...
func parseInstall(w []string) (alternative, bool) {
	for len(w) > 0 && w[0] != "--install" {
		switch w[0] {
		case "--quiet", "--verbose", "--force", "--debug":
			w = w[1:]
		default:
			return alternative{}, false
		}
	}
	if len(w) < 5 {
		return alternative{}, false
	}
	prio, err := strconv.Atoi(w[4])
	if err != nil || !strings.HasPrefix(w[1], "/") || !strings.HasPrefix(w[3], "/") || strings.Contains(w[2], "/") {
		return alternative{}, false
	}
	a := alternative{link: w[1], name: w[2], path: w[3], priority: prio}
	for w = w[5:]; len(w) >= 4 && w[0] == "--slave"; w = w[4:] {
		if !strings.HasPrefix(w[1], "/") || !strings.HasPrefix(w[3], "/") || strings.Contains(w[2], "/") {
			return alternative{}, false
		}
		a.slaves = append(a.slaves, slaveLink{link: w[1], name: w[2], path: w[3]})
	}
	return a, len(w) == 0
}

// shellWords splits a shell command line into words up to the end of the
// command (an unquoted ; & | < > or #), removing quotes. dynamic reports an
// expansion ($ or `) that strata cannot evaluate.
func shellWords(s string) (words []string, dynamic bool) {
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || (c == '#' && !inWord):
			flush()
			return words, dynamic
		case c == '$' || c == '`':
			dynamic = true
			cur.WriteByte(c)
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return words, true
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return words, true
			}
			part := s[i+1 : i+1+j]
			if strings.ContainsAny(part, "$`\\") {
				dynamic = true
			}
			cur.WriteString(part)
			i += j + 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, dynamic
}

// alternatives makes the links update-alternatives would: for each name
// the candidate with the highest priority (the first one on a tie, in
// closure order) whose path a package ships wins; LINK points to
// /etc/alternatives/NAME, which points to PATH; slaves likewise when their
// path is shipped. Links a package ships itself are left alone.
func (g *gen) alternatives(pkgs []*debfile.Package) error {
	best := map[string]alternative{}
	for _, p := range pkgs {
		script, err := p.Script("postinst")
		if err != nil {
			return fmt.Errorf("generating alternatives links: %w", err)
		}
		alts, _ := parseAlternatives(script)
		for _, a := range alts {
			if !g.ships(a.path) {
				continue
			}
			if cur, ok := best[a.name]; !ok || a.priority > cur.priority {
				best[a.name] = a
			}
		}
	}
	names := make([]string, 0, len(best))
	for n := range best {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := best[n]
		links := append([]slaveLink{{name: a.name, link: a.link, path: a.path}}, a.slaves...)
		for _, l := range links {
			link := debfile.MergedPath(l.link)
			if !g.ships(l.path) || g.ships(l.link) || strings.HasPrefix(link, "etc/alternatives/") {
				continue
			}
			if _, taken := g.byPath[link]; taken {
				continue
			}
			if err := g.symlink(link, "/etc/alternatives/"+l.name, true); err != nil {
				return err
			}
			if err := g.symlink("etc/alternatives/"+l.name, l.path, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// ships reports whether a package ships a non-folder at the absolute path p.
func (g *gen) ships(p string) bool {
	_, ok := g.shipped[debfile.MergedPath(p)]
	return ok
}
