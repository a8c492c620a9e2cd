package files

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/elfdeps"
	"github.com/stratabuild/strata/spec"
)

// stepEntry adds the node of files entry i, which copies from a build
// step's output, and the runtime packages its ELF files need; it reports
// whether packages were added.
func (s *Source) stepEntry(ctx context.Context, req closure.Request, g *closure.Graph, i int, f spec.File) (bool, error) {
	res := req.Needed[StepSourceName(f.Build)]
	if res == nil || res.Private == nil || res.Private.Nodes["build:"+f.Build] == nil {
		return false, fmt.Errorf("files[%d]: build step %s was not built", i, f.Build)
	}
	priv := res.Private
	out := priv.Nodes["build:"+f.Build]
	src := f.Src
	if src == "" {
		src = "."
	}
	entry := f
	entry.Src = src
	n, err := Node(ctx, out.Meta["dir"], i, entry)
	if err != nil {
		return false, fmt.Errorf("files[%d] (build %s): %w", i, f.Build, err)
	}
	n.Meta["build"] = f.Build
	n.Meta["buildTreeHash"] = out.Meta["treeHash"]
	n.Meta["buildKey"] = out.Meta["key"]
	n.Meta["buildSrcHash"] = out.Meta["srcHash"]
	n.Meta["buildClosure"] = out.Meta["closure"]
	if err := g.Add(n); err != nil {
		return false, err
	}
	g.Roots = append(g.Roots, n.ID)
	if out.Meta["runtime"] == "none" {
		return false, nil
	}
	entries, err := n.Contents.Entries(ctx)
	if err != nil {
		return false, err
	}
	edges, missing, err := elfdeps.Resolve(ctx, entries, priv)
	if err != nil {
		return false, fmt.Errorf("files[%d] (build %s): reading its ELF files: %w", i, f.Build, err)
	}
	if len(missing) > 0 {
		var names []string
		for _, m := range missing {
			names = append(names, "/"+m.File+" needs "+m.Soname)
		}
		return false, fmt.Errorf("files[%d] (build %s): no package of the step's build closure ships %s: the image could not run it; add the package to builds.%s.debian.packages, or set builds.%s.runtime: none if the image provides it otherwise", i, f.Build, strings.Join(names, ", "), f.Build, f.Build)
	}
	var needs []string
	for _, e := range edges {
		if !slices.Contains(n.Deps, e.NodeID) {
			n.Deps = append(n.Deps, e.NodeID)
		}
		needs = append(needs, "/"+e.File+" -> "+e.Soname+" -> "+priv.Nodes[e.NodeID].Name)
	}
	sort.Strings(n.Deps)
	if len(needs) > 0 {
		n.Meta["needs"] = strings.Join(needs, "\n")
	}
	// The needed packages and everything they depend on, as the build
	// closure resolved them.
	var add func(id string) error
	add = func(id string) error {
		if _, ok := g.Nodes[id]; ok {
			return nil
		}
		pn := priv.Nodes[id]
		if pn == nil {
			return fmt.Errorf("files[%d] (build %s): %s is not in the step's build closure", i, f.Build, id)
		}
		if err := g.Add(pn); err != nil {
			return err
		}
		for _, d := range pn.Deps {
			if err := add(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, id := range n.Deps {
		if err := add(id); err != nil {
			return false, err
		}
	}
	return len(n.Deps) > 0, nil
}

// usrMergeNode holds the merged-/usr root links (bin, sbin, lib, and lib64
// on amd64 for the ELF interpreter) for an image that gets Debian runtime
// packages from a build step but has no Debian block of its own (whose
// generated layer would hold them).
func usrMergeNode(arch string) *closure.Node {
	tops := []string{"bin", "lib", "sbin"}
	if arch == "amd64" {
		tops = append(tops, "lib64")
	}
	var list []closure.Entry
	for _, t := range tops {
		list = append(list, closure.Entry{Path: t, Type: closure.Symlink, Mode: 0o777, Link: "usr/" + t})
	}
	return &closure.Node{
		ID: "generated:usrmerge", Kind: closure.KindGenerated, Name: "usrmerge",
		Contents: closure.StaticContents{ID: "generated:usrmerge-v1:" + strings.Join(tops, ","), List: list},
	}
}
