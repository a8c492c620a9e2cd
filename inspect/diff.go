package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DiffReport compares two images. Identical is true when the two have the
// same layers, the same final filesystem and the same config.
type DiffReport struct {
	Identical bool   `json:"identical"`
	A         string `json:"a"`
	B         string `json:"b"`
	// Layers by diffID: in both, only in B (added), only in A (removed).
	SharedLayers  []string `json:"sharedLayers"`
	AddedLayers   []string `json:"addedLayers"`
	RemovedLayers []string `json:"removedLayers"`
	// Files are the paths whose final state differs, sorted by path.
	Files []FileChange `json:"files"`
	// Config lists config fields (dotted JSON paths) that differ.
	Config []ConfigChange `json:"config"`
}

// Change kinds.
const (
	Added    = "added"
	Removed  = "removed"
	Modified = "modified"
)

// FileChange is one path that differs between the two final filesystems.
type FileChange struct {
	Path   string     `json:"path"`
	Change string     `json:"change"`
	A      *FileEntry `json:"a,omitempty"`
	B      *FileEntry `json:"b,omitempty"`
	// Fields names what differs for a modified path: type, mode, owner,
	// size, content, link.
	Fields []string `json:"fields,omitempty"`
}

// ConfigChange is one config field that differs; A or B is absent when the
// field is missing on that side.
type ConfigChange struct {
	Field string          `json:"field"`
	A     json.RawMessage `json:"a,omitempty"`
	B     json.RawMessage `json:"b,omitempty"`
}

// Diff compares a and b (manifest digests name them in the report).
func Diff(a, b v1.Image) (*DiffReport, error) {
	rep := &DiffReport{SharedLayers: []string{}, AddedLayers: []string{}, RemovedLayers: []string{}, Files: []FileChange{}, Config: []ConfigChange{}}
	da, err := a.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting the first image: %w", err)
	}
	db, err := b.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting the second image: %w", err)
	}
	rep.A, rep.B = da.String(), db.String()

	ia, err := diffIDs(a)
	if err != nil {
		return nil, fmt.Errorf("reading the first image: %w", err)
	}
	ib, err := diffIDs(b)
	if err != nil {
		return nil, fmt.Errorf("reading the second image: %w", err)
	}
	inA, inB := set(ia), set(ib)
	for _, d := range ia {
		if inB[d] {
			rep.SharedLayers = append(rep.SharedLayers, d)
		} else {
			rep.RemovedLayers = append(rep.RemovedLayers, d)
		}
	}
	for _, d := range ib {
		if !inA[d] {
			rep.AddedLayers = append(rep.AddedLayers, d)
		}
	}

	fa, err := merge(a, true)
	if err != nil {
		return nil, fmt.Errorf("reading the first image's files: %w", err)
	}
	fb, err := merge(b, true)
	if err != nil {
		return nil, fmt.Errorf("reading the second image's files: %w", err)
	}
	rep.Files = diffFiles(fa, fb)

	ca, err := a.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the first image's config: %w", err)
	}
	cb, err := b.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the second image's config: %w", err)
	}
	rep.Config, err = diffConfig(ca, cb)
	if err != nil {
		return nil, err
	}
	rep.Identical = rep.A == rep.B || (len(rep.AddedLayers) == 0 && len(rep.RemovedLayers) == 0 &&
		len(ia) == len(ib) && len(rep.Files) == 0 && len(rep.Config) == 0)
	return rep, nil
}

