package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
)

// NodeID is the ID of the node Source adds.
const NodeID = "generated:rootfs"

// keyPrefix versions the Contents key: bump it when the same Options would
// render different bytes.
const keyPrefix = "generated:rootfs-v1:sha256:"

// Contents is Entries as closure.Contents, keyed by a hash of every path,
// metadata and byte, with the total size of the regular files.
func Contents(opt Options) (closure.Contents, int64, error) {
	list, err := Entries(opt)
	if err != nil {
		return nil, 0, err
	}
	h := sha256.New()
	var size int64
	for _, e := range list {
		fmt.Fprintf(h, "%q %s %o %d %d %d %q\n", e.Path, e.Type, uint32(e.Mode), e.UID, e.GID, e.Size, e.Link)
		if e.Type != closure.Regular {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return nil, 0, fmt.Errorf("hashing generated /%s: %w", e.Path, err)
		}
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != e.Size {
			return nil, 0, fmt.Errorf("hashing generated /%s: read %d of %d bytes: %v", e.Path, n, e.Size, err)
		}
		size += e.Size
	}
	return closure.StaticContents{ID: keyPrefix + hex.EncodeToString(h.Sum(nil)), List: list}, size, nil
}

// Source is the closure source for images without a distribution's own
// generated layer (files-only or Nix-only specs with `accounts`): one
// generated node with the accounts, their homes, /tmp, nsswitch and a
// neutral os-release. It pins nothing in strata.lock.
type Source struct {
	accounts  *spec.Accounts
	osRelease map[string]string
	nsswitch  map[string]string
}

// NewSource returns the source for s's accounts.
func NewSource(s *spec.Spec) *Source {
	return &Source{accounts: s.Accounts, osRelease: s.OSRelease, nsswitch: s.Nsswitch}
}

// Name implements closure.Source.
func (s *Source) Name() string { return "rootfs" }

// Resolve implements closure.Source: the same node for every platform.
func (s *Source) Resolve(ctx context.Context, _ closure.Request) (*closure.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel := Neutral()
	if s.osRelease != nil {
		rel.Note, rel.Fields = "from the spec's osRelease", s.osRelease
	}
	c, size, err := Contents(Options{Accounts: s.accounts, OSRelease: rel, Nsswitch: s.nsswitch})
	if err != nil {
		return nil, fmt.Errorf("generating the image's accounts (fix `accounts` or `nsswitch` in the spec): %w", err)
	}
	g := closure.New()
	if err := g.Add(&closure.Node{ID: NodeID, Kind: closure.KindGenerated, Name: "rootfs", Size: size, Contents: c}); err != nil {
		return nil, err
	}
	return &closure.Result{Graph: g}, nil
}

var _ closure.Source = (*Source)(nil)
