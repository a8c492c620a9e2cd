package imagegraph

import (
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/closure/nix"
	"github.com/stratabuild/strata/imagefs"
)

type recoverer struct {
	name string
	fn   func(*imagefs.FS) ([]*closure.Node, error)
}

// recoverers are the sources that can find their packages in a flattened
// image, in the order their nodes are added.
func recoverers() []recoverer {
	return []recoverer{{"debian", deb.FromImage}, {"nix", nix.FromImage}}
}

// FromImage rebuilds img's closure graph.
func FromImage(img v1.Image) (*closure.Graph, error) {
	fs, err := imagefs.Flatten(img, false)
	if err != nil {
		return nil, fmt.Errorf("reading the image's files: %w", err)
	}
	g := closure.New()
	for _, r := range recoverers() {
		nodes, err := r.fn(fs)
		if err != nil {
			return nil, fmt.Errorf("reading the %s packages of the image: %w", r.name, err)
		}
		for _, n := range nodes {
			if err := g.Add(n); err != nil {
				return nil, err
			}
		}
	}
	g.Roots = Roots(g)
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("rebuilding the closure: %w", err)
	}
	return g, nil
}

// Roots are the nodes no other node depends on, sorted. A dependency cycle
// nothing else points to (libc6 and libgcc-s1 on their own) has no such
// node: its first node (by ID) becomes a root, so every node is reachable.
func Roots(g *closure.Graph) []string {
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, d := range n.Deps {
			used[d] = true
		}
	}
	var roots []string
	for _, id := range g.IDs() {
		if !used[id] {
			roots = append(roots, id)
		}
	}
	for {
		seen := reachable(g, roots)
		orphan := ""
		for _, id := range g.IDs() {
			if !seen[id] {
				orphan = id
				break
			}
		}
		if orphan == "" {
			break
		}
		roots = append(roots, orphan)
	}
	sort.Strings(roots)
	return roots
}

func reachable(g *closure.Graph, roots []string) map[string]bool {
	seen := map[string]bool{}
	stack := append([]string(nil), roots...)
	for _, r := range stack {
		seen[r] = true
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range g.Nodes[id].Deps {
			if !seen[d] && g.Nodes[d] != nil {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return seen
}
