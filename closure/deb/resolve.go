package deb

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratabuild/strata/events"
)

// ResolveOptions is the input of Resolve besides the index.
type ResolveOptions struct {
	// Arch is the target Debian architecture ("amd64").
	Arch string
	// Roots are the packages asked for, "name" or "name=version".
	Roots []string
	// Exclude names packages that count as not installable: a dependency
	// only they satisfy is dropped, with everything only it pulled in.
	Exclude []string
	// Exact takes packages without their dependencies: every package
	// when ExactAll, else the ones named in Exact (debian.exact).
	ExactAll bool
	Exact    []string
	// Prefer maps names to versions to keep when the index still has them
	// and they satisfy every relation (used to update a lock partially).
	Prefer map[string]string
	// Log receives one line per dropped dependency and per arbitrary
	// choice among virtual package providers; nil discards.
	Log *events.Log
}

// Resolved is one package of a resolution.
type Resolved struct {
	Pkg *Package
	// Deps are the names of the packages chosen to satisfy Pkg's Depends
	// and Pre-Depends, sorted, without Pkg itself.
	Deps []string
	// NeededBy is the package that first pulled this one in ("" for a root).
	NeededBy string
}

// Resolution is the closure of a set of roots.
type Resolution struct {
	// Packages sorted by name.
	Packages []*Resolved
	// Dropped lists the dependencies dropped because of Exclude or
	// because only maintainer scripts use them (see scriptOnly), as
	// "chain -> relation".
	Dropped []string
}

// provide is one entry of a Provides field.
type provide struct {
	name    string // the virtual package
	pkg     int    // the package's id in the catalog
	version string
	qual    string
}

// catalog is what the resolver reads an index through: packages by id,
// the ids of the packages called a name (highest version first) and the
// Provides entries naming a name. lookup serves an in-memory Index,
// diskCatalog one read from the store's cached form.
type catalog interface {
	pkg(id int) *Package
	named(name string) []int
	provided(name string) []provide
	// err is the first damage met reading a cached index, nil if none.
	err() error
}

// lookup finds packages of an in-memory index by name and by what they
// provide: index positions sorted by name (highest version first) and
// Provides entries sorted by name, both searched by bisection.
type lookup struct {
	pk    []Package
	order []int
	provs []provide
}

func (l *lookup) pkg(i int) *Package { return &l.pk[i] }

func (l *lookup) err() error { return nil }

// named returns the positions of the packages called name, highest
// version first.
func (l *lookup) named(name string) []int {
	i := sort.Search(len(l.order), func(k int) bool { return l.pk[l.order[k]].Name >= name })
	j := i
	for j < len(l.order) && l.pk[l.order[j]].Name == name {
		j++
	}
	return l.order[i:j]
}

// provided returns the Provides entries naming name.
func (l *lookup) provided(name string) []provide {
	i := sort.Search(len(l.provs), func(k int) bool { return l.provs[k].name >= name })
	j := i
	for j < len(l.provs) && l.provs[j].name == name {
		j++
	}
	return l.provs[i:j]
}

func buildLookup(idx *Index, arch string) (*lookup, error) {
	pk := idx.Packages
	l := &lookup{pk: pk}
	for i := range pk {
		p := &pk[i]
		if p.Arch != arch && p.Arch != "all" {
			continue
		}
		l.order = append(l.order, i)
		if p.Provides != "" {
			rels, err := parseRelations(p.Provides, arch)
			if err != nil {
				return nil, fmt.Errorf("%s %s in %s: Provides: %w", p.Name, p.Version, idx.Label, err)
			}
			for _, r := range rels {
				for _, a := range r {
					l.provs = append(l.provs, provide{name: a.Name, pkg: i, version: a.Version, qual: a.Qual})
				}
			}
		}
	}
	sort.SliceStable(l.order, func(a, b int) bool {
		pa, pb := &pk[l.order[a]], &pk[l.order[b]]
		if pa.Name != pb.Name {
			return pa.Name < pb.Name
		}
		return compareVersions(pa.Version, pb.Version) > 0
	})
	// drop exact duplicates (the same version in two components)
	out := l.order[:0]
	for k, i := range l.order {
		if k > 0 {
			prev := &pk[out[len(out)-1]]
			if prev.Name == pk[i].Name && prev.Version == pk[i].Version {
				continue
			}
		}
		out = append(out, i)
	}
	l.order = out
	sort.SliceStable(l.provs, func(a, b int) bool { return l.provs[a].name < l.provs[b].name })
	return l, nil
}

