package elfdeps

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// maxSymlinks bounds the symlinks followed in one lookup (Linux's limit).
const maxSymlinks = 40

// outputNode is the owner recorded for the output's own entries.
const outputNode = ""

// owned is an entry with the node that ships it (outputNode for the output).
type owned struct {
	node  string
	entry closure.Entry
}

// index maps image paths to the entries that ship them: the output's first,
// then the build closure's nodes in ID order, so owners[0] is what the
// image shows at that path.
type index struct {
	paths map[string][]owned
}

func newIndex(ctx context.Context, out []closure.Entry, g *closure.Graph) (*index, error) {
	ix := &index{paths: map[string][]owned{}}
	for _, e := range out {
		ix.add(outputNode, e)
	}
	if g == nil {
		return ix, nil
	}
	for _, id := range g.IDs() {
		n := g.Nodes[id]
		if n.Contents == nil {
			continue
		}
		es, err := n.Contents.Entries(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the files of build-closure node %s to find runtime libraries: %w", id, err)
		}
		for _, e := range es {
			ix.add(id, e)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func (ix *index) add(node string, e closure.Entry) {
	p := cleanRel(e.Path)
	if p == "" {
		return
	}
	ix.paths[p] = append(ix.paths[p], owned{node: node, entry: e})
}

// cleanRel drops a leading "/" or "./" and trailing slashes; entries are
// clean already, this only guards the index against a sloppy producer.
func cleanRel(p string) string {
	p = strings.TrimLeft(p, "/")
	for strings.HasPrefix(p, "./") {
		p = strings.TrimLeft(p[2:], "/")
	}
	return strings.TrimRight(p, "/")
}

// walk resolves p (relative to the image root, or absolute) the way the
// kernel does: component by component, expanding every symlink met, with
// ".." taken after expansion. It returns the resolved path and whether every
// symlink could be followed; the final path may not exist.
func (ix *index) walk(p string) (string, bool) {
	todo := strings.Split(p, "/")
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		next := strings.Join(append(done, c), "/")
		if o, ok := ix.first(next); ok && o.entry.Type == closure.Symlink {
			links++
			if links > maxSymlinks {
				return "", false
			}
			target := o.entry.Link
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		done = append(done, c)
	}
	return strings.Join(done, "/"), true
}

func (ix *index) first(p string) (owned, bool) {
	list := ix.paths[p]
	if len(list) == 0 {
		return owned{}, false
	}
	return list[0], true
}

// file resolves p to the regular file the image has there: symlinks on the
// way are followed, a hardlink gives the file it links to in the same node.
// The path returned is the regular file's own.
func (ix *index) file(p string) (string, owned, bool) {
	rp, ok := ix.walk(p)
	if !ok || rp == "" {
		return "", owned{}, false
	}
	o, ok := ix.first(rp)
	if !ok {
		return "", owned{}, false
	}
	switch o.entry.Type {
	case closure.Regular:
		return rp, o, true
	case closure.Hardlink:
		t := cleanRel(o.entry.Link)
		for _, c := range ix.paths[t] {
			if c.node == o.node && c.entry.Type == closure.Regular {
				return t, c, true
			}
		}
	}
	return "", owned{}, false
}
