package closure

import (
	"fmt"
	"slices"
	"sort"
)

// Kind says which source produced a node.
type Kind string

// Node kinds.
const (
	KindDeb       Kind = "deb"
	KindNix       Kind = "nix"
	KindFiles     Kind = "files"
	KindGenerated Kind = "generated"
	KindBase      Kind = "base"
	KindStep      Kind = "step"
)

// Node is one unit of the closure: a Debian package, a Nix store path, a
// files entry of the spec, or a generated set of files.
type Node struct {
	// ID is unique in a graph, e.g. "deb:libc6:amd64", "nix:/nix/store/…-hello",
	// "files:0", "generated:etc".
	ID      string
	Kind    Kind
	Name    string
	Version string
	Arch    string
	// Size is the uncompressed size of the node's content in bytes, as
	// its source knows it when it returns the graph: a Debian package's
	// Installed-Size, before its .deb is unpacked and pruned. Layer plans
	// weigh packages by it.
	Size int64
	// Deps are the IDs of the node's direct runtime dependencies.
	Deps []string
	// Meta holds source-specific facts for SBOMs and inspection, e.g.
	// "sha256", "narHash", "maintainer", "license", "filename", "purl".
	Meta map[string]string
	// Contents yields the node's files; nil for a node with no files.
	Contents Contents
}

// Graph is a closure: nodes by ID plus the roots the user asked for.
type Graph struct {
	Nodes map[string]*Node
	Roots []string
}

// New returns an empty graph.
func New() *Graph { return &Graph{Nodes: map[string]*Node{}} }

// Add inserts n; a second node with the same ID is an error.
func (g *Graph) Add(n *Node) error {
	if g.Nodes == nil {
		g.Nodes = map[string]*Node{}
	}
	if _, dup := g.Nodes[n.ID]; dup {
		return fmt.Errorf("closure: node %q added twice", n.ID)
	}
	g.Nodes[n.ID] = n
	return nil
}

// Merge adds every node and root of o to g. A node g already has is kept
// when both have the same contents key (two sources reached the same
// package, e.g. libc6 from the image's packages and from a build step's
// runtime closure); with different contents it is an error naming both
// versions.
func (g *Graph) Merge(o *Graph) error {
	for _, id := range o.IDs() {
		n := o.Nodes[id]
		if have, dup := g.Nodes[id]; dup {
			if have == n || (have.Contents != nil && n.Contents != nil && have.Contents.Key() == n.Contents.Key()) {
				continue
			}
			return fmt.Errorf("closure: %s comes twice with different contents (versions %q and %q): pin one version for both (for example in debian.packages)", id, have.Version, n.Version)
		}
		if err := g.Add(n); err != nil {
			return err
		}
	}
	for _, r := range o.Roots {
		if !slices.Contains(g.Roots, r) {
			g.Roots = append(g.Roots, r)
		}
	}
	return nil
}

// IDs returns the node IDs in bytewise order.
func (g *Graph) IDs() []string {
	ids := make([]string, 0, len(g.Nodes))
	for id := range g.Nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Validate checks that every dependency and root names a node.
func (g *Graph) Validate() error {
	for _, id := range g.IDs() {
		for _, d := range g.Nodes[id].Deps {
			if _, ok := g.Nodes[d]; !ok {
				return fmt.Errorf("closure: %s depends on %s, which is not in the graph", id, d)
			}
		}
	}
	for _, r := range g.Roots {
		if _, ok := g.Nodes[r]; !ok {
			return fmt.Errorf("closure: root %s is not in the graph", r)
		}
	}
	return nil
}

// TotalSize is the sum of all node sizes.
func (g *Graph) TotalSize() int64 {
	var s int64
	for _, n := range g.Nodes {
		s += n.Size
	}
	return s
}
