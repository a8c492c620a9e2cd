package nix

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// PathInfo is what Nix records about one valid store path.
type PathInfo struct {
	Path string
	// NarHash is the sha256 of the path's NAR serialization; HasHash says
	// whether it is known (an exportReferencesGraph file does not carry it).
	NarHash Hash
	HasHash bool
	NarSize int64
	// References are the store paths this one refers to, possibly itself.
	References []string
	// Deriver is the .drv that built the path, "" when unknown.
	Deriver string
}

// pathInfoJSON is one element of `nix path-info --json` output. Nix 2.8
// prints a list of these; later versions print an object keyed by path.
type pathInfoJSON struct {
	Path       string   `json:"path"`
	NarHash    string   `json:"narHash"`
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
	Deriver    string   `json:"deriver"`
	Valid      *bool    `json:"valid"`
}

// parsePathInfoJSON reads `nix path-info --json` output in its list form
// (Nix 2.8 to 2.18) or its object form (later versions).
func parsePathInfoJSON(b []byte) ([]PathInfo, error) {
	var list []pathInfoJSON
	if err := json.Unmarshal(b, &list); err != nil {
		var obj map[string]*pathInfoJSON
		if err2 := json.Unmarshal(b, &obj); err2 != nil {
			return nil, fmt.Errorf("reading nix path-info JSON: %w", err)
		}
		for p, v := range obj {
			if v == nil {
				return nil, fmt.Errorf("reading nix path-info JSON: %s is not a valid store path (build or fetch it first)", p)
			}
			v.Path = p
			list = append(list, *v)
		}
	}
	infos := make([]PathInfo, 0, len(list))
	for _, j := range list {
		if j.Valid != nil && !*j.Valid {
			return nil, fmt.Errorf("%s is not a valid store path: build or fetch it first (nix-store --realise %s)", j.Path, j.Path)
		}
		if err := checkStorePath(j.Path); err != nil {
			return nil, fmt.Errorf("reading nix path-info JSON: %w", err)
		}
		h, err := ParseHash(j.NarHash)
		if err != nil {
			return nil, fmt.Errorf("reading nix path-info JSON for %s: %w", j.Path, err)
		}
		refs := append([]string(nil), j.References...)
		for i, r := range refs {
			// Later Nix versions print references as base names.
			if !strings.HasPrefix(r, "/") {
				refs[i] = j.Path[:strings.LastIndexByte(j.Path, '/')+1] + r
			}
			if err := checkStorePath(refs[i]); err != nil {
				return nil, fmt.Errorf("reading nix path-info JSON: a reference of %s: %w", j.Path, err)
			}
		}
		sort.Strings(refs)
		infos = append(infos, PathInfo{Path: j.Path, NarHash: h, HasHash: true, NarSize: j.NarSize, References: refs, Deriver: j.Deriver})
	}
	sortInfos(infos)
	return infos, nil
}

func sortInfos(infos []PathInfo) {
	sort.Slice(infos, func(i, j int) bool { return infos[i].Path < infos[j].Path })
}

// ParseRegistration reads a closure file. It accepts the three forms Nix
// and nixpkgs produce, all sequences of blocks of lines:
//
//   - exportReferencesGraph and `nix-store --register-validity` input:
//     path, deriver (may be empty), reference count, references;
//   - closureInfo's registration file, `nix-store --dump-db` output and
//     `nix-store --load-db` input (the --hash-given form): path, narHash,
//     narSize, deriver, reference count, references.
//
// The form is told per block by the line after the path: a hash has no
// leading slash and is not empty.
func ParseRegistration(r io.Reader) ([]PathInfo, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	seen := map[string]bool{}
	var infos []PathInfo
	for {
		p, ok := next()
		if !ok {
			break
		}
		if p == "" {
			// Tolerate blank lines between blocks and at the end.
			continue
		}
		bad := func(what string) error {
			return fmt.Errorf("closure file line %d: %s in the block of %s (want path, [narHash, narSize,] deriver, reference count, references)", line, what, p)
		}
		if err := checkStorePath(p); err != nil {
			return nil, fmt.Errorf("closure file line %d: %w", line, err)
		}
		info := PathInfo{Path: p}
		second, ok := next()
		if !ok {
			return nil, bad("unexpected end of file")
		}
		deriver := second
		if second != "" && !strings.HasPrefix(second, "/") {
			h, err := ParseHash(second)
			if err != nil {
				return nil, bad(err.Error())
			}
			info.NarHash, info.HasHash = h, true
			sz, ok := next()
			if !ok {
				return nil, bad("unexpected end of file")
			}
			n, err := strconv.ParseInt(sz, 10, 64)
			if err != nil || n < 0 {
				return nil, bad(fmt.Sprintf("narSize %q is not a number", sz))
			}
			info.NarSize = n
			if deriver, ok = next(); !ok {
				return nil, bad("unexpected end of file")
			}
		}
		info.Deriver = deriver
		cnt, ok := next()
		if !ok {
			return nil, bad("unexpected end of file")
		}
		n, err := strconv.Atoi(cnt)
		if err != nil || n < 0 {
			return nil, bad(fmt.Sprintf("reference count %q is not a number", cnt))
		}
		for i := 0; i < n; i++ {
			ref, ok := next()
			if !ok {
				return nil, bad("unexpected end of file")
			}
			if err := checkStorePath(ref); err != nil {
				return nil, bad(err.Error())
			}
			info.References = append(info.References, ref)
		}
		sort.Strings(info.References)
		if seen[p] {
			return nil, bad("the path appears twice")
		}
		seen[p] = true
		infos = append(infos, info)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading closure file: %w", err)
	}
	sortInfos(infos)
	return infos, nil
}

// FormatRegistration renders infos in `nix-store --load-db` form (the
// --hash-given registration form: path, narHash in hex, narSize, deriver,
// reference count, references), as `nix-store --dump-db` prints it. Every
// info must have its hash.
func FormatRegistration(infos []PathInfo) ([]byte, error) {
	var b bytes.Buffer
	for _, in := range infos {
		if !in.HasHash {
			return nil, fmt.Errorf("registering %s: its narHash is unknown", in.Path)
		}
		fmt.Fprintf(&b, "%s\n%s\n%d\n%s\n%d\n", in.Path, hex.EncodeToString(in.NarHash[:]), in.NarSize, in.Deriver, len(in.References))
		for _, r := range in.References {
			b.WriteString(r + "\n")
		}
	}
	return b.Bytes(), nil
}
