package layering

import (
	"encoding/binary"
	"sort"
)

// Strategy auto: nixpkgs' size-based auto layering
// (pkgs/build-support/docker/auto-layer.py), on the DAG of units left
// after collapsing dependency cycles.
//
// Every unit is labelled with a set of "primary" units; units with the same
// label share a layer. At the start nothing is primary and everything is in
// one layer. Then, largest unit first (ties by name), a unit P becomes
// primary:
//
//   - P's label becomes {P};
//   - for every unit D that P depends on (transitively): the primaries that
//     depend on P are removed from D's label (P now stands for them), and P
//     is added unless the label already holds a primary P depends on;
//
// so a dependency stays with the largest primary above it as long as every
// primary that needs it needs that one too, and dependencies used by
// several unrelated primaries form a layer per set of such primaries:
//
//	app(1) ─► python3(5) ─┬─► libpython3.11(20) ─► libc6(4)
//	                      └─► libssl3(3) ─► libc6
//	curl(10) ─► libssl3
//
//	with a budget of 4 layers:
//	  libpython3.11 primary: {libpython3.11} = libpython3.11, libc6
//	                         {}              = app, python3, curl, libssl3
//	  curl primary:          {curl}          = curl, libssl3
//	                         {libpython3.11, curl} = libc6
//	  python3 primary would make 6 labels: stop. Layers, by closure size:
//	  [libc6] [curl libssl3] [libpython3.11] [app python3]
//
// This stops just before the number of distinct labels would exceed the
// budget; the previous labelling is kept. Layers are ordered by the total
// size of their closure, ascending, so a layer always comes after the
// layers it depends on (ties by first node ID).
func planAuto(p *prepared, budget int) [][]string {
	n := len(p.comps)
	if n == 0 {
		return nil
	}
	desc := p.descendants()
	anc := make([]bitset, n)
	for i := range anc {
		anc[i] = newBitset(n)
	}
	for i := range n {
		for j := range n {
			if desc[i].has(j) {
				anc[j].set(i)
			}
		}
	}
	bySize := make([]int, n)
	for i := range bySize {
		bySize[i] = i
	}
	sort.Slice(bySize, func(i, j int) bool {
		a, b := p.comps[bySize[i]], p.comps[bySize[j]]
		if a.size != b.size {
			return a.size > b.size
		}
		return a.name < b.name
	})
	split := make([]bitset, n)
	for i := range split {
		split[i] = newBitset(n)
	}
	for _, prim := range bySize {
		next := make([]bitset, n)
		for i := range split {
			next[i] = split[i]
		}
		own := newBitset(n)
		own.set(prim)
		next[prim] = own
		for d := range n {
			if !desc[prim].has(d) {
				continue
			}
			lbl := append(bitset(nil), split[d]...)
			hit := false
			for w := range lbl {
				lbl[w] &^= anc[prim][w]
				if lbl[w]&desc[prim][w] != 0 {
					hit = true
				}
			}
			if !hit {
				lbl.set(prim)
			}
			next[d] = lbl
		}
		if countDistinct(next) > budget {
			break
		}
		split = next
	}
	// Group units by label.
	byLabel := map[string][]int{}
	for i, l := range split {
		k := l.key()
		byLabel[k] = append(byLabel[k], i)
	}
	type autoLayer struct {
		nodes   []string
		closure int64
	}
	layers := make([]autoLayer, 0, len(byLabel))
	for _, units := range byLabel {
		var l autoLayer
		cl := newBitset(n)
		for _, u := range units {
			l.nodes = append(l.nodes, p.comps[u].members...)
			cl.set(u)
			cl.or(desc[u])
		}
		for u := range n {
			if cl.has(u) {
				l.closure += p.comps[u].size
			}
		}
		sort.Strings(l.nodes)
		layers = append(layers, l)
	}
	sort.Slice(layers, func(i, j int) bool {
		if layers[i].closure != layers[j].closure {
			return layers[i].closure < layers[j].closure
		}
		return layers[i].nodes[0] < layers[j].nodes[0]
	})
	groups := make([][]string, len(layers))
	for i, l := range layers {
		groups[i] = l.nodes
	}
	return groups
}

func (b bitset) key() string {
	buf := make([]byte, 8*len(b))
	for i, w := range b {
		binary.LittleEndian.PutUint64(buf[8*i:], w)
	}
	return string(buf)
}

func countDistinct(labels []bitset) int {
	seen := map[string]bool{}
	for _, l := range labels {
		seen[l.key()] = true
	}
	return len(seen)
}
