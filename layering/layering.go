package layering

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// Strategy names accepted in Options.Strategy.
const (
	PerPackage = "per-package"
	Popularity = "popularity"
	Auto       = "auto"
	Fleet      = "fleet"
)

// DefaultBudget is the layer budget when Options.Budget is 0.
const DefaultBudget = 100

// MaxBudget is Docker's hard limit on the number of layers of an image.
const MaxBudget = 127

// Options select the strategy and the layer budget.
type Options struct {
	// Strategy is per-package (default), popularity, auto or fleet.
	Strategy string
	// Budget is the maximum number of layers of the image, Reserved
	// included; 0 means DefaultBudget.
	Budget int
	// Reserved is the number of layers already used, e.g. by a base image.
	Reserved int
}

// Layer is one planned layer.
type Layer struct {
	// Nodes are the node IDs the layer holds, sorted.
	Nodes []string
	// Title says what the layer holds, for the image history's created_by:
	// "libc6 2.36-9" or "12 packages: a, b, c, …".
	Title string
}

// Plan is the ordered list of layers of one image, bottom first.
type Plan struct {
	Layers []Layer
}

// PlanImage cuts g into layers with the strategy of opt. Strategy fleet
// plans a single image like per-package; use PlanFleet to plan several
// images jointly.
func PlanImage(g *closure.Graph, opt Options) (*Plan, error) {
	opt, err := normalize(opt)
	if err != nil {
		return nil, err
	}
	p, err := prepare(g)
	if err != nil {
		return nil, err
	}
	pkgBudget, pinned, err := p.budgets(opt)
	if err != nil {
		return nil, err
	}
	var groups [][]string
	switch opt.Strategy {
	case PerPackage, Fleet:
		groups = planPerPackage(p, pkgBudget)
	case Popularity:
		groups = planPopularity(p, pkgBudget)
	case Auto:
		groups = planAuto(p, pkgBudget)
	}
	return p.finish(groups, pinned), nil
}

// PlanFleet plans several images jointly (strategy fleet): packages that
// several images contain are packed into layers with identical node sets in
// each of them, so the layers have identical digests and a registry stores
// them once, while every image stays within the budget. Any other strategy
// plans each graph on its own, like PlanImage.
func PlanFleet(gs []*closure.Graph, opt Options) ([]*Plan, error) {
	opt, err := normalize(opt)
	if err != nil {
		return nil, err
	}
	if opt.Strategy != Fleet || len(gs) == 1 {
		plans := make([]*Plan, len(gs))
		for i, g := range gs {
			if plans[i], err = PlanImage(g, opt); err != nil {
				return nil, fmt.Errorf("planning image %d of the fleet: %w", i, err)
			}
		}
		return plans, nil
	}
	preps := make([]*prepared, len(gs))
	budgets := make([]int, len(gs))
	pinned := make([][][]string, len(gs))
	for i, g := range gs {
		if preps[i], err = prepare(g); err != nil {
			return nil, fmt.Errorf("planning image %d of the fleet: %w", i, err)
		}
		if budgets[i], pinned[i], err = preps[i].budgets(opt); err != nil {
			return nil, fmt.Errorf("planning image %d of the fleet: %w", i, err)
		}
	}
	groups := planFleet(preps, budgets)
	plans := make([]*Plan, len(gs))
	for i := range gs {
		plans[i] = preps[i].finish(groups[i], pinned[i])
	}
	return plans, nil
}

func normalize(opt Options) (Options, error) {
	if opt.Strategy == "" {
		opt.Strategy = PerPackage
	}
	switch opt.Strategy {
	case PerPackage, Popularity, Auto, Fleet:
	default:
		return opt, fmt.Errorf("layering: unknown strategy %q; use one of per-package, popularity, auto, fleet", opt.Strategy)
	}
	if opt.Budget == 0 {
		opt.Budget = DefaultBudget
	}
	if opt.Budget < 1 || opt.Budget > MaxBudget {
		return opt, fmt.Errorf("layering: budget %d is out of range; set it between 1 and %d (Docker's limit)", opt.Budget, MaxBudget)
	}
	if opt.Reserved < 0 || opt.Reserved > opt.Budget {
		return opt, fmt.Errorf("layering: %d reserved layers with a budget of %d; reserved must be between 0 and the budget", opt.Reserved, opt.Budget)
	}
	return opt, nil
}

