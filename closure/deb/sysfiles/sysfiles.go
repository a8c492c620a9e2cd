package sysfiles

import (
	"context"
	"errors"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/spec"
)

// Options are Generate's inputs.
type Options struct {
	// Packages in closure order.
	Packages []*debfile.Package
	Accounts *spec.Accounts
	// Suite is the Debian suite (codename) like "bookworm"; Arch the Debian
	// architecture like "amd64".
	Suite, Arch string
}

// Generate returns the generated files and their total size in bytes.
func Generate(ctx context.Context, opt Options) (closure.Contents, int64, error) {
	return nil, 0, errors.New("sysfiles.Generate: not implemented yet")
}
