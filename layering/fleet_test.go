package layering

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
)

// fleetBytes returns the bytes of all images and the bytes a registry
// stores for them (each distinct layer node set once).
func fleetBytes(gs []*closure.Graph, plans []*Plan) (total, stored int64) {
	seen := map[string]bool{}
	for i, p := range plans {
		for _, l := range p.Layers {
			var size int64
			for _, id := range l.Nodes {
				size += gs[i].Nodes[id].Size
			}
			total += size
			if k := strings.Join(l.Nodes, "\n"); !seen[k] {
				seen[k] = true
				stored += size
			}
		}
	}
	return total, stored
}

// idealStored is the bytes stored with one layer per distinct node.
func idealStored(gs []*closure.Graph) int64 {
	seen := map[string]bool{}
	var s int64
	for _, g := range gs {
		for id, n := range g.Nodes {
			if n.Contents != nil && !seen[id] {
				seen[id] = true
				s += n.Size
			}
		}
	}
	return s
}

func TestFleetSharesIdenticalLayers(t *testing.T) {
	common := map[string]pkgSpec{
		"libc6": {100, nil}, "libssl3": {50, []string{"libc6"}}, "zlib1g": {10, []string{"libc6"}},
		"libpython3.11": {200, []string{"libc6", "zlib1g", "libssl3"}}, "python3": {30, []string{"libpython3.11"}},
	}
	for i := range 6 {
		common[fmt.Sprintf("common%d", i)] = pkgSpec{2, []string{"libc6"}}
	}
	mk := func(app string) *closure.Graph {
		specs := map[string]pkgSpec{}
		for k, v := range common {
			specs[k] = v
		}
		deps := []string{"python3"}
		for i := range 8 {
			dep := fmt.Sprintf("%s-dep%d", app, i)
			specs[dep] = pkgSpec{3, []string{"libc6"}}
			deps = append(deps, dep)
		}
		for i := range 6 {
			deps = append(deps, fmt.Sprintf("common%d", i))
		}
		specs[app] = pkgSpec{5, deps}
		return mkGraph(t, specs)
	}
	gs := []*closure.Graph{mk("flask"), mk("django")}
	const budget = 4
	layerOf := func(p *Plan, id string) []string {
		for _, l := range p.Layers {
			if slices.Contains(l.Nodes, id) {
				return l.Nodes
			}
		}
		t.Fatalf("%s in no layer", id)
		return nil
	}
	shared := func(plans []*Plan) (all bool, some bool) {
		all = true
		for id := range common {
			same := slices.Equal(layerOf(plans[0], id), layerOf(plans[1], id))
			all = all && same
			some = some || same
		}
		return all, some
	}
	opt := Options{Strategy: Fleet, Budget: budget}
	fleet, err := PlanFleet(gs, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range fleet {
		checkPlan(t, gs[i], p, opt)
	}
	if all, _ := shared(fleet); !all {
		t.Errorf("fleet: common packages not in identical layers:\n%v\n%v", layerSets(fleet[0]), layerSets(fleet[1]))
	}
	for id := range common {
		for _, n := range layerOf(fleet[0], id) {
			if _, ok := common[n]; !ok {
				t.Errorf("fleet: shared layer of %s holds %s, which only one image has", id, n)
			}
		}
	}
	total, stored := fleetBytes(gs, fleet)
	if ideal := idealStored(gs); stored != ideal {
		t.Errorf("fleet stores %d bytes of %d, ideal %d", stored, total, ideal)
	}
	perPkg, err := PlanFleet(gs, Options{Strategy: PerPackage, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := shared(perPkg); all {
		t.Errorf("per-package unexpectedly shares every common package at budget %d: %v", budget, layerSets(perPkg[0]))
	}
	_, perStored := fleetBytes(gs, perPkg)
	if perStored <= stored {
		t.Errorf("per-package stores %d bytes, fleet %d: fleet should store less", perStored, stored)
	}
	// The fleet-wide layers come first in both images (common prefix).
	if !slices.Equal(fleet[0].Layers[0].Nodes, fleet[1].Layers[0].Nodes) {
		t.Errorf("first layers differ: %v / %v", fleet[0].Layers[0].Nodes, fleet[1].Layers[0].Nodes)
	}
}

func TestFleetOfOneIsPerPackage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	g := randomGraph(rng, 50, true)
	for _, budget := range []int{5, 20, 100} {
		want, err := PlanImage(g, Options{Strategy: PerPackage, Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		got, err := PlanFleet([]*closure.Graph{g}, Options{Strategy: Fleet, Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[0], want) {
			t.Errorf("budget %d: fleet of one differs from per-package", budget)
		}
	}
}

// randomFleet draws images from one random universe: each image is the
// closure of a few random roots.
func randomFleet(rng *rand.Rand, nimg int) []*closure.Graph {
	u := randomGraph(rng, 40+rng.IntN(60), rng.IntN(2) == 0)
	var gs []*closure.Graph
	for range nimg {
		ids := u.IDs()
		keep := map[string]bool{}
		var walk func(id string)
		walk = func(id string) {
			if keep[id] {
				return
			}
			keep[id] = true
			for _, d := range u.Nodes[id].Deps {
				walk(d)
			}
		}
		for range 1 + rng.IntN(4) {
			walk(ids[rng.IntN(len(ids))])
		}
		g := closure.New()
		for _, id := range ids {
			if keep[id] {
				n := *u.Nodes[id]
				_ = g.Add(&n)
			}
		}
		gs = append(gs, g)
	}
	return gs
}

func TestFleetProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 40 {
		gs := randomFleet(rng, 2+rng.IntN(5))
		for _, budget := range []int{3, 4, 8, 16, 127} {
			opt := Options{Strategy: Fleet, Budget: budget, Reserved: rng.IntN(2)}
			plans, err := PlanFleet(gs, opt)
			if err != nil {
				t.Fatalf("iter %d %+v: %v", iter, opt, err)
			}
			for i, p := range plans {
				checkPlan(t, gs[i], p, opt)
			}
			// Same plans whatever the order of images and of nodes.
			perm := rng.Perm(len(gs))
			hs := make([]*closure.Graph, len(gs))
			for i, j := range perm {
				hs[i] = permuted(rng, gs[j])
			}
			plans2, err := PlanFleet(hs, opt)
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range perm {
				if !reflect.DeepEqual(plans2[i], plans[j]) {
					t.Fatalf("iter %d budget %d: image %d planned differently after permutation:\n%v\n%v",
						iter, budget, j, layerSets(plans[j]), layerSets(plans2[i]))
				}
			}
			if budget == 127 {
				if _, stored := fleetBytes(gs, plans); stored != idealStored(gs) {
					t.Errorf("iter %d: unlimited budget stores %d, ideal %d", iter, stored, idealStored(gs))
				}
			}
		}
	}
}

// Images 0 and 1 share two layers and images 1 and 2 one: ordering by
// sharing count alone (then names) could put {1,2}'s layer first in image
// 1 and leave 0 and 1 no common prefix; the trie puts 0 and 1's layers
// first in both.
func TestFleetOrderSharesPrefixes(t *testing.T) {
	mk := func(key string, imgs ...int) *unit {
		u := &unit{images: newBitset(3), key: key}
		for _, i := range imgs {
			u.images.set(i)
		}
		return u
	}
	x, y, z := mk("b", 0, 1), mk("a", 1, 2), mk("c", 0, 1)
	all := mk("0", 0, 1, 2)
	out := orderFleet([]*unit{x, y, z, all}, 3, func(u *unit) []string { return []string{u.key} })
	got := func(i int) string {
		var s []string
		for _, l := range out[i] {
			s = append(s, l[0])
		}
		return strings.Join(s, " ")
	}
	if got(0) != "0 b c" || got(1) != "0 b c a" || got(2) != "0 a" {
		t.Fatalf("orders %q %q %q, want %q %q %q", got(0), got(1), got(2), "0 b c", "0 b c a", "0 a")
	}
}