type resolver struct {
	idx      *Index
	l        catalog
	opt      ResolveOptions
	excluded map[string]bool
	exact    map[string]bool
	roots    map[string]bool
	selected map[string]int // name -> id in l
	order    []string       // names in selection order
	parent   map[string]string
	deps     map[string]map[string]bool
	queue    []string
	pending  []pendingRel
	late     []pendingRel // script-only relations, settled last
	dropped  []string
	log      *events.Log
}

type pendingRel struct {
	owner string
	rel   relation
}

// Resolve computes the closure of opt.Roots over Depends and Pre-Depends
// in idx. It is deterministic: the same index and options give the same
// result.
func Resolve(idx *Index, opt ResolveOptions) (*Resolution, error) {
	var c catalog
	if idx.cat != nil {
		if idx.catArch != opt.Arch {
			return nil, fmt.Errorf("%s was read for architecture %s, not %s: load the index for %s", idx.Label, idx.catArch, opt.Arch, opt.Arch)
		}
		c = idx.cat
	} else {
		l, err := buildLookup(idx, opt.Arch)
		if err != nil {
			return nil, err
		}
		c = l
	}
	res, err := resolveWith(idx, c, opt)
	if derr := c.err(); derr != nil {
		// whatever went wrong, the damage explains it
		return nil, fmt.Errorf("%s: %w", idx.Label, derr)
	}
	return res, err
}

func resolveWith(idx *Index, l catalog, opt ResolveOptions) (*Resolution, error) {
	r := &resolver{
		idx: idx, l: l, opt: opt,
		excluded: map[string]bool{}, exact: map[string]bool{}, roots: map[string]bool{},
		selected: map[string]int{}, parent: map[string]string{}, deps: map[string]map[string]bool{},
		log: opt.Log,
	}
	for _, e := range opt.Exclude {
		r.excluded[e] = true
	}
	for _, e := range opt.Exact {
		r.exact[e] = true
	}
	if len(opt.Roots) == 0 {
		return nil, fmt.Errorf("debian.packages is empty: name at least one package to install")
	}
	for _, root := range opt.Roots {
		name, _, _ := strings.Cut(root, "=")
		r.roots[name] = true
	}
	for _, root := range opt.Roots {
		if err := r.addRoot(root); err != nil {
			return nil, err
		}
	}
	for {
		for len(r.queue) > 0 {
			name := r.queue[0]
			r.queue = r.queue[1:]
			if err := r.expand(name); err != nil {
				return nil, err
			}
		}
		if len(r.pending) == 0 {
			break
		}
		p := r.pending[0]
		r.pending = r.pending[1:]
		if err := r.satisfy(p.owner, p.rel); err != nil {
			return nil, err
		}
	}
	r.settleScriptOnly()
	for _, e := range opt.Exact {
		if _, ok := r.selected[e]; !ok {
			return nil, fmt.Errorf("debian.exact names %s, which is not in the closure: remove it, or add it to debian.packages", e)
		}
	}
	if err := r.checkConflicts(); err != nil {
		return nil, err
	}
	res := &Resolution{Dropped: r.dropped}
	names := append([]string(nil), r.order...)
	sort.Strings(names)
	for _, n := range names {
		rp := &Resolved{Pkg: l.pkg(r.selected[n]), NeededBy: r.parent[n]}
		for d := range r.deps[n] {
			rp.Deps = append(rp.Deps, d)
		}
		sort.Strings(rp.Deps)
		res.Packages = append(res.Packages, rp)
	}
	return res, nil
}

func (r *resolver) addRoot(root string) error {
	name, ver, pinned := strings.Cut(root, "=")
	if r.excluded[name] {
		return fmt.Errorf("%s is both in debian.packages and debian.exclude: remove it from one of them", name)
	}
	if _, ok := r.selected[name]; ok {
		return nil
	}
	a := atom{Name: name}
	if pinned {
		a.Op, a.Version = "=", ver
	}
	if len(r.l.named(name)) == 0 {
		if len(r.l.provided(name)) > 0 {
			// a virtual package as a root: treat it like a dependency.
			return r.satisfy("", relation{a})
		}
		return fmt.Errorf("%s: no package named %s in %s (check the name and debian.suite/debian.components)", name, name, r.idx.Label)
	}
	c := r.realCandidates(a)
	if len(c) == 0 {
		return fmt.Errorf("%s: no version of %s satisfies it in %s (available: %s)", root, name, r.idx.Label, r.versionsOf(name))
	}
	r.choose(c[0], "")
	return nil
}