func diffIDs(img v1.Image) ([]string, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(layers))
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		out[i] = d.String()
	}
	return out, nil
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func diffFiles(fa, fb map[string]FileEntry) []FileChange {
	all := map[string]bool{}
	for p := range fa {
		all[p] = true
	}
	for p := range fb {
		all[p] = true
	}
	out := []FileChange{}
	for _, p := range sortedPaths(all) {
		ea, okA := fa[p]
		eb, okB := fb[p]
		switch {
		case okA && !okB:
			out = append(out, FileChange{Path: "/" + p, Change: Removed, A: &ea})
		case !okA && okB:
			out = append(out, FileChange{Path: "/" + p, Change: Added, B: &eb})
		default:
			if f := entryDiff(ea, eb); len(f) > 0 {
				out = append(out, FileChange{Path: "/" + p, Change: Modified, A: &ea, B: &eb, Fields: f})
			}
		}
	}
	return out
}

func entryDiff(a, b FileEntry) []string {
	var f []string
	if a.Type != b.Type {
		f = append(f, "type")
	}
	if a.Mode != b.Mode {
		f = append(f, "mode")
	}
	if a.UID != b.UID || a.GID != b.GID {
		f = append(f, "owner")
	}
	if a.Size != b.Size {
		f = append(f, "size")
	}
	if a.SHA256 != b.SHA256 {
		f = append(f, "content")
	}
	if a.Link != b.Link {
		f = append(f, "link")
	}
	return f
}

// diffConfig flattens both JSON objects to dotted paths (arrays are
// compared whole) and lists the paths whose values differ.
func diffConfig(a, b []byte) ([]ConfigChange, error) {
	fa, fb := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	if err := flatten(a, "", fa); err != nil {
		return nil, fmt.Errorf("parsing the first image's config: %w", err)
	}
	if err := flatten(b, "", fb); err != nil {
		return nil, fmt.Errorf("parsing the second image's config: %w", err)
	}
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	out := []ConfigChange{}
	for _, k := range sortedPaths(keys) {
		va, vb := fa[k], fb[k]
		if !bytes.Equal(va, vb) {
			out = append(out, ConfigChange{Field: k, A: va, B: vb})
		}
	}
	return out, nil
}

func flatten(raw []byte, prefix string, out map[string]json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		// Not an object: a leaf, in compact canonical form.
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if v == nil {
			return nil // null equals absent
		}
		c, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out[prefix] = c
		return nil
	}
	for k, v := range obj {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if err := flatten(v, key, out); err != nil {
			return err
		}
	}
	return nil
}

// Text writes the report for people.
func (r *DiffReport) Text(w io.Writer) error {
	if r.Identical {
		_, err := fmt.Fprintf(w, "identical: %s\n", r.A)
		return err
	}
	fmt.Fprintf(w, "A: %s\nB: %s\n", r.A, r.B)
	fmt.Fprintf(w, "layers: %d shared, %d added, %d removed\n", len(r.SharedLayers), len(r.AddedLayers), len(r.RemovedLayers))
	for _, d := range r.RemovedLayers {
		fmt.Fprintf(w, "  - %s\n", d)
	}
	for _, d := range r.AddedLayers {
		fmt.Fprintf(w, "  + %s\n", d)
	}
	if len(r.Files) > 0 {
		fmt.Fprintf(w, "files: %d changed\n", len(r.Files))
		for _, f := range r.Files {
			switch f.Change {
			case Added:
				fmt.Fprintf(w, "  + %s (%s, %s)\n", f.Path, f.B.Type, HumanSize(f.B.Size))
			case Removed:
				fmt.Fprintf(w, "  - %s (%s, %s)\n", f.Path, f.A.Type, HumanSize(f.A.Size))
			default:
				fmt.Fprintf(w, "  ~ %s (%v)\n", f.Path, f.Fields)
			}
		}
	}
	if len(r.Config) > 0 {
		fmt.Fprintf(w, "config: %d fields differ\n", len(r.Config))
		for _, c := range r.Config {
			fmt.Fprintf(w, "  ~ %s: %s -> %s\n", c.Field, orAbsent(c.A), orAbsent(c.B))
		}
	}
	return nil
}

func orAbsent(b json.RawMessage) string {
	if len(b) == 0 {
		return "(absent)"
	}
	return string(b)
}
