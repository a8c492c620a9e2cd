package closure

import (
	"context"
	"encoding/json"
	"io"
)

// Platform is a target os/arch[/variant].
type Platform struct {
	OS, Arch, Variant string
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Request is what a source is asked to resolve.
type Request struct {
	Platform Platform
	// SpecDir is the folder holding the spec; relative inputs resolve there.
	SpecDir string
	// CacheDir is strata's content-addressed store root.
	CacheDir string
	// Locked is the source's section of strata.lock, nil when there is no
	// lock (or on lock --update). A source given a lock must reproduce it.
	Locked json.RawMessage
	// Update re-resolves even with a lock (names limit it to those inputs).
	Update      bool
	UpdateNames []string
	// Log receives human progress lines; never nil (io.Discard when quiet).
	// Lines that contain "warning:" or "notice:" are shown even where
	// progress is not (stderr is not a terminal): use them for what the user
	// must learn (an excluded dependency dropped, a choice made for them).
	Log io.Writer
}

// Result is a source's answer: its part of the graph and its lock section.
type Result struct {
	Graph *Graph
	// Lock is the JSON the source wants recorded in strata.lock; nil when the
	// source pins nothing.
	Lock json.RawMessage
}

// Source turns one part of a spec into graph nodes.
type Source interface {
	// Name is the source's lock section name: "debian", "nix", "files".
	Name() string
	Resolve(ctx context.Context, req Request) (*Result, error)
}
