package sbom

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imagefs"
)

const (
	statusDir = "var/lib/dpkg/status.d/"
	docDir    = "usr/share/doc/"
	storeDir  = "nix/store/"
)

// FromImage rebuilds a closure graph from what an image holds, so an SBOM
// can be written for any image strata (or distroless-style tooling) built:
//
//   - every /var/lib/dpkg/status.d/NAME control paragraph becomes a KindDeb
//     node (Package, Version, Architecture, Maintainer, Source, Installed-Size;
//     Depends and Pre-Depends resolved against the packages present, first
//     alternative present wins, Provides honoured), with Meta["license"]
//     from /usr/share/doc/NAME/copyright when it is machine-readable;
//   - every /nix/store/HASH-NAME-VERSION folder becomes a KindNix node whose
//     size is its files' bytes and whose dependencies are the other store
//     paths whose hash part appears in its files or symlink targets (Nix's
//     own reference scan).
//
// Roots are the nodes nothing else depends on. Whiteouts are applied: only
// what the final filesystem holds counts.
func FromImage(img v1.Image) (*closure.Graph, error) {
	ifs, err := imagefs.Flatten(img, false)
	if err != nil {
		return nil, fmt.Errorf("reading the image's files: %w", err)
	}
	final := ifs.Entries
	storeHashes := map[string]string{} // hash part -> top folder
	for p, e := range final {
		if top := storeTop(p); top != "" && e.Type != imagefs.TypeWhiteout {
			storeHashes[top[:32]] = top
		}
	}
	status := map[string]string{}    // status.d path -> text (last layer wins)
	copyright := map[string]string{} // package name -> copyright text
	refs := map[string]map[string]bool{}
	fileRefs := map[string]map[string]bool{} // file path -> hashes seen (last layer wins)
	{
		err := ifs.Files(func(p string) bool {
			return strings.HasPrefix(p, statusDir) || isCopyright(p) || (len(storeHashes) > 0 && storeTop(p) != "")
		}, func(p string, r io.Reader) error {
			switch {
			case strings.HasPrefix(p, statusDir), isCopyright(p):
				b, err := io.ReadAll(io.LimitReader(r, 4<<20))
				if err != nil {
					return fmt.Errorf("reading %s: %w", p, err)
				}
				if strings.HasPrefix(p, statusDir) {
					status[p] = string(b)
				} else {
					copyright[strings.TrimSuffix(strings.TrimPrefix(p, docDir), "/copyright")] = string(b)
				}
			default:
				hs, err := scanHashes(r, storeHashes)
				if err != nil {
					return fmt.Errorf("scanning %s: %w", p, err)
				}
				fileRefs[p] = hs
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	g := closure.New()

	// Debian packages.
	type debPkg struct {
		node     *closure.Node
		depends  string
		provides []string
	}
	var debs []*debPkg
	for _, p := range sortedKeys(status) {
		if _, ok := final[p]; !ok {
			continue
		}
		name := strings.TrimPrefix(p, statusDir)
		if strings.Contains(name, "/") || strings.Contains(name, ".md5sums") {
			continue
		}
		for _, para := range paragraphs(status[p]) {
			pkg := para["package"]
			if pkg == "" {
				continue
			}
			arch := para["architecture"]
			n := &closure.Node{
				ID:      "deb:" + pkg + ":" + arch,
				Kind:    closure.KindDeb,
				Name:    pkg,
				Version: para["version"],
				Arch:    arch,
				Meta:    map[string]string{},
			}
			if m := para["maintainer"]; m != "" {
				n.Meta["maintainer"] = m
			}
			if src, _, _ := strings.Cut(strings.TrimSpace(para["source"]), " "); src != "" {
				n.Meta["source"] = src
			}
			if kb, err := strconv.ParseInt(strings.TrimSpace(para["installed-size"]), 10, 64); err == nil {
				n.Size = kb * 1024
			}
			if c, ok := copyright[pkg]; ok {
				if _, still := final[docDir+pkg+"/copyright"]; still {
					if ls := DebianLicenses(c); len(ls) > 0 {
						n.Meta["license"] = strings.Join(ls, ", ")
					}
				}
			}
			if _, dup := g.Nodes[n.ID]; dup {
				continue
			}
			if err := g.Add(n); err != nil {
				return nil, err
			}
			deps := para["depends"]
			if pd := para["pre-depends"]; pd != "" {
				deps = pd + ", " + deps
			}
			debs = append(debs, &debPkg{node: n, depends: deps, provides: depNames(para["provides"])})
		}
	}
	byName := map[string][]*closure.Node{}
	for _, d := range debs {
		byName[d.node.Name] = append(byName[d.node.Name], d.node)
	}
	for _, d := range debs {
		for _, pv := range d.provides {
			byName[pv] = append(byName[pv], d.node)
		}
	}
	for _, d := range debs {
		seen := map[string]bool{}
		for _, group := range strings.Split(d.depends, ",") {
			for _, alt := range strings.Split(group, "|") {
				nm := depName(alt)
				if nm == "" {
					continue
				}
				cands := byName[nm]
				if len(cands) == 0 {
					continue
				}
				target := pickArch(cands, d.node.Arch)
				if target.ID != d.node.ID && !seen[target.ID] {
					seen[target.ID] = true
					d.node.Deps = append(d.node.Deps, target.ID)
				}
				break
			}
		}
		sort.Strings(d.node.Deps)
	}

	// Nix store paths.
	sizes := map[string]int64{}
	for p, e := range final {
		if top := storeTop(p); top != "" {
			sizes[top] += e.Size
		}
	}
	for p, hs := range fileRefs {
		if _, ok := final[p]; !ok {
			continue
		}
		top := storeTop(p)
		if refs[top] == nil {
			refs[top] = map[string]bool{}
		}
		for h := range hs {
			refs[top][h] = true
		}
	}
	// Symlink targets are references too (Nix scans them as well).
	for p, e := range final {
		top := storeTop(p)
		if top == "" || e.Type != imagefs.TypeSymlink {
			continue
		}
		hs, err := scanHashes(strings.NewReader(e.Link), storeHashes)
		if err != nil {
			return nil, err
		}
		if refs[top] == nil {
			refs[top] = map[string]bool{}
		}
		for h := range hs {
			refs[top][h] = true
		}
	}
	tops := make([]string, 0, len(sizes))
	for t := range sizes {
		tops = append(tops, t)
	}
	sort.Strings(tops)
	for _, t := range tops {
		name, version := splitStoreName(t[33:])
		n := &closure.Node{
			ID:      "nix:/" + storeDir + t,
			Kind:    closure.KindNix,
			Name:    name,
			Version: version,
			Size:    sizes[t],
			Meta:    map[string]string{"storePath": "/" + storeDir + t},
		}
		for h := range refs[t] {
			if other := storeHashes[h]; other != "" && other != t {
				n.Deps = append(n.Deps, "nix:/"+storeDir+other)
			}
		}
		sort.Strings(n.Deps)
		if err := g.Add(n); err != nil {
			return nil, err
		}
	}

	// Roots: nodes no other node depends on.
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, d := range n.Deps {
			used[d] = true
		}
	}
	for _, id := range g.IDs() {
		if !used[id] {
			g.Roots = append(g.Roots, id)
		}
	}
	// A dependency cycle nothing else points to (libc6 and libgcc-s1 on
	// their own) has no such node: make its first node (by ID) a root, so
	// every node is reachable from the roots.
	for {
		seen := reachable(g)
		var orphan string
		for _, id := range g.IDs() {
			if !seen[id] {
				orphan = id
				break
			}
		}
		if orphan == "" {
			break
		}
		g.Roots = append(g.Roots, orphan)
	}
	sort.Strings(g.Roots)
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("rebuilding the closure: %w", err)
	}
	return g, nil
}

func reachable(g *closure.Graph) map[string]bool {
	seen := map[string]bool{}
	stack := append([]string(nil), g.Roots...)
	for _, r := range stack {
		seen[r] = true
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range g.Nodes[id].Deps {
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return seen
}

func isCopyright(p string) bool {
	return strings.HasPrefix(p, docDir) && strings.HasSuffix(p, "/copyright") && strings.Count(p, "/") == 4
}

// storeTop returns "HASH-NAME" for a path under nix/store, else "".
func storeTop(p string) string {
	if !strings.HasPrefix(p, storeDir) {
		return ""
	}
	top, _, _ := strings.Cut(strings.TrimPrefix(p, storeDir), "/")
	if len(top) < 34 || top[32] != '-' {
		return ""
	}
	for i := 0; i < 32; i++ {
		if strings.IndexByte(nixAlphabet, top[i]) < 0 {
			return ""
		}
	}
	return top
}

// splitStoreName splits "hello-2.12.1" into name and version: the version
// starts at the first "-" followed by a digit (Nix's own rule).
func splitStoreName(s string) (name, version string) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && s[i+1] >= '0' && s[i+1] <= '9' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func depName(alt string) string {
	alt = strings.TrimSpace(alt)
	if i := strings.IndexAny(alt, " (["); i >= 0 {
		alt = alt[:i]
	}
	alt, _, _ = strings.Cut(alt, ":")
	return strings.TrimSpace(alt)
}

func depNames(list string) []string {
	var out []string
	for _, x := range strings.Split(list, ",") {
		if n := depName(x); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func pickArch(cands []*closure.Node, arch string) *closure.Node {
	best := cands[0]
	for _, c := range cands {
		if c.Arch == arch {
			return c
		}
		if c.Arch == "all" {
			best = c
		}
	}
	return best
}

// scanHashes reports which of the known store hash parts occur in r: the
// hash part of a store path is 32 characters of Nix's base32 alphabet.
// It reads r in chunks, carrying the tail of a run of alphabet characters
// from one chunk to the next so no window is missed or checked twice.
func scanHashes(r io.Reader, known map[string]string) (map[string]bool, error) {
	var in [256]bool
	for i := 0; i < len(nixAlphabet); i++ {
		in[nixAlphabet[i]] = true
	}
	found := map[string]bool{}
	buf := make([]byte, 64<<10)
	carry := 0
	for {
		n, err := r.Read(buf[carry:])
		data := buf[:carry+n]
		runStart := 0
		for i := carry; i < len(data); i++ {
			if !in[data[i]] {
				runStart = i + 1
				continue
			}
			if i-runStart+1 >= 32 {
				if _, ok := known[string(data[i-31:i+1])]; ok {
					found[string(data[i-31:i+1])] = true
				}
			}
		}
		// Keep the last (at most 31) characters of a run that reaches
		// the end of the chunk.
		tail := len(data) - runStart
		if tail > 31 {
			tail = 31
		}
		copy(buf, data[len(data)-tail:])
		carry = tail
		if err == io.EOF {
			return found, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
