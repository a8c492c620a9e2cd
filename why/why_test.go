package why_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imageref/imagetest"
	"github.com/stratabuild/strata/why"
)

func TestChainsShortestFirst(t *testing.T) {
	g := imagetest.SampleGraph()
	got, err := why.Chains(g, "libc6")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"deb:hello:amd64", "deb:libc6:amd64"},
		{"deb:hello:amd64", "deb:libgcc-s1:amd64", "deb:libc6:amd64"},
		{"deb:hello:amd64", "deb:perl-base:amd64", "deb:libc6:amd64"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("chains %v, want %v", got, want)
	}
	lines := why.Format(g, got)
	if lines[1] != "hello 2.10-3 -> libgcc-s1 12.2.0-14 -> libc6 2.36-9+deb12u4" {
		t.Errorf("formatted %q", lines[1])
	}
	// By ID too; a root is its own chain.
	byID, err := why.Chains(g, "deb:tzdata:all")
	if err != nil || !reflect.DeepEqual(byID, [][]string{{"deb:tzdata:all"}}) {
		t.Errorf("root chain %v %v", byID, err)
	}
}

func TestChainsNameMatchesSeveralNodes(t *testing.T) {
	// "hello" is both a Debian package and a Nix store path: both roots.
	got, err := why.Chains(imagetest.SampleGraph(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0][0] != "deb:hello:amd64" || !strings.HasPrefix(got[1][0], "nix:") {
		t.Errorf("chains %v", got)
	}
}

// A diamond lattice has 2^k shortest chains; the limit bounds the answer
// and ties are broken by name, so the first chain takes every "a" branch.
func TestChainsBoundedAndDeterministic(t *testing.T) {
	g := closure.New()
	const k = 12
	add := func(id string, deps ...string) {
		if err := g.Add(&closure.Node{ID: id, Name: id, Deps: deps}); err != nil {
			t.Fatal(err)
		}
	}
	add("z-target")
	prev := "z-target"
	for i := k - 1; i >= 0; i-- {
		a, b, j := "a"+string(rune('A'+i)), "b"+string(rune('A'+i)), "j"+string(rune('A'+i))
		add(a, prev)
		add(b, prev)
		add(j, b, a) // deps listed out of order on purpose
		prev = j
	}
	g.Roots = []string{prev}
	first, err := why.ChainsN(g, "z-target", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 5 {
		t.Fatalf("%d chains, want the limit 5", len(first))
	}
	for i := 0; i < 20; i++ {
		again, _ := why.ChainsN(g, "z-target", 5)
		if !reflect.DeepEqual(first, again) {
			t.Fatal("chains differ between runs")
		}
	}
	for _, id := range first[0] {
		if strings.HasPrefix(id, "b") {
			t.Errorf("first chain %v takes a b branch; ties go by name", first[0])
			break
		}
	}
	if len(first[0]) != 2*k+1 {
		t.Errorf("chain length %d, want %d", len(first[0]), 2*k+1)
	}
	def, _ := why.Chains(g, "z-target")
	if len(def) != why.DefaultLimit {
		t.Errorf("default limit gave %d chains", len(def))
	}
}

func TestChainsUnknownNamesCloseOnes(t *testing.T) {
	_, err := why.Chains(imagetest.SampleGraph(), "libc")
	if err == nil || !strings.Contains(err.Error(), "libc6") {
		t.Errorf("error %v should suggest libc6", err)
	}
	_, err = why.Chains(imagetest.SampleGraph(), "perl-bsae")
	if err == nil || !strings.Contains(err.Error(), "perl-base") {
		t.Errorf("error %v should suggest perl-base", err)
	}
	_, err = why.Chains(imagetest.SampleGraph(), "qqqqqqqqqqqq")
	if err == nil || !strings.Contains(err.Error(), "not in the closure") {
		t.Errorf("error %v", err)
	}
	// The hint is a command that runs: inspect takes the view as --view.
	if err == nil || !strings.Contains(err.Error(), "`strata inspect SPEC --view closure`") {
		t.Errorf("error %v should name a valid inspect command", err)
	}
}

func TestChainsCycle(t *testing.T) {
	g := closure.New()
	for _, n := range []*closure.Node{
		{ID: "r", Name: "r", Deps: []string{"x"}},
		{ID: "x", Name: "x", Deps: []string{"y"}},
		{ID: "y", Name: "y", Deps: []string{"x", "t"}},
		{ID: "t", Name: "t"},
	} {
		if err := g.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	g.Roots = []string{"r"}
	got, err := why.Chains(g, "t")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]string{{"r", "x", "y", "t"}}) {
		t.Errorf("chains %v", got)
	}
}
