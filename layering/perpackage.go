package layering

import "sort"

// Strategy per-package: one layer per package.
//
// Packages are ordered bottom-up by height, the length of the longest
// dependency chain below them (a leaf like libc6 has height 0), then by
// name. Height depends only on a package's own dependency closure, so two
// images that share packages list them in the same relative order, and
// base libraries (depended on by everything) come first:
//
//	python3-flask (3)          layer order:
//	 └─ python3 (2)              1 libc6        (height 0)
//	     ├─ libpython3.11 (1)    2 zlib1g       (height 0)
//	     │   ├─ libc6 (0)        3 libpython3.11 (1)
//	     │   └─ zlib1g (0)       4 python3      (2)
//	     └─ libc6 (0)            5 python3-flask (3)
//
// Members of a dependency cycle share the height of their cycle.
//
// Over budget (more packages than layers), the budget-1 most valuable
// packages keep a layer each, in the order above, and all the others share
// one final package layer. A package's value is
//
//	size × (1 + number of packages in the image that depend on it)
//
// an estimate of the bytes another image is likely to reuse from its layer:
// big libraries many things need are worth a layer of their own, small leaf
// applications are not. Ties go to the smaller name.
func planPerPackage(p *prepared, budget int) [][]string {
	if len(p.pkgs) == 0 {
		return nil
	}
	order := append([]string(nil), p.pkgs...)
	sort.Slice(order, func(i, j int) bool {
		a, b := p.comps[p.comp[order[i]]], p.comps[p.comp[order[j]]]
		if a.height != b.height {
			return a.height < b.height
		}
		return sortName(p.g.Nodes[order[i]]) < sortName(p.g.Nodes[order[j]])
	})
	if len(order) <= budget {
		groups := make([][]string, len(order))
		for i, id := range order {
			groups[i] = []string{id}
		}
		return groups
	}
	// users[c] = number of components that depend on c transitively.
	desc := p.descendants()
	users := make([]int64, len(p.comps))
	for i := range p.comps {
		for j := range p.comps {
			if desc[i].has(j) {
				users[j] += int64(len(p.comps[i].members))
			}
		}
	}
	value := func(id string) int64 {
		c := p.comp[id]
		return satMul(p.g.Nodes[id].Size, 1+users[c]+int64(len(p.comps[c].members))-1)
	}
	byValue := append([]string(nil), p.pkgs...)
	sort.Slice(byValue, func(i, j int) bool {
		vi, vj := value(byValue[i]), value(byValue[j])
		if vi != vj {
			return vi > vj
		}
		return sortName(p.g.Nodes[byValue[i]]) < sortName(p.g.Nodes[byValue[j]])
	})
	keep := map[string]bool{}
	for _, id := range byValue[:budget-1] {
		keep[id] = true
	}
	var groups [][]string
	var rest []string
	for _, id := range order {
		if keep[id] {
			groups = append(groups, []string{id})
		} else {
			rest = append(rest, id)
		}
	}
	return append(groups, rest)
}

const maxInt64 = int64(^uint64(0) >> 1)

// satMul multiplies non-negative numbers, saturating at the int64 maximum.
func satMul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > maxInt64/b {
		return maxInt64
	}
	return a * b
}

// satAdd adds non-negative numbers, saturating at the int64 maximum.
func satAdd(a, b int64) int64 {
	if a > maxInt64-b {
		return maxInt64
	}
	return a + b
}
