package build

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/layering"
)

// provider is one input's entry at a path: its type, link and node.
type provider struct {
	typ  closure.EntryType
	link string
	node *closure.Node
}

// checkBreakers refuses a files entry that would break what another input
// provides (issue 15 hole 9): a path through a symlink or file of another
// input (`dst: /bin/sh` under merged /usr's `bin -> usr/bin`: the layer's
// implied bin/ folder would replace the link and hide /usr/bin), or a
// path that replaces another input's folder or symlink with something
// else (a file at /usr/lib hides the folder). The error names both inputs
// and, through a symlink, the path to write instead. A file over another
// input's file stays allowed: that is how a spec replaces a config file.
func checkBreakers(ctx context.Context, g *closure.Graph, plan *layering.Plan) error {
	hasFiles := false
	for _, n := range g.Nodes {
		hasFiles = hasFiles || n.Kind == closure.KindFiles
	}
	if !hasFiles {
		return nil
	}
	// others maps a path to the providers of it (at most one per node,
	// folders implied by deeper paths included).
	others := map[string][]provider{}
	addProv := func(p string, pr provider) bool {
		for _, o := range others[p] {
			if o.node == pr.node {
				return false
			}
		}
		if len(others[p]) < 4 {
			others[p] = append(others[p], pr)
		}
		return true
	}
	type filesEntry struct {
		e    closure.Entry
		node *closure.Node
	}
	var files []filesEntry
	for _, l := range plan.Layers {
		for _, id := range l.Nodes {
			n := g.Nodes[id]
			if n == nil {
				continue
			}
			var es []closure.Entry
			if n.Kind == closure.KindNix {
				es = []closure.Entry{{Path: strings.TrimPrefix(strings.TrimPrefix(id, "nix:"), "/"), Type: closure.Dir}}
			} else if n.Contents != nil {
				var err error
				if es, err = n.Contents.Entries(ctx); err != nil {
					return fmt.Errorf("listing the files of %s: %w", id, err)
				}
			}
			for _, e := range es {
				addProv(e.Path, provider{typ: e.Type, link: e.Link, node: n})
				for d := path.Dir(e.Path); d != "." && d != "/"; d = path.Dir(d) {
					if !addProv(d, provider{typ: closure.Dir, node: n}) {
						break // its ancestors were added with it
					}
				}
				if n.Kind == closure.KindFiles {
					files = append(files, filesEntry{e, n})
				}
			}
		}
	}
	for _, f := range files {
		p := f.e.Path
		// A path through another input's symlink or file.
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			for _, o := range others[d] {
				if o.node == f.node || o.typ == closure.Dir {
					continue
				}
				if o.typ == closure.Symlink {
					return fmt.Errorf("%s puts /%s through /%s, which %s provides as a symlink to %s: the folder its layer implies would replace the link and hide what it points at; write to %s instead (strata does not redirect a dst through a link)",
						inputName(f.node), p, d, inputName(o.node), o.link, throughLink(d, o.link, p))
				}
				return fmt.Errorf("%s puts /%s under /%s, which %s provides as a %s: write it elsewhere or drop one of the inputs", inputName(f.node), p, d, inputName(o.node), kindWord(o.typ))
			}
		}
		// A path that replaces another input's folder or symlink.
		for _, o := range others[p] {
			if o.node == f.node {
				continue
			}
			switch {
			case o.typ == closure.Dir && f.e.Type != closure.Dir:
				return fmt.Errorf("%s puts a %s at /%s, which %s provides as a folder: the image would lose everything under it; write it elsewhere (a folder's contents go under dst/)", inputName(f.node), kindWord(f.e.Type), p, inputName(o.node))
			case o.typ == closure.Symlink && !(f.e.Type == closure.Symlink && f.e.Link == o.link):
				return fmt.Errorf("%s puts a %s at /%s, which %s provides as a symlink to %s: write to %s instead", inputName(f.node), kindWord(f.e.Type), p, inputName(o.node), o.link, throughLink(p, o.link, p))
			case f.e.Type == closure.Dir && o.typ != closure.Dir:
				return fmt.Errorf("%s puts a folder at /%s, which %s provides as a %s: write it elsewhere or drop one of the inputs", inputName(f.node), p, inputName(o.node), kindWord(o.typ))
			}
		}
	}
	return nil
}

// throughLink is p with its ancestor (or itself) link, a symlink to
// target, resolved once: /bin/sh through bin -> usr/bin is /usr/bin/sh.
func throughLink(link, target, p string) string {
	dst := target
	if !strings.HasPrefix(target, "/") {
		dst = path.Join(path.Dir(link), target)
	}
	rest := strings.TrimPrefix(p, link)
	return path.Clean("/" + dst + rest)
}

// inputName names a node the way the spec does: files[N] (dst D), a Debian
// package, a Nix path, the generated layer.
func inputName(n *closure.Node) string {
	switch n.Kind {
	case closure.KindFiles:
		name := n.ID
		if i, err := strconv.Atoi(strings.TrimPrefix(n.ID, "files:")); err == nil {
			name = fmt.Sprintf("files[%d]", i)
		}
		if dst := n.Meta["dst"]; dst != "" {
			return fmt.Sprintf("%s (dst %s)", name, dst)
		}
		return name
	case closure.KindDeb:
		return "Debian package " + n.Name
	case closure.KindNix:
		return "Nix path " + n.Name
	case closure.KindGenerated:
		return "the generated layer " + n.Name
	}
	return fmt.Sprintf("%s %s", n.Kind, n.Name)
}

// kindWord names an entry type in the spec's words.
func kindWord(t closure.EntryType) string {
	switch t {
	case closure.Dir:
		return "folder"
	case closure.Regular:
		return "file"
	}
	return t.String()
}
