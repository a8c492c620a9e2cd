package cli

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Commands that compare (diff, verify) exit 0 when identical, 1 when
// different and 2 on any error, so their errors bypass the usual exit 1.

// compareFailed prints err and returns the exit code 2.
func (g *globals) compareFailed(err error) error {
	fmt.Fprintf(g.stderr, "strata: %v\n", err)
	return exitError{ExitUsage}
}

// singleImage loads one image of any form inspect takes (specs built).
func (g *globals) singleImage(ctx context.Context, arg, platform string, insecure bool) (v1.Image, error) {
	ref, _, err := g.loadImage(ctx, arg, platform, insecure)
	if err != nil {
		return nil, err
	}
	return ref.SingleImage()
}

// verdict prints a comparison report and returns its exit code.
func (g *globals) verdict(rep interface{ Text(io.Writer) error }, identical, asJSON bool) error {
	var err error
	if asJSON {
		err = printJSON(g.stdout, rep)
	} else {
		err = rep.Text(g.stdout)
	}
	if err != nil {
		return g.compareFailed(err)
	}
	if !identical {
		return exitError{ExitFailure}
	}
	return nil
}
