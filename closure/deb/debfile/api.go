package debfile

import (
	"context"
	"errors"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/store"
)

// Package is one unpacked .deb.
type Package struct {
	Name, Version, Arch string
	// Fields is the control paragraph, by field name.
	Fields map[string]string
	// Control is the raw control file.
	Control string
	// MD5Sums is the raw md5sums file ("" when the package has none).
	MD5Sums string
	// Conffiles is the raw conffiles file ("" when the package has none).
	Conffiles string
	// Scripts names the maintainer scripts the package carries (preinst,
	// postinst, ...); strata never runs them.
	Scripts []string
	// SHA256 is the hex sha256 of the .deb.
	SHA256 string
	// Dir is the unpacked root inside the store entry.
	Dir string
	// Entries are the package's filesystem entries, paths rewritten for
	// merged /usr, in archive order.
	Entries        []closure.Entry
	InstalledBytes int64
}

// Unpack extracts the .deb at debPath (already verified to have this
// sha256) into a store entry (deb-unpacked/SHA256-v1): cached and atomic. A
// second call finds the entry and only loads it.
func Unpack(ctx context.Context, st *store.Store, debPath, sha256 string) (*Package, error) {
	return nil, errors.New("debfile.Unpack: not implemented yet")
}

// Contents returns the package's entries as closure.Contents; the key is
// "deb:SHA256:usrmerge-v1".
func (p *Package) Contents() closure.Contents {
	return closure.StaticContents{ID: "deb:" + p.SHA256 + ":usrmerge-v1", List: p.Entries}
}
