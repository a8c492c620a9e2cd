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

// pkgSpec describes a test package: its size and dependencies (by name).
type pkgSpec struct {
	size int64
	deps []string
}

// mkGraph builds a graph of deb nodes whose IDs are their names.
func mkGraph(t testing.TB, pkgs map[string]pkgSpec) *closure.Graph {
	t.Helper()
	g := closure.New()
	for _, name := range slices.Sorted(mapsKeys(pkgs)) {
		s := pkgs[name]
		if err := g.Add(&closure.Node{ID: name, Kind: closure.KindDeb, Name: name, Version: "1", Size: s.size,
			Deps: s.deps, Contents: closure.StaticContents{ID: name}}); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func layerSets(p *Plan) [][]string {
	out := make([][]string, len(p.Layers))
	for i, l := range p.Layers {
		out[i] = l.Nodes
	}
	return out
}

func mustPlan(t *testing.T, g *closure.Graph, opt Options) *Plan {
	t.Helper()
	p, err := PlanImage(g, opt)
	if err != nil {
		t.Fatalf("PlanImage(%+v): %v", opt, err)
	}
	checkPlan(t, g, p, opt)
	return p
}

// checkPlan asserts the rules every plan follows.
func checkPlan(t testing.TB, g *closure.Graph, p *Plan, opt Options) {
	t.Helper()
	budget := opt.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	if n := len(p.Layers); n > budget-opt.Reserved {
		t.Errorf("%d layers, budget %d reserved %d", n, budget, opt.Reserved)
	}
	seen := map[string]int{}
	pinnedStarted := false
	for i, l := range p.Layers {
		if len(l.Nodes) == 0 {
			t.Errorf("layer %d is empty", i)
		}
		if !slices.IsSorted(l.Nodes) {
			t.Errorf("layer %d nodes not sorted: %v", i, l.Nodes)
		}
		if l.Title == "" {
			t.Errorf("layer %d has no title", i)
		}
		pin := 0
		for _, id := range l.Nodes {
			seen[id]++
			n := g.Nodes[id]
			if n == nil || n.Contents == nil {
				t.Errorf("layer %d holds %q, which has no contents", i, id)
				continue
			}
			if isPinned(n.Kind) {
				pin++
			}
		}
		if pin != 0 && pin != len(l.Nodes) {
			t.Errorf("layer %d mixes pinned nodes and packages: %v", i, l.Nodes)
		}
		if pin > 0 {
			pinnedStarted = true
		} else if pinnedStarted {
			t.Errorf("package layer %d comes after a pinned layer", i)
		}
	}
	for id, n := range g.Nodes {
		want := 0
		if n.Contents != nil {
			want = 1
		}
		if seen[id] != want {
			t.Errorf("node %s appears in %d layers, want %d", id, seen[id], want)
		}
	}
}

func TestPopularityPublishedVectors(t *testing.T) {
	tests := []struct {
		name   string
		graph  map[string]pkgSpec
		scores map[string]int64
		order  []string
	}{
		{
			name: "closure-graph.py test_counts_popularity",
			graph: map[string]pkgSpec{
				"foo": {1, []string{"bar", "baz"}}, "bar": {1, []string{"baz"}},
				"baz": {1, []string{"tux"}}, "tux": {1, nil},
			},
			scores: map[string]int64{"foo": 1, "bar": 2, "baz": 4, "tux": 6},
			order:  []string{"tux", "baz", "bar", "foo"},
		},
		{
			name:   "closure-graph.py test_returns_in_order (ties by name)",
			graph:  map[string]pkgSpec{"foo": {1, []string{"baz"}}, "bar": {1, []string{"tux"}}, "baz": {1, nil}, "tux": {1, nil}},
			scores: map[string]int64{"foo": 1, "bar": 1, "baz": 2, "tux": 2},
			order:  []string{"baz", "tux", "bar", "foo"},
		},
		{
			name: "closure-graph.py header example A..G",
			graph: map[string]pkgSpec{
				"A": {1, []string{"B", "G"}}, "B": {1, []string{"C", "E"}}, "C": {1, []string{"D", "E"}},
				"D": {1, []string{"F"}}, "E": {1, []string{"F"}}, "F": {1, nil}, "G": {1, nil},
			},
			scores: map[string]int64{"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 9, "G": 2},
			order:  []string{"F", "E", "D", "C", "B", "G", "A"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := mkGraph(t, tc.graph)
			p, err := prepare(g)
			if err != nil {
				t.Fatal(err)
			}
			scores := popularityScores(p)
			got := map[string]int64{}
			for i, c := range p.comps {
				got[c.members[0]] = scores[i]
			}
			if !reflect.DeepEqual(got, tc.scores) {
				t.Errorf("scores = %v, want %v", got, tc.scores)
			}
			plan := mustPlan(t, g, Options{Strategy: Popularity})
			var order []string
			for _, l := range plan.Layers {
				order = append(order, l.Nodes...)
			}
			if !slices.Equal(order, tc.order) {
				t.Errorf("order = %v, want %v", order, tc.order)
			}
			// Budget 2: the most popular keeps its layer, the rest share one.
			plan = mustPlan(t, g, Options{Strategy: Popularity, Budget: 2})
			want := [][]string{{tc.order[0]}, slices.Sorted(slices.Values(tc.order[1:]))}
			if got := layerSets(plan); !reflect.DeepEqual(got, want) {
				t.Errorf("budget 2: %v, want %v", got, want)
			}
		})
	}
}

// The example at the top of auto.go, worked by hand from auto-layer.py.
func TestAutoLayerWorkedExample(t *testing.T) {
	g := mkGraph(t, map[string]pkgSpec{
		"app":           {1, []string{"python3"}},
		"python3":       {5, []string{"libpython3.11", "libssl3"}},
		"libpython3.11": {20, []string{"libc6"}},
		"libssl3":       {3, []string{"libc6"}},
		"curl":          {10, []string{"libssl3"}},
		"libc6":         {4, nil},
	})
	tests := []struct {
		budget int
		want   [][]string
	}{
		{1, [][]string{{"app", "curl", "libc6", "libpython3.11", "libssl3", "python3"}}},
		{2, [][]string{{"libc6", "libpython3.11"}, {"app", "curl", "libssl3", "python3"}}},
		{4, [][]string{{"libc6"}, {"curl", "libssl3"}, {"libpython3.11"}, {"app", "python3"}}},
		{6, [][]string{{"libc6"}, {"libssl3"}, {"curl"}, {"libpython3.11"}, {"python3"}, {"app"}}},
	}
	for _, tc := range tests {
		plan := mustPlan(t, g, Options{Strategy: Auto, Budget: tc.budget})
		if got := layerSets(plan); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("budget %d: %v, want %v", tc.budget, got, tc.want)
		}
	}
}

func TestPerPackageOrderAndMerge(t *testing.T) {
	g := mkGraph(t, map[string]pkgSpec{
		"python3-flask": {2, []string{"python3"}},
		"python3":       {5, []string{"libpython3.11", "libc6"}},
		"libpython3.11": {20, []string{"libc6", "zlib1g"}},
		"libc6":         {12, nil},
		"zlib1g":        {1, nil},
	})
	plan := mustPlan(t, g, Options{})
	want := [][]string{{"libc6"}, {"zlib1g"}, {"libpython3.11"}, {"python3"}, {"python3-flask"}}
	if got := layerSets(plan); !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if plan.Layers[0].Title != "libc6 1" {
		t.Errorf("title %q, want %q", plan.Layers[0].Title, "libc6 1")
	}
	// Values: libc6 12×4=48, libpython3.11 20×3=60, zlib1g 1×3=3,
	// python3 5×2=10, python3-flask 2×1=2. Budget 3 keeps libpython3.11
	// and libc6 apart.
	plan = mustPlan(t, g, Options{Budget: 3})
	want = [][]string{{"libc6"}, {"libpython3.11"}, {"python3", "python3-flask", "zlib1g"}}
	if got := layerSets(plan); !reflect.DeepEqual(got, want) {
		t.Errorf("budget 3: %v, want %v", got, want)
	}
	if got := plan.Layers[2].Title; got != "3 packages: python3, python3-flask, zlib1g" {
		t.Errorf("merged title %q", got)
	}
}

func TestTitleTruncates(t *testing.T) {
	specs := map[string]pkgSpec{}
	for i := range 12 {
		specs[fmt.Sprintf("p%02d", i)] = pkgSpec{1, nil}
	}
	plan := mustPlan(t, mkGraph(t, specs), Options{Budget: 1})
	if got, want := plan.Layers[0].Title, "12 packages: p00, p01, p02, …"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}

func TestCyclesCollapse(t *testing.T) {
	// libc6 <-> libgcc-s1, and a 3-cycle a -> b -> c -> a under app.
	g := mkGraph(t, map[string]pkgSpec{
		"app":       {1, []string{"a", "libc6"}},
		"a":         {1, []string{"b"}},
		"b":         {1, []string{"c"}},
		"c":         {1, []string{"a", "libc6"}},
		"libc6":     {10, []string{"libgcc-s1"}},
		"libgcc-s1": {1, []string{"libc6"}},
	})
	for _, s := range []string{Popularity, Auto} {
		plan := mustPlan(t, g, Options{Strategy: s})
		got := layerSets(plan)
		for _, want := range [][]string{{"libc6", "libgcc-s1"}, {"a", "b", "c"}, {"app"}} {
			if !slices.ContainsFunc(got, func(l []string) bool { return slices.Equal(l, want) }) {
				t.Errorf("%s: no layer %v in %v", s, want, got)
			}
		}
		if !slices.Equal(got[0], []string{"libc6", "libgcc-s1"}) {
			t.Errorf("%s: first layer %v, want the libc6 cycle", s, got[0])
		}
	}
	plan := mustPlan(t, g, Options{Strategy: PerPackage})
	if len(plan.Layers) != 6 {
		t.Errorf("per-package: %d layers, want 6", len(plan.Layers))
	}
}

func TestPinnedNodesGoLast(t *testing.T) {
	g := mkGraph(t, map[string]pkgSpec{"app": {1, []string{"libc6"}}, "libc6": {10, nil}})
	for _, n := range []*closure.Node{
		{ID: "files:001", Kind: closure.KindFiles, Contents: closure.StaticContents{ID: "f1"}},
		{ID: "files:000", Kind: closure.KindFiles, Contents: closure.StaticContents{ID: "f0"}},
		{ID: "generated:etc", Kind: closure.KindGenerated, Contents: closure.StaticContents{ID: "g"}},
		{ID: "meta", Kind: closure.KindDeb, Deps: []string{"app"}}, // no contents: ignored
	} {
		if err := g.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{PerPackage, Popularity, Auto, Fleet} {
		plan := mustPlan(t, g, Options{Strategy: s, Budget: 10, Reserved: 2})
		got := layerSets(plan)
		tail := got[len(got)-3:]
		if want := [][]string{{"generated:etc"}, {"files:000"}, {"files:001"}}; !reflect.DeepEqual(tail, want) {
			t.Errorf("%s: last layers %v, want %v", s, tail, want)
		}
		// 2 layers left after 2 reserved: packages 1, pinned merged into 1.
		plan = mustPlan(t, g, Options{Strategy: s, Budget: 4, Reserved: 2})
		got = layerSets(plan)
		want := [][]string{{"app", "libc6"}, {"files:000", "files:001", "generated:etc"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s tight: %v, want %v", s, got, want)
		}
		if _, err := PlanImage(g, Options{Strategy: s, Budget: 3, Reserved: 2}); err == nil || !strings.Contains(err.Error(), "raise layering.budget") {
			t.Errorf("%s: one layer for packages and pinned nodes: err %v", s, err)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	g := mkGraph(t, map[string]pkgSpec{"a": {1, nil}})
	for _, opt := range []Options{
		{Budget: 128}, {Budget: -1}, {Budget: 10, Reserved: 11}, {Reserved: -1}, {Strategy: "size"},
		{Budget: 3, Reserved: 3},
	} {
		if _, err := PlanImage(g, opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
	if _, err := PlanImage(g, Options{Budget: 127, Reserved: 126}); err != nil {
		t.Errorf("budget 127: %v", err)
	}
	bad := closure.New()
	_ = bad.Add(&closure.Node{ID: "a", Deps: []string{"missing"}, Contents: closure.StaticContents{ID: "a"}})
	if _, err := PlanImage(bad, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("dangling dependency: err %v", err)
	}
}

func TestContentlessNodesAreFollowed(t *testing.T) {
	// app -> meta (no contents) -> lib: lib is still below app.
	g := mkGraph(t, map[string]pkgSpec{"app": {1, []string{"meta"}}, "lib": {1, nil}, "zzz": {1, nil}})
	_ = g.Add(&closure.Node{ID: "meta", Kind: closure.KindDeb, Deps: []string{"lib"}})
	plan := mustPlan(t, g, Options{Strategy: Popularity})
	if got := layerSets(plan); got[0][0] != "lib" {
		t.Errorf("layers %v, want lib first", got)
	}
}

// randomGraph builds a graph of n packages plus a few pinned and
// contentless nodes; cyclic adds back edges.
func randomGraph(rng *rand.Rand, n int, cyclic bool) *closure.Graph {
	g := closure.New()
	for i := range n {
		id := fmt.Sprintf("deb:p%03d", i)
		var deps []string
		for j := i + 1; j < n; j++ {
			if rng.IntN(n) < 3 {
				deps = append(deps, fmt.Sprintf("deb:p%03d", j))
			}
		}
		if cyclic && i > 0 && rng.IntN(4) == 0 {
			deps = append(deps, fmt.Sprintf("deb:p%03d", rng.IntN(i)))
		}
		nd := &closure.Node{ID: id, Kind: closure.KindDeb, Name: fmt.Sprintf("p%03d", i), Size: int64(1 + rng.IntN(1000)), Deps: deps}
		if rng.IntN(10) != 0 {
			nd.Contents = closure.StaticContents{ID: id}
		}
		_ = g.Add(nd)
	}
	for i := range rng.IntN(3) {
		_ = g.Add(&closure.Node{ID: fmt.Sprintf("files:%03d", i), Kind: closure.KindFiles, Contents: closure.StaticContents{ID: "f"}})
	}
	if rng.IntN(2) == 0 {
		_ = g.Add(&closure.Node{ID: "generated:etc", Kind: closure.KindGenerated, Contents: closure.StaticContents{ID: "g"}})
	}
	return g
}

// permuted rebuilds g with nodes added in another order and shuffled deps.
func permuted(rng *rand.Rand, g *closure.Graph) *closure.Graph {
	ids := g.IDs()
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	out := closure.New()
	for _, id := range ids {
		n := *g.Nodes[id]
		n.Deps = slices.Clone(n.Deps)
		rng.Shuffle(len(n.Deps), func(i, j int) { n.Deps[i], n.Deps[j] = n.Deps[j], n.Deps[i] })
		_ = out.Add(&n)
	}
	return out
}

func TestPropertiesRandomGraphs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 60 {
		g := randomGraph(rng, 1+rng.IntN(80), iter%2 == 1)
		h := permuted(rng, g)
		for _, s := range []string{PerPackage, Popularity, Auto, Fleet} {
			for _, budget := range []int{3, 4, 5, 8, 16, 40, 127} {
				opt := Options{Strategy: s, Budget: budget, Reserved: rng.IntN(2)}
				p1, err := PlanImage(g, opt)
				if err != nil {
					t.Fatalf("iter %d %+v: %v", iter, opt, err)
				}
				checkPlan(t, g, p1, opt)
				p2, err := PlanImage(h, opt)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(p1, p2) {
					t.Fatalf("iter %d %+v: plan depends on insertion order:\n%v\n%v", iter, opt, layerSets(p1), layerSets(p2))
				}
			}
		}
	}
}

func BenchmarkPlanImage(b *testing.B) {
	g := randomGraph(rand.New(rand.NewPCG(9, 9)), 400, true)
	for _, s := range []string{PerPackage, Popularity, Auto} {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				if _, err := PlanImage(g, Options{Strategy: s, Budget: 40}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
