package why

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// DefaultLimit bounds the number of chains Chains returns.
const DefaultLimit = 10

// maxWork bounds the partial chains examined by one search.
const maxWork = 200000

// Chains returns up to DefaultLimit dependency chains (node IDs, root
// first, target last) from the graph's roots to target; see ChainsN.
func Chains(g *closure.Graph, target string) ([][]string, error) {
	return ChainsN(g, target, DefaultLimit)
}

// ChainsN returns up to limit chains from the roots to the nodes matching
// target (a node ID, or a Name matching one or more nodes). Chains are
// simple paths, shortest first; among chains of one length the order is
// that of a breadth-first search visiting roots and dependencies sorted by
// name (then ID), so the answer is deterministic. A target that is itself
// a root yields the one-node chain. An unknown target is an error naming
// the closest names in the graph.
func ChainsN(g *closure.Graph, target string, limit int) ([][]string, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	targets := match(g, target)
	if len(targets) == 0 {
		return nil, notFound(g, target)
	}
	// Only nodes that can reach a target are worth expanding: with that
	// pruning every partial chain extends to a full one, so the search
	// stays bounded by limit times the chain length.
	useful := canReach(g, targets)
	less := func(a, b string) bool {
		na, nb := g.Nodes[a], g.Nodes[b]
		if na.Name != nb.Name {
			return na.Name < nb.Name
		}
		return a < b
	}
	roots := uniqSorted(g.Roots, less)
	var queue [][]string
	for _, r := range roots {
		if useful[r] {
			queue = append(queue, []string{r})
		}
	}
	var out [][]string
	work := 0
	for len(queue) > 0 && len(out) < limit {
		// Dense graphs can hold very many chains of one length; stop
		// expanding after maxWork partial chains and return what was found.
		work++
		if work > maxWork && len(out) > 0 {
			break
		}
		chain := queue[0]
		queue = queue[1:]
		last := chain[len(chain)-1]
		if targets[last] {
			out = append(out, chain)
			continue
		}
		deps := uniqSorted(g.Nodes[last].Deps, less)
		for _, d := range deps {
			if !useful[d] || slices.Contains(chain, d) {
				continue
			}
			next := make([]string, len(chain)+1)
			copy(next, chain)
			next[len(chain)] = d
			queue = append(queue, next)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is in the graph but no root depends on it (roots: %s): it was added on its own, not as a dependency", target, strings.Join(roots, ", "))
	}
	return out, nil
}

func match(g *closure.Graph, target string) map[string]bool {
	m := map[string]bool{}
	if _, ok := g.Nodes[target]; ok {
		m[target] = true
		return m
	}
	for id, n := range g.Nodes {
		if n.Name == target {
			m[id] = true
		}
	}
	return m
}

func canReach(g *closure.Graph, targets map[string]bool) map[string]bool {
	rev := map[string][]string{}
	for id, n := range g.Nodes {
		for _, d := range n.Deps {
			rev[d] = append(rev[d], id)
		}
	}
	seen := map[string]bool{}
	var stack []string
	for t := range targets {
		seen[t] = true
		stack = append(stack, t)
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range rev[id] {
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return seen
}

func uniqSorted(xs []string, less func(a, b string) bool) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

// notFound names up to five close names: those containing the target (or
// contained in it), then the nearest by edit distance.
func notFound(g *closure.Graph, target string) error {
	type cand struct {
		name string
		dist int
	}
	names := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Name != "" {
			names[n.Name] = true
		}
	}
	var cands []cand
	lt := strings.ToLower(target)
	for n := range names {
		ln := strings.ToLower(n)
		d := levenshtein(lt, ln)
		if strings.Contains(ln, lt) || strings.Contains(lt, ln) {
			d = 0
		}
		if d <= max(2, len(target)/3) {
			cands = append(cands, cand{n, d})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	if len(cands) > 5 {
		cands = cands[:5]
	}
	if len(cands) == 0 {
		return fmt.Errorf("%s is not in the closure (%d nodes): list the names it has with `strata inspect SPEC --view closure`, or IMAGE for an image", target, len(g.Nodes))
	}
	var close []string
	for _, c := range cands {
		close = append(close, c.name)
	}
	return fmt.Errorf("%s is not in the closure: did you mean %s?", target, strings.Join(close, ", "))
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Format renders chains with node names and versions, one per line:
// "hello 2.10 -> libc6 2.36".
func Format(g *closure.Graph, chains [][]string) []string {
	out := make([]string, 0, len(chains))
	for _, c := range chains {
		parts := make([]string, len(c))
		for i, id := range c {
			n := g.Nodes[id]
			s := n.Name
			if s == "" {
				s = id
			}
			if n.Version != "" {
				s += " " + n.Version
			}
			parts[i] = s
		}
		out = append(out, strings.Join(parts, " -> "))
	}
	return out
}
