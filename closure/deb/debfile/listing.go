package debfile

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
)

// ListingKind is the cache tree kind of package listings: what a build
// needs of a package whose layer is already cached, without its files.
const ListingKind = "deb-listing"

// listingVersion changes whenever what a listing holds changes.
const listingVersion = "-l1"

// Listing returns the package of the .deb sha256 from its listing, a small
// cache tree (deb-listing/SHA256-v1-l1) holding the unpacked entry's
// manifest and control files and only the files inline names: the bytes a
// build reads while resolving (copyright files for licences, CA
// certificates for the bundle). It is the Package Unpack gives (same
// fields, entries and order, so the same contents key); reading any other
// file first calls full (fetch and unpack the .deb), once. A missing
// listing is made from full.
func Listing(ctx context.Context, st cache.Trees, sha256 string, inline func(closure.Entry) bool, full func() (*Package, error)) (*Package, error) {
	if !hexSHA256.MatchString(sha256) {
		return nil, fmt.Errorf("listing %s: sha256 %q is not 64 lowercase hex digits", sha256, sha256)
	}
	var once sync.Once
	var fullPkg *Package
	var fullErr error
	getFull := func() (*Package, error) {
		once.Do(func() { fullPkg, fullErr = full() })
		return fullPkg, fullErr
	}
	dir, err := st.PutDir(ListingKind, sha256+cacheVersion+listingVersion, func(tmp string) error {
		p, err := getFull()
		if err != nil {
			return err
		}
		return writeListing(p, inline, tmp)
	})
	if err != nil {
		return nil, err
	}
	p, err := load(dir, sha256)
	if err != nil {
		return nil, fmt.Errorf("reading the listing of %s: %w (delete %s and run again)", sha256, err, dir)
	}
	for i, e := range p.Entries {
		if e.Type != closure.Regular || inline(e) {
			continue
		}
		rel, size := e.Path, e.Size
		p.Entries[i].Open = func() (io.ReadCloser, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fp, err := getFull()
			if err != nil {
				return nil, err
			}
			return opener(fp.Dir, rel, size)()
		}
	}
	return p, nil
}

// writeListing copies p's manifest and control files and its inline files
// into dir.
func writeListing(p *Package, inline func(closure.Entry) bool, dir string) error {
	src := filepath.Dir(p.Dir)
	if err := copyFile(filepath.Join(src, manifestName), filepath.Join(dir, manifestName)); err != nil {
		return err
	}
	ctl := filepath.Join(src, controlDirNam)
	ents, err := os.ReadDir(ctl)
	if err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, controlDirNam), 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := copyFile(filepath.Join(ctl, e.Name()), filepath.Join(dir, controlDirNam, e.Name())); err != nil {
				return err
			}
		}
	}
	root := filepath.Join(dir, rootDirName)
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	for _, e := range p.Entries {
		if e.Type != closure.Regular || !inline(e) {
			continue
		}
		dst := filepath.Join(root, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		rc, err := e.Open()
		if err != nil {
			return err
		}
		err = writeFrom(rc, dst)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFrom(f, to)
}

func writeFrom(r io.Reader, to string) error {
	w, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