// choose selects package index i, pulled in by owner.
func (r *resolver) choose(i int, owner string) {
	p := r.l.pkg(i)
	if _, ok := r.selected[p.Name]; ok {
		return
	}
	r.selected[p.Name] = i
	r.order = append(r.order, p.Name)
	r.parent[p.Name] = owner
	r.queue = append(r.queue, p.Name)
}

func (r *resolver) edge(owner, dep string) {
	if owner == "" || owner == dep {
		return
	}
	m := r.deps[owner]
	if m == nil {
		m = map[string]bool{}
		r.deps[owner] = m
	}
	m[dep] = true
}

func (r *resolver) expand(name string) error {
	if r.opt.ExactAll || r.exact[name] {
		return nil // debian.exact: the package without its dependencies
	}
	p := r.l.pkg(r.selected[name])
	for _, field := range []struct{ name, text string }{{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}} {
		rels, err := parseRelations(field.text, r.opt.Arch)
		if err != nil {
			return fmt.Errorf("%s: %s %s in %s: %w", r.chain(name), p.Name, field.name, r.idx.Label, err)
		}
		for _, rel := range rels {
			// A plain dependency on a real package is settled now; choices
			// (alternatives, virtual packages) wait until every plain
			// dependency is in, so they can prefer what is already there.
			if len(rel) == 1 && len(r.l.named(rel[0].Name)) > 0 {
				if err := r.satisfy(name, rel); err != nil {
					return err
				}
				continue
			}
			r.pending = append(r.pending, pendingRel{owner: name, rel: rel})
		}
	}
	return nil
}

// qualOK reports whether package p may satisfy a possibility with
// architecture qualifier qual (dpkg's rules for a single-architecture
// system).
func (r *resolver) qualOK(p *Package, qual string) bool {
	switch qual {
	case "":
		return true
	case "any":
		return p.MultiArch == "allowed" || p.MultiArch == "foreign"
	case "native", r.opt.Arch:
		return true
	}
	return p.MultiArch == "foreign"
}

// realCandidates lists the versions of a.Name that satisfy a, best first:
// the already-selected version only, else a preferred (locked) version,
// else highest first.
func (r *resolver) realCandidates(a atom) []int {
	if r.excluded[a.Name] {
		return nil
	}
	var out []int
	if i, ok := r.selected[a.Name]; ok {
		p := r.l.pkg(i)
		if r.qualOK(p, a.Qual) && versionSatisfies(p.Version, a.Op, a.Version) {
			out = append(out, i)
		}
		return out
	}
	for _, i := range r.l.named(a.Name) {
		p := r.l.pkg(i)
		if r.qualOK(p, a.Qual) && versionSatisfies(p.Version, a.Op, a.Version) {
			out = append(out, i)
		}
	}
	if pv, ok := r.opt.Prefer[a.Name]; ok {
		for k, i := range out {
			if r.l.pkg(i).Version == pv && k > 0 {
				out[0], out[k] = out[k], out[0]
				break
			}
		}
	}
	return out
}

// providerCandidates lists the packages whose Provides satisfy a.
func (r *resolver) providerCandidates(a atom) []int {
	var out []int
	seen := map[string]bool{}
	for _, pv := range r.l.provided(a.Name) {
		p := r.l.pkg(pv.pkg)
		if r.excluded[p.Name] || seen[p.Name] {
			continue
		}
		if si, ok := r.selected[p.Name]; ok && si != pv.pkg {
			continue // another version of the provider is chosen
		}
		if a.Op != "" && (pv.version == "" || !versionSatisfies(pv.version, a.Op, a.Version)) {
			continue
		}
		if !r.qualOK(p, a.Qual) {
			continue
		}
		// only the best version of each provider
		if best := r.realCandidates(atom{Name: p.Name}); len(best) > 0 && best[0] != pv.pkg {
			if _, sel := r.selected[p.Name]; !sel && r.providesSatisfies(best[0], a) {
				continue
			}
		}
		seen[p.Name] = true
		out = append(out, pv.pkg)
	}
	return out
}

func (r *resolver) providesSatisfies(i int, a atom) bool {
	for _, pv := range r.l.provided(a.Name) {
		if pv.pkg == i && (a.Op == "" || (pv.version != "" && versionSatisfies(pv.version, a.Op, a.Version))) {
			return true
		}
	}
	return false
}

// excludedBy returns an excluded package that would satisfy a (by name
// or by Provides), "" when none would.
func (r *resolver) excludedBy(a atom) string {
	if r.excluded[a.Name] && len(r.l.named(a.Name)) > 0 {
		return a.Name
	}
	for _, pv := range r.l.provided(a.Name) {
		if n := r.l.pkg(pv.pkg).Name; r.excluded[n] {
			return n
		}
	}
	return ""
}

