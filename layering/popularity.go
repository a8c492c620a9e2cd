package layering

import "sort"

// Strategy popularity: nixpkgs' "popularity contest"
// (pkgs/build-support/references-by-popularity), as buildLayeredImage uses
// it.
//
// Dependency cycles are first collapsed into one unit each, so the graph is
// a DAG whose roots are the units nothing depends on. The DAG is unrolled
// into a tree from the roots, a shared dependency appearing once under
// every parent:
//
//	foo ─┬─ bar ── baz ── tux          foo
//	     └─ baz ── tux                  ├─ bar
//	                                    │   └─ baz
//	                                    │       └─ tux
//	                                    └─ baz
//	                                        └─ tux
//
// Scores are then computed bottom-up: a unit's subtree yields a counter
// map; a child contributes 1 for itself plus, for every entry of its own
// map, that entry's count + 1. Summed over the roots this gives, for the
// tree above, foo 1, bar 2, baz 4, tux 6: deep, much-referenced units score
// high. Units are ordered by score, highest first, ties by name.
//
// The first budget-1 units get a layer each; all the remaining ones share
// the last package layer (all of them in one layer when they fit the
// budget exactly). Scores grow with the number of paths through the DAG
// and saturate at the int64 maximum; saturated ties are ordered by name.
func planPopularity(p *prepared, budget int) [][]string {
	if len(p.comps) == 0 {
		return nil
	}
	scores := popularityScores(p)
	order := make([]int, len(p.comps))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if scores[a] != scores[b] {
			return scores[a] > scores[b]
		}
		return p.comps[a].name < p.comps[b].name
	})
	groups := make([][]string, len(order))
	for i, c := range order {
		groups[i] = p.comps[c].members
	}
	return mergeTail(groups, budget)
}

// popularityScores runs the contest over the component DAG.
func popularityScores(p *prepared) []int64 {
	memo := make([]map[int]int64, len(p.comps))
	// contest scores the unrolled subtrees of the given children.
	var contest func(children []int) map[int]int64
	sub := func(c int) map[int]int64 {
		if memo[c] == nil {
			memo[c] = contest(p.comps[c].deps)
		}
		return memo[c]
	}
	contest = func(children []int) map[int]int64 {
		pop := map[int]int64{}
		for _, c := range children {
			pop[c] = satAdd(pop[c], 1)
			for d, v := range sub(c) {
				pop[d] = satAdd(pop[d], satAdd(v, 1))
			}
		}
		return pop
	}
	var roots []int
	for i, c := range p.comps {
		if len(c.users) == 0 {
			roots = append(roots, i)
		}
	}
	top := contest(roots)
	scores := make([]int64, len(p.comps))
	for c, v := range top {
		scores[c] = v
	}
	return scores
}
