package layering

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
)

// Strategy fleet: plan several images at once so that what they have in
// common is stored once by a registry.
//
// A layer is stored once when its bytes are identical, i.e. when images use
// layers with exactly the same node set. So packages are grouped by their
// signature, the set of images containing them (a package is the same in
// two images when its node ID and its Contents key are equal):
//
//	images:  A = python3 + flask     B = python3 + django    C = curl
//
//	signature {A,B,C}: libc6, libssl3, …        one layer in A, B and C
//	signature {A,B}:   python3, libpython3.11   one layer in A and B
//	signature {A}:     python3-flask, …         A's private layer
//	signature {B}:     python3-django, …        B's private layer
//	signature {C}:     curl, libcurl4           C's private layer
//
// One layer per signature group stores every package exactly once: the
// ideal. When an image has more groups than its budget, groups are merged,
// one pair at a time. Merging units X and Y (each a node set with the set
// of images using it, Ux and Uy) makes the layer X∪Y for the images in
// Ux∩Uy (identical in all of them, so still shared); the images outside
// the intersection keep X or Y alone. That costs the bytes now stored
// twice: |X| unless Ux ⊆ Uy, plus |Y| unless Uy ⊆ Ux. Merging two private
// groups, or two groups used by the same images, is free; merging a small
// group into a wider one costs the wider one. Each step takes the pair with
// the lowest cost per over-budget image it relieves (ties: more images
// relieved, smaller merged layer, then names) until every image fits.
//
// Spare budget is then spent on finer layers, which cost nothing in
// sharing and help images outside the fleet and future updates: the
// largest package of a multi-package layer (weighted by the number of
// images using the layer) is split off into its own layer, in every image
// using it, while all of them have a layer to spare.
//
// Each image's layers are ordered as a trie over the fleet (orderFleet), so
// images share the longest common prefixes of layers (equal ChainIDs: a
// node extracts a shared layer once). A fleet of one image, or PlanImage,
// falls back to per-package.
func planFleet(preps []*prepared, budgets []int) [][][]string {
	nimg := len(preps)
	// Global package table.
	type pkg struct {
		id     string
		size   int64
		images bitset
	}
	index := map[string]int{}
	var pkgs []pkg
	var keys []string
	for _, p := range preps {
		for _, id := range p.pkgs {
			k := id + "\x00" + p.g.Nodes[id].Contents.Key()
			if _, ok := index[k]; !ok {
				index[k] = -1
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		index[k] = i
		pkgs = append(pkgs, pkg{id: k[:strings.IndexByte(k, 0)], images: newBitset(nimg)})
	}
	for img, p := range preps {
		for _, id := range p.pkgs {
			i := index[id+"\x00"+p.g.Nodes[id].Contents.Key()]
			pkgs[i].images.set(img)
			pkgs[i].size = p.g.Nodes[id].Size
		}
	}
	// One unit per signature.
	bySig := map[string]*unit{}
	var units []*unit
	for i, pk := range pkgs {
		k := pk.images.key()
		u := bySig[k]
		if u == nil {
			u = &unit{images: pk.images}
			bySig[k] = u
			units = append(units, u)
		}
		u.pkgs = append(u.pkgs, i)
		u.size += pk.size
	}
	name := func(i int) string { return pkgs[i].id }
	for _, u := range units {
		u.rekey(name)
	}
	counts := make([]int, nimg)
	for _, u := range units {
		for img := range nimg {
			if u.images.has(img) {
				counts[img]++
			}
		}
	}
	over := newBitset(nimg)
	refresh := func() bool {
		any := false
		for img := range nimg {
			if counts[img] > budgets[img] {
				over.set(img)
				any = true
			} else {
				over.clear(img)
			}
		}
		return any
	}
	for refresh() {
		sortUnits(units)
		var bestA, bestB *unit
		var bestCost int64
		var bestBenefit int
		var bestSize int64
		for ai, a := range units {
			for _, b := range units[ai+1:] {
				inter := a.images.and(b.images)
				benefit := inter.and(over).count()
				if benefit == 0 {
					continue
				}
				var cost int64
				if !a.images.subsetOf(b.images) {
					cost += a.size
				}
				if !b.images.subsetOf(a.images) {
					cost += b.size
				}
				size := a.size + b.size
				better := bestA == nil
				if !better {
					l, r := satMul(cost, int64(bestBenefit)), satMul(bestCost, int64(benefit))
					switch {
					case cost == 0 && bestCost != 0:
						better = true
					case cost != 0 && bestCost == 0:
					case l != r:
						better = l < r
					case benefit != bestBenefit:
						better = benefit > bestBenefit
					default:
						better = size < bestSize
					}
				}
				if better {
					bestA, bestB, bestCost, bestBenefit, bestSize = a, b, cost, benefit, size
				}
			}
		}
		inter := bestA.images.and(bestB.images)
		merged := &unit{images: inter, size: bestA.size + bestB.size}
		merged.pkgs = append(append([]int(nil), bestA.pkgs...), bestB.pkgs...)
		sort.Ints(merged.pkgs)
		merged.rekey(name)
		bestA.images = bestA.images.andNot(inter)
		bestB.images = bestB.images.andNot(inter)
		for img := range nimg {
			if inter.has(img) {
				counts[img]--
			}
		}
		units = addUnit(units, merged)
	}
	// Spend spare budget on finer layers.
	for {
		var best *unit
		var bestVal int64
		var bestPkg int
		for _, u := range units {
			if len(u.pkgs) < 2 {
				continue
			}
			fits := true
			for img := range nimg {
				if u.images.has(img) && counts[img] >= budgets[img] {
					fits = false
					break
				}
			}
			if !fits {
				continue
			}
			big := u.pkgs[0]
			for _, i := range u.pkgs[1:] {
				if pkgs[i].size > pkgs[big].size {
					big = i
				}
			}
			val := satMul(pkgs[big].size, int64(u.images.count()))
			if best == nil || val > bestVal || (val == bestVal && u.key < best.key) {
				best, bestVal, bestPkg = u, val, big
			}
		}
		if best == nil {
			break
		}
		var rest []int
		for _, i := range best.pkgs {
			if i != bestPkg {
				rest = append(rest, i)
			}
		}
		best.pkgs, best.size = rest, best.size-pkgs[bestPkg].size
		best.rekey(name)
		single := &unit{images: best.images, pkgs: []int{bestPkg}, size: pkgs[bestPkg].size}
		single.rekey(name)
		for img := range nimg {
			if best.images.has(img) {
				counts[img]++
			}
		}
		units = addUnit(units, single)
	}
	return orderFleet(units, nimg, func(u *unit) []string {
		ids := make([]string, len(u.pkgs))
		for k, i := range u.pkgs {
			ids[k] = pkgs[i].id
		}
		return ids
	})
}

// orderFleet orders each image's layers so that images share the longest
// common prefixes: Docker and containerd key an extracted layer by its
// ChainID (the layer and every layer below it), so a node reuses an
// image's snapshots for another image only along a common prefix. The
// order is a trie built greedily from the top: for a set of images with
// equal layers so far (at first the whole fleet), the next layer is the
// unit the most of them still need (ties: the one after which those
// images have the most units in common still, then more images in the
// fleet, then node IDs); the images holding it take it and go on together, the others
// go on as a set of their own. Fleet-wide layers thus come first, in the
// same order in every image, then layers shared by fewer images.
func orderFleet(units []*unit, nimg int, ids func(*unit) []string) [][][]string {
	sortUnits(units)
	left := make([]map[*unit]bool, nimg) // the units each image still needs
	for img := range nimg {
		left[img] = map[*unit]bool{}
	}
	for _, u := range units {
		for img := range nimg {
			if u.images.has(img) {
				left[img][u] = true
			}
		}
	}
	out := make([][][]string, nimg)
	var walk func(set []int)
	walk = func(set []int) {
		for len(set) > 0 {
			var best *unit
			bestN, bestRun := 0, 0
			runs := map[string]int{} // by the set of images taking u
			for _, u := range units {
				var took []int
				for _, img := range set {
					if left[img][u] {
						took = append(took, img)
					}
				}
				n := len(took)
				if n == 0 || n < bestN {
					continue
				}
				// How long the images taking u could go on together:
				// the units all of them still need.
				k := fmt.Sprint(took)
				run, ok := runs[k]
				if !ok {
					for _, v := range units {
						all := true
						for _, img := range took {
							if !left[img][v] {
								all = false
								break
							}
						}
						if all {
							run++
						}
					}
					runs[k] = run
				}
				if best == nil || n > bestN || (n == bestN && (run > bestRun || (run == bestRun && u.images.count() > best.images.count()))) {
					best, bestN, bestRun = u, n, run
				}
			}
			if best == nil {
				return
			}
			var with, without []int
			for _, img := range set {
				if left[img][best] {
					delete(left[img], best)
					out[img] = append(out[img], ids(best))
					with = append(with, img)
				} else {
					without = append(without, img)
				}
			}
			if len(without) > 0 {
				walk(without)
			}
			set = with
		}
	}
	all := make([]int, nimg)
	for i := range all {
		all[i] = i
	}
	walk(all)
	return out
}

// unit is a candidate layer of the fleet: a set of packages and the images
// that use exactly this set as one layer.
type unit struct {
	pkgs   []int // sorted package indices
	size   int64
	images bitset
	key    string // the package IDs joined, for ordering and identity
}

func (u *unit) rekey(name func(int) string) {
	var b strings.Builder
	for k, i := range u.pkgs {
		if k > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(name(i))
	}
	u.key = b.String()
}

// addUnit drops units no image uses any more and adds n, joining it with
// an existing unit holding the same packages.
func addUnit(units []*unit, n *unit) []*unit {
	out := units[:0]
	joined := false
	for _, u := range units {
		if u.images.empty() {
			continue
		}
		if u.key == n.key && !joined {
			u.images = u.images.or2(n.images)
			joined = true
		}
		out = append(out, u)
	}
	if !joined {
		out = append(out, n)
	}
	return out
}

func sortUnits(units []*unit) {
	sort.Slice(units, func(i, j int) bool { return units[i].key < units[j].key })
}

func (b bitset) clear(i int) { b[i/64] &^= 1 << (i % 64) }

func (b bitset) and(o bitset) bitset {
	out := make(bitset, len(b))
	for i := range b {
		out[i] = b[i] & o[i]
	}
	return out
}

func (b bitset) andNot(o bitset) bitset {
	out := make(bitset, len(b))
	for i := range b {
		out[i] = b[i] &^ o[i]
	}
	return out
}

func (b bitset) or2(o bitset) bitset {
	out := make(bitset, len(b))
	for i := range b {
		out[i] = b[i] | o[i]
	}
	return out
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func (b bitset) empty() bool { return b.count() == 0 }

func (b bitset) subsetOf(o bitset) bool {
	for i := range b {
		if b[i]&^o[i] != 0 {
			return false
		}
	}
	return true
}