// otherChoices names the installable packages, other than the excluded
// one, that could have satisfied rel (for the notice).
func (r *resolver) otherChoices(rel relation, excluded string) []string {
	seen := map[string]bool{excluded: true}
	var out []string
	for _, a := range rel {
		for _, i := range append(r.realCandidates(a), r.providerCandidates(a)...) {
			if n := r.l.pkg(i).Name; !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

var priorityRank = map[string]int{"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}

func rank(p *Package) int {
	if v, ok := priorityRank[p.Priority]; ok {
		return v
	}
	return 5
}

// satisfy makes rel hold for owner: an alternative already in the closure
// wins, else the first alternative that can be installed.
func (r *resolver) satisfy(owner string, rel relation) error {
	type alt struct {
		real, prov []int
	}
	alts := make([]alt, len(rel))
	for k, a := range rel {
		alts[k] = alt{real: r.realCandidates(a), prov: r.providerCandidates(a)}
		for _, i := range append(append([]int(nil), alts[k].real...), alts[k].prov...) {
			if si, ok := r.selected[r.l.pkg(i).Name]; ok && si == i {
				r.edge(owner, r.l.pkg(i).Name)
				return nil
			}
		}
	}
	// An excluded package that would satisfy any alternative counts as
	// installed: the user removed it on purpose, so the relation is
	// dropped rather than answered by another alternative or provider
	// (debconf excluded must not pull in cdebconf for debconf-2.0).
	for _, a := range rel {
		if ex := r.excludedBy(a); ex != "" {
			msg := r.chain(owner) + " -> " + rel.String()
			r.dropped = append(r.dropped, msg)
			if others := r.otherChoices(rel, ex); len(others) > 0 {
				r.log.Noticef("dropped dependency %s (excluded by debian.exclude: %s counts as satisfying it, so %s is not pulled in)", msg, ex, strings.Join(others, ", "))
			} else {
				r.log.Noticef("dropped dependency %s (excluded by debian.exclude)", msg)
			}
			return nil
		}
	}
	if scriptOnlyRel(owner, rel) != "" {
		// Settled last, by settleScriptOnly: kept as an edge if another
		// package brings the dependency in, else dropped.
		r.late = append(r.late, pendingRel{owner: owner, rel: rel})
		return nil
	}
	for k, a := range rel {
		if len(alts[k].real) > 0 {
			r.choose(alts[k].real[0], owner)
			r.edge(owner, a.Name)
			return nil
		}
		if prov := alts[k].prov; len(prov) > 0 {
			pk := r.l.pkg
			sort.SliceStable(prov, func(x, y int) bool {
				px, py := pk(prov[x]), pk(prov[y])
				if r.roots[px.Name] != r.roots[py.Name] {
					return r.roots[px.Name]
				}
				if rank(px) != rank(py) {
					return rank(px) < rank(py)
				}
				return px.Name < py.Name
			})
			chosen := pk(prov[0])
			if len(prov) > 1 {
				names := make([]string, len(prov))
				for j, i := range prov {
					names[j] = pk(i).Name
				}
				r.log.Noticef("%s -> %s: provided by %s; chose %s (name another in debian.packages to choose it)",
					r.chain(owner), a, strings.Join(names, ", "), chosen.Name)
			}
			r.choose(prov[0], owner)
			r.edge(owner, chosen.Name)
			return nil
		}
	}
	reasons := make([]string, len(rel))
	for k, a := range rel {
		reasons[k] = r.why(a)
	}
	chain := rel.String()
	if owner != "" {
		chain = r.chain(owner) + " -> " + chain
	}
	if len(rel) == 1 {
		return fmt.Errorf("%s: %s", chain, reasons[0])
	}
	return fmt.Errorf("%s: no alternative can be installed (%s)", chain, strings.Join(reasons, "; "))
}

// settleScriptOnly settles the relations only maintainer scripts use once
// everything else is chosen: an alternative in the closure becomes an
// edge, else the relation is dropped with a notice. It chooses nothing.
func (r *resolver) settleScriptOnly() {
	for _, p := range r.late {
		kept := false
		for _, a := range p.rel {
			for _, i := range append(r.realCandidates(a), r.providerCandidates(a)...) {
				name := r.l.pkg(i).Name
				if si, ok := r.selected[name]; ok && si == i {
					r.edge(p.owner, name)
					kept = true
					break
				}
			}
			if kept {
				break
			}
		}
		if kept {
			continue
		}
		msg := r.chain(p.owner) + " -> " + p.rel.String()
		r.dropped = append(r.dropped, msg)
		r.log.Noticef("dropped dependency %s: only maintainer scripts use it (%s), and strata runs none (name it in debian.packages to install it)", msg, scriptOnlyRel(p.owner, p.rel))
	}
}

// why explains why no package satisfies a.
func (r *resolver) why(a atom) string {
	if si, ok := r.selected[a.Name]; ok {
		p := r.l.pkg(si)
		return fmt.Sprintf("%s %s is already in the closure (needed by %s) and does not satisfy it", p.Name, p.Version, r.chainOrRoot(p.Name))
	}
	label := r.idx.Label
	if len(r.l.named(a.Name)) == 0 && len(r.l.provided(a.Name)) == 0 {
		return fmt.Sprintf("no package named %s in %s", a.Name, label)
	}
	if a.Qual != "" && a.Qual != "any" && a.Qual != "native" && a.Qual != r.opt.Arch {
		return fmt.Sprintf("%s is for architecture %s, not the target %s (strata installs one architecture; only Multi-Arch: foreign packages satisfy it)", a, a.Qual, r.opt.Arch)
	}
	if len(r.l.named(a.Name)) == 0 {
		return fmt.Sprintf("no provider of %s satisfies it in %s", a.Name, label)
	}
	msg := fmt.Sprintf("no version of %s satisfies it in %s (available: %s)", a.Name, label, r.versionsOf(a.Name))
	if a.Qual == "any" {
		msg += "; :any needs Multi-Arch: allowed or foreign"
	}
	return msg
}

func (r *resolver) chainOrRoot(name string) string {
	if r.parent[name] == "" {
		return "debian.packages"
	}
	return r.chain(r.parent[name])
}

func (r *resolver) versionsOf(name string) string {
	var vs []string
	for _, i := range r.l.named(name) {
		p := r.l.pkg(i)
		v := p.Version
		if p.MultiArch != "" {
			v += " Multi-Arch: " + p.MultiArch
		}
		vs = append(vs, v)
	}
	return strings.Join(vs, ", ")
}

// chain is "root -> ... -> name" along first-pull parents.
func (r *resolver) chain(name string) string {
	if name == "" {
		return ""
	}
	var parts []string
	seen := map[string]bool{}
	for n := name; n != "" && !seen[n]; n = r.parent[n] {
		seen[n] = true
		parts = append(parts, n)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " -> ")
}

// checkConflicts reports Conflicts and Breaks between chosen packages.
func (r *resolver) checkConflicts() error {
	names := append([]string(nil), r.order...)
	sort.Strings(names)
	var problems []string
	for _, n := range names {
		p := r.l.pkg(r.selected[n])
		for _, field := range []struct{ name, text string }{{"Conflicts", p.Conflicts}, {"Breaks", p.Breaks}} {
			rels, err := parseRelations(field.text, r.opt.Arch)
			if err != nil {
				return fmt.Errorf("%s %s %s in %s: %w", p.Name, p.Version, field.name, r.idx.Label, err)
			}
			for _, rel := range rels {
				for _, a := range rel {
					for _, hit := range r.conflictHits(p, a) {
						problems = append(problems, fmt.Sprintf("%s %s %s %s (%s: %s)", p.Name, p.Version, strings.ToLower(field.name), hit, field.name, a))
					}
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("conflicting packages in the closure from %s: %s (add one of each pair to debian.exclude, or choose other packages)", r.idx.Label, strings.Join(problems, "; "))
	}
	return nil
}

// conflictHits lists the chosen packages (other than p) that match a.
func (r *resolver) conflictHits(p *Package, a atom) []string {
	var hits []string
	if si, ok := r.selected[a.Name]; ok && a.Name != p.Name {
		q := r.l.pkg(si)
		if versionSatisfies(q.Version, a.Op, a.Version) {
			hits = append(hits, q.Name+" "+q.Version)
		}
	}
	for _, pv := range r.l.provided(a.Name) {
		q := r.l.pkg(pv.pkg)
		if q.Name == p.Name || q.Name == a.Name {
			continue
		}
		if si, ok := r.selected[q.Name]; !ok || si != pv.pkg {
			continue
		}
		if a.Op != "" && (pv.version == "" || !versionSatisfies(pv.version, a.Op, a.Version)) {
			continue
		}
		hits = append(hits, q.Name+" "+q.Version+" (provides "+a.Name+")")
	}
	return hits
}
