package nix

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imagefs"
	"github.com/stratabuild/strata/internal/purl"
)

// MetaPURL is the node Meta key of a store path's package URL.
const MetaPURL = "purl"

// PURL is a store path's package URL, pkg:nix/NAME@VERSION?outputhash=HASH
// with HASH the store path's hash part ("nix" is not a registered purl
// type yet; this is the form syft writes).
func PURL(storePath string) string {
	name, version := ParseName(storePath)
	var hash string
	if base := storePath[strings.LastIndex(storePath, "/")+1:]; checkStorePath("/nix/store/"+base) == nil {
		hash = base[:storeHashLen]
	}
	return purl.New("nix", "", name, version, purl.Qualifier{Key: "outputhash", Value: hash})
}

const imageStoreDir = "nix/store/"

// FromImage recovers the Nix store paths an image holds: every
// /nix/store/HASH-NAME-VERSION folder of the final filesystem becomes a
// KindNix node whose size is its files' bytes and whose dependencies are
// the other store paths whose hash part appears in its files or symlink
// targets (Nix's own reference scan). Nodes come in ID order.
func FromImage(fs *imagefs.FS) ([]*closure.Node, error) {
	tops := map[string]string{} // hash part -> HASH-NAME
	sizes := map[string]int64{}
	for p, e := range fs.Entries {
		if top := storeTop(p); top != "" {
			tops[top[:storeHashLen]] = top
			sizes[top] += e.Size
		}
	}
	if len(tops) == 0 {
		return nil, nil
	}
	refs := map[string]map[string]bool{}
	add := func(top string, hs map[string]bool) {
		if refs[top] == nil {
			refs[top] = map[string]bool{}
		}
		for h := range hs {
			refs[top][h] = true
		}
	}
	err := fs.Files(func(p string) bool { return storeTop(p) != "" }, func(p string, r io.Reader) error {
		hs, err := scanHashes(r, tops)
		if err != nil {
			return fmt.Errorf("scanning %s: %w", p, err)
		}
		add(storeTop(p), hs)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the Nix store paths: %w", err)
	}
	// Symlink targets are references too (Nix scans them as well).
	for p, e := range fs.Entries {
		top := storeTop(p)
		if top == "" || e.Type != imagefs.TypeSymlink {
			continue
		}
		hs, err := scanHashes(strings.NewReader(e.Link), tops)
		if err != nil {
			return nil, err
		}
		add(top, hs)
	}
	out := make([]*closure.Node, 0, len(sizes))
	for t := range sizes {
		sp := "/" + imageStoreDir + t
		name, version := ParseName(sp)
		n := &closure.Node{
			ID: "nix:" + sp, Kind: closure.KindNix,
			Name: name, Version: version, Size: sizes[t],
			Meta: map[string]string{"storePath": sp, MetaPURL: PURL(sp)},
		}
		for h := range refs[t] {
			if other := tops[h]; other != "" && other != t {
				n.Deps = append(n.Deps, "nix:/"+imageStoreDir+other)
			}
		}
		sort.Strings(n.Deps)
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// storeTop returns "HASH-NAME" for a path under nix/store, else "".
func storeTop(p string) string {
	rest, ok := strings.CutPrefix(p, imageStoreDir)
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	if checkStorePath("/"+imageStoreDir+top) != nil {
		return ""
	}
	return top
}

// scanHashes reports which of the known store hash parts occur in r: the
// hash part of a store path is 32 characters of Nix's base32 alphabet.
// It reads r in chunks, carrying the tail of a run of alphabet characters
// from one chunk to the next so no window is missed or checked twice.
func scanHashes(r io.Reader, known map[string]string) (map[string]bool, error) {
	var in [256]bool
	for i := 0; i < len(base32Alphabet); i++ {
		in[base32Alphabet[i]] = true
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
			if i-runStart+1 >= storeHashLen {
				if _, ok := known[string(data[i-storeHashLen+1:i+1])]; ok {
					found[string(data[i-storeHashLen+1:i+1])] = true
				}
			}
		}
		// Keep the last (at most 31) characters of a run that reaches
		// the end of the chunk.
		tail := len(data) - runStart
		if tail > storeHashLen-1 {
			tail = storeHashLen - 1
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
