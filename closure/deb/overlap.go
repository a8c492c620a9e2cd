package deb

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
)

// checkOverlaps refuses a closure in which two packages ship the same path
// (after the merged-/usr rewrite) with different content or metadata: the
// image would silently hold whichever layer comes last. Folders may be
// shared; identical files and links are fine.
func checkOverlaps(pkgs []*debfile.Package) error {
	type owner struct {
		pkg *debfile.Package
		e   closure.Entry
	}
	seen := map[string]owner{}
	for _, p := range pkgs {
		for _, e := range p.Entries {
			if e.Type == closure.Dir {
				continue
			}
			prev, ok := seen[e.Path]
			if !ok {
				seen[e.Path] = owner{p, e}
				continue
			}
			same, err := sameEntry(prev.e, e)
			if err != nil {
				return fmt.Errorf("comparing /%s of %s and %s: %w", e.Path, prev.pkg.Name, p.Name, err)
			}
			if !same {
				return fmt.Errorf("packages %s and %s both ship /%s with different content: keep one of them with debian.exclude", prev.pkg.Name, p.Name, e.Path)
			}
		}
	}
	return nil
}

func sameEntry(a, b closure.Entry) (bool, error) {
	if a.Type != b.Type || a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID || a.Link != b.Link || a.Size != b.Size {
		return false, nil
	}
	if a.Type != closure.Regular {
		return true, nil
	}
	ha, err := contentHash(a)
	if err != nil {
		return false, err
	}
	hb, err := contentHash(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ha, hb), nil
}

func contentHash(e closure.Entry) ([]byte, error) {
	r, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