// prepared is a graph reduced to what the strategies need.
type prepared struct {
	g *closure.Graph
	// pkgs are the IDs of package nodes with Contents, sorted.
	pkgs []string
	// pinned are the generated nodes then the files nodes, each by ID.
	pinned []string
	// deps are the direct dependencies of each package among pkgs (paths
	// through nodes without Contents are followed), sorted, without self.
	deps map[string][]string
	// comps are the strongly connected components of pkgs, sorted by
	// their first member; comp maps a package to its component.
	comps []component
	comp  map[string]int
}

type component struct {
	members []string // sorted
	size    int64
	deps    []int // components this one depends on, sorted, without self
	users   []int // components depending on this one, sorted
	height  int   // longest dependency chain below; 0 for a leaf
	name    string
}

func isPinned(k closure.Kind) bool { return k == closure.KindGenerated || k == closure.KindFiles }

func prepare(g *closure.Graph) (*prepared, error) {
	if g == nil {
		return nil, fmt.Errorf("layering: nil graph; pass the graph the sources resolved")
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("layering: invalid graph: %w", err)
	}
	p := &prepared{g: g, deps: map[string][]string{}}
	var gen, files []string
	for _, id := range g.IDs() {
		n := g.Nodes[id]
		if n.Contents == nil {
			continue
		}
		switch {
		case n.Kind == closure.KindGenerated:
			gen = append(gen, id)
		case n.Kind == closure.KindFiles:
			files = append(files, id)
		default:
			p.pkgs = append(p.pkgs, id)
		}
	}
	p.pinned = append(gen, files...)
	for _, id := range p.pkgs {
		p.deps[id] = p.effectiveDeps(id)
	}
	p.condense()
	return p, nil
}

// effectiveDeps follows id's dependencies through nodes without Contents to
// the packages with Contents it needs.
func (p *prepared) effectiveDeps(id string) []string {
	seen := map[string]bool{id: true}
	out := map[string]bool{}
	stack := append([]string(nil), p.g.Nodes[id].Deps...)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[d] {
			continue
		}
		seen[d] = true
		n := p.g.Nodes[d]
		switch {
		case isPinned(n.Kind):
		case n.Contents != nil:
			out[d] = true
		default:
			stack = append(stack, n.Deps...)
		}
	}
	return sortedKeys(out)
}

// condense finds the strongly connected components of the package graph
// (Tarjan's algorithm) and builds the component DAG.
func (p *prepared) condense() {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range p.deps[v] {
			if _, ok := index[w]; !ok {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sort.Strings(scc)
			sccs = append(sccs, scc)
		}
	}
	for _, id := range p.pkgs {
		if _, ok := index[id]; !ok {
			visit(id)
		}
	}
	sort.Slice(sccs, func(i, j int) bool { return sccs[i][0] < sccs[j][0] })
	p.comp = map[string]int{}
	p.comps = make([]component, len(sccs))
	for i, scc := range sccs {
		c := &p.comps[i]
		c.members = scc
		for _, id := range scc {
			p.comp[id] = i
			c.size += p.g.Nodes[id].Size
			if k := sortName(p.g.Nodes[id]); c.name == "" || k < c.name {
				c.name = k
			}
		}
	}
	for i := range p.comps {
		ds := map[int]bool{}
		for _, id := range p.comps[i].members {
			for _, d := range p.deps[id] {
				if j := p.comp[d]; j != i {
					ds[j] = true
				}
			}
		}
		for j := range ds {
			p.comps[i].deps = append(p.comps[i].deps, j)
			p.comps[j].users = append(p.comps[j].users, i)
		}
		sort.Ints(p.comps[i].deps)
	}
	for i := range p.comps {
		sort.Ints(p.comps[i].users)
	}
	done := make([]bool, len(p.comps))
	var height func(i int) int
	height = func(i int) int {
		if done[i] {
			return p.comps[i].height
		}
		h := 0
		for _, d := range p.comps[i].deps {
			h = max(h, height(d)+1)
		}
		p.comps[i].height, done[i] = h, true
		return h
	}
	for i := range p.comps {
		height(i)
	}
}

