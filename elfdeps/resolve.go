package elfdeps

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// Edge says why a node is needed: File (an output path, slash-separated,
// relative to the image root like closure.Entry.Path) needs Soname (a
// DT_NEEDED name, or the PT_INTERP path for the interpreter), found at Path
// (the library's path in the build closure: the regular file at the end of
// any symlinks), which node NodeID of the build closure provides.
//
// A library a file needs only through another library is listed under the
// output file too, so every Edge reads `output file -> soname -> node`. In a
// missing Edge, Path and NodeID are empty.
type Edge struct {
	File, Soname, Path, NodeID string
}

// Resolve reads every regular ELF file among out (closure entries of a
// step's output, at their image paths) and finds, transitively, the nodes of
// the build closure g that ship the interpreter and each needed library,
// searching as ld.so does (see the package comment). Files that are not ELF
// executables or shared objects, and ELF that cannot be read or parsed, are
// skipped. A name found in neither out nor g is returned in missing: the
// image would not run. Libraries out provides itself need no node and give
// no Edge, but what they need is resolved too. Both lists are sorted by
// File, Soname, Path, NodeID and hold no duplicates.
//
// The build closure's entries are listed once per call; err is only a
// failure to list them or ctx's error.
func Resolve(ctx context.Context, out []closure.Entry, g *closure.Graph) (edges []Edge, missing []Edge, err error) {
	ix, err := newIndex(ctx, out, g)
	if err != nil {
		return nil, nil, err
	}
	r := &resolver{ix: ix, objs: map[string]parsed{}}
	for _, e := range out {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		p := cleanRel(e.Path)
		if e.Type != closure.Regular || p == "" {
			continue
		}
		obj, ok := r.object(p, owned{node: outputNode, entry: e})
		if !ok {
			continue
		}
		r.closeOver(p, obj)
	}
	return sortEdges(r.edges), sortEdges(r.missing), nil
}

type parsed struct {
	obj *object
	ok  bool
}

type resolver struct {
	ix *index
	// objs caches parsed files by node and path: a library many outputs
	// need is read once.
	objs           map[string]parsed
	edges, missing []Edge
}

func (r *resolver) object(p string, o owned) (*object, bool) {
	key := o.node + "\x00" + p
	if c, ok := r.objs[key]; ok {
		return c.obj, c.ok
	}
	obj, ok := readObject(o.entry)
	r.objs[key] = parsed{obj, ok}
	return obj, ok
}

// closeOver records what the output file at p needs: its interpreter, then
// its DT_NEEDED breadth first, as ld.so loads them; a name already loaded
// for this file (by the name asked or by DT_SONAME) is not searched again.
func (r *resolver) closeOver(p string, root *object) {
	have := map[string]bool{}
	if root.soname != "" {
		have[root.soname] = true
	}
	if root.interp != "" {
		if lp, o, ok := r.ix.file(root.interp); !ok {
			r.missing = append(r.missing, Edge{File: p, Soname: root.interp})
		} else {
			if o.node != outputNode {
				r.edges = append(r.edges, Edge{File: p, Soname: root.interp, Path: lp, NodeID: o.node})
			}
			// libc names the interpreter by its soname in DT_NEEDED; ld.so
			// matches that to itself.
			if ip, ok := r.object(lp, o); ok && ip.soname != "" {
				have[ip.soname] = true
			}
		}
	}
	resolved, ok := r.ix.walk(p)
	if !ok {
		resolved = p
	}
	seenFile := map[string]bool{outputNode + "\x00" + resolved: true}
	queue := [][]loaded{{{obj: root, origin: dirOf(resolved)}}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		for _, name := range chain[len(chain)-1].obj.needed {
			if have[name] {
				continue
			}
			have[name] = true
			lp, o, obj, origin, ok := r.find(name, chain)
			if !ok {
				r.missing = append(r.missing, Edge{File: p, Soname: name})
				continue
			}
			if obj.soname != "" {
				have[obj.soname] = true
			}
			if o.node != outputNode {
				r.edges = append(r.edges, Edge{File: p, Soname: name, Path: lp, NodeID: o.node})
			}
			if key := o.node + "\x00" + lp; !seenFile[key] {
				seenFile[key] = true
				next := append(slices.Clip(chain), loaded{obj: obj, origin: origin})
				queue = append(queue, next)
			}
		}
	}
}

// find searches for a DT_NEEDED name of chain's last object and returns the
// regular file found, its owner, its parsed ELF and the folder it was found
// in ($ORIGIN for what it needs). Candidates that are not ELF of the output
// file's class and machine are passed over.
func (r *resolver) find(name string, chain []loaded) (string, owned, *object, string, bool) {
	var cands []string
	if isPath(name) {
		// A name with a slash is opened as it is; a relative one from the
		// working folder, which is the root in an image without WorkingDir.
		cands = []string{strings.TrimLeft(name, "/")}
	} else {
		for _, d := range searchDirs(chain) {
			cands = append(cands, candidate(d, name))
		}
	}
	root := chain[0].obj
	for _, c := range cands {
		lp, o, ok := r.ix.file(c)
		if !ok {
			continue
		}
		obj, ok := r.object(lp, o)
		if !ok || !root.compatible(obj) {
			continue
		}
		return lp, o, obj, dirOf(c), true
	}
	return "", owned{}, nil, "", false
}

func sortEdges(es []Edge) []Edge {
	slices.SortFunc(es, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Soname, b.Soname),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.NodeID, b.NodeID))
	})
	return slices.Compact(es)
}