// sortName is the key ties are broken by: the name, then the unique ID.
func sortName(n *closure.Node) string {
	name := n.Name
	if name == "" {
		name = n.ID
	}
	return name + "\x00" + n.ID
}

// descendants returns, for every component, the set of components it
// depends on transitively (itself excluded).
func (p *prepared) descendants() []bitset {
	out := make([]bitset, len(p.comps))
	var walk func(i int) bitset
	walk = func(i int) bitset {
		if out[i] != nil {
			return out[i]
		}
		b := newBitset(len(p.comps))
		for _, d := range p.comps[i].deps {
			b.set(d)
			b.or(walk(d))
		}
		out[i] = b
		return b
	}
	for i := range p.comps {
		walk(i)
	}
	return out
}

// budgets splits the image's budget between package layers and pinned
// layers and groups the pinned nodes.
func (p *prepared) budgets(opt Options) (int, [][]string, error) {
	avail := opt.Budget - opt.Reserved
	need := 0
	if len(p.pkgs) > 0 {
		need = 1
	}
	var pinned [][]string
	switch {
	case len(p.pinned) == 0:
	case len(p.pinned)+need <= avail:
		for _, id := range p.pinned {
			pinned = append(pinned, []string{id})
		}
	default:
		pinned = [][]string{append([]string(nil), p.pinned...)}
	}
	left := avail - len(pinned)
	if left < need {
		return 0, nil, fmt.Errorf("layering: budget %d with %d reserved layers leaves %d for %d packages and %d files/generated nodes, which need at least %d; raise layering.budget",
			opt.Budget, opt.Reserved, avail, len(p.pkgs), len(p.pinned), need+min(len(p.pinned), 1))
	}
	return left, pinned, nil
}

// finish turns groups of package IDs (in layer order) plus the pinned
// groups into a Plan.
func (p *prepared) finish(groups, pinned [][]string) *Plan {
	plan := &Plan{}
	for _, grp := range append(groups, pinned...) {
		if len(grp) == 0 {
			continue
		}
		nodes := append([]string(nil), grp...)
		sort.Strings(nodes)
		plan.Layers = append(plan.Layers, Layer{Nodes: nodes, Title: p.title(nodes)})
	}
	return plan
}

func (p *prepared) title(ids []string) string {
	label := func(id string) string {
		n := p.g.Nodes[id]
		if n.Name == "" {
			return id
		}
		return n.Name
	}
	if len(ids) == 1 {
		n := p.g.Nodes[ids[0]]
		if n.Version != "" && n.Name != "" {
			return n.Name + " " + n.Version
		}
		return label(ids[0])
	}
	names := make([]string, len(ids))
	word := "packages"
	for i, id := range ids {
		names[i] = label(id)
		if isPinned(p.g.Nodes[id].Kind) {
			word = "items"
		}
	}
	sort.Strings(names)
	const show = 3
	s := fmt.Sprintf("%d %s: %s", len(ids), word, strings.Join(names[:min(show, len(names))], ", "))
	if len(names) > show {
		s += ", …"
	}
	return s
}

// mergeTail keeps the first budget-1 groups and merges the rest into one
// final group when there are more groups than the budget.
func mergeTail(groups [][]string, budget int) [][]string {
	if len(groups) <= budget {
		return groups
	}
	var tail []string
	for _, g := range groups[budget-1:] {
		tail = append(tail, g...)
	}
	return append(groups[:budget-1:budget-1], tail)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bitset is a fixed-size set of small non-negative integers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}
