package closure

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/events"
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

// ParsePlatform reads os/arch[/variant].
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: write os/arch like linux/amd64", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Trust-policy switches a source reads through Env.Getenv ("1" turns one
// on). The CLI's --allow-expired-release and --allow-downgrade set them in
// the environment it hands to sources, so a flag and the variable are one
// switch (the Debian source is the one that reads them today).
const (
	// AllowExpiredReleaseEnv accepts signed metadata past its validity
	// (a Debian Release's Valid-Until), with a warning.
	AllowExpiredReleaseEnv = "STRATA_ALLOW_EXPIRED_RELEASE"
	// AllowDowngradeEnv accepts signed metadata older than what
	// strata.lock records.
	AllowDowngradeEnv = "STRATA_ALLOW_RELEASE_DOWNGRADE"
)

// Env is what every source (and every later stage) gets from the world
// outside the spec: the environment, the network, the clock, how much to
// do at once and where to tell the user. One struct so that a
// test pins all of it in one place and no source reaches for os.Getenv
// or http.DefaultClient itself.
type Env struct {
	// Getenv reads the environment (os.Getenv by default).
	Getenv func(string) string
	// HTTP is the client for archives and registries.
	HTTP *http.Client
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Jobs bounds the work done at once: downloads, unpacks, layers
	// (runtime.NumCPU by default).
	Jobs int
	// Slots, shared by every source of a build, bounds their CPU-heavy
	// work (unpacking) across sources and platforms to Jobs at a time,
	// now that sources finish their graphs concurrently; WithDefaults
	// makes it when nil.
	Slots *Slots
	// Events receives progress, notices and warnings; nil discards.
	Events *events.Log
}

// WithDefaults returns e with every unset field given its default.
func (e Env) WithDefaults() Env {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.HTTP == nil {
		e.HTTP = NewHTTPClient()
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Jobs <= 0 {
		e.Jobs = runtime.NumCPU()
	}
	if e.Slots == nil {
		e.Slots = NewSlots(e.Jobs)
	}
	return e
}

// Slots is a counting semaphore.
type Slots struct{ ch chan struct{} }

// NewSlots gives n slots (at least 1).
func NewSlots(n int) *Slots { return &Slots{ch: make(chan struct{}, max(n, 1))} }

// Acquire takes a slot, waiting for one, or returns ctx's error.
func (s *Slots) Acquire(ctx context.Context) error {
	select {
	case s.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives back a slot Acquire took.
func (s *Slots) Release() { <-s.ch }

// NewHTTPClient is the default client of an Env: proxies from the
// environment, bounded dial, TLS and response-header timeouts (a body may
// take as long as it needs; callers bound it with their context).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}}
}

// Request is what a source is asked to resolve, for one platform.
type Request struct {
	Env      Env
	Platform Platform
	// SpecDir is the folder holding the spec; relative inputs resolve there.
	SpecDir string
	// Locked is the source's section of strata.lock, nil when there is no
	// lock (or on lock --update). A source given a lock must reproduce it.
	Locked json.RawMessage
	// Update re-resolves even with a lock (names limit it to those inputs).
	Update      bool
	UpdateNames []string
	// Previous is the source's section of strata.lock as read, even when
	// Update drops it from Locked: the lock a fresh resolution replaces,
	// for checks that the inputs do not go backwards (a Debian archive
	// replaying an older signed Release).
	Previous json.RawMessage
	// Needed holds the results of the sources this one Needs, by name;
	// each is complete (its Wait has returned).
	Needed map[string]*Result
	// Incremental lets the source return before its nodes' contents are
	// made: the caller plans from the graph's shape and sizes, reads each
	// node's Contents as it needs it (Entries wait for that node; a key
	// still to be made waits too, see KeyWaiter) and calls Result.Wait
	// before anything that reads the whole graph (Meta, whole-image
	// checks). What the source leaves running must stop when Resolve's ctx
	// ends, and then fail what it has not filled. Without it, Resolve
	// returns a complete graph.
	Incremental bool
}

// Result is a source's answer: its part of the graph and its lock section.
type Result struct {
	// Graph holds the nodes the source puts in the image (may be empty).
	Graph *Graph
	// Lock is the JSON the source wants recorded in strata.lock; nil when the
	// source pins nothing.
	Lock json.RawMessage
	// Base is the image the nodes go on top of, from a base-image source;
	// nil for every other source.
	Base v1.Image
	// Private holds what the source resolved for the sources that need it
	// and that does not go in the image: a build step's build closure, a
	// step's output before a files entry places it.
	Private *Graph
	// Wait, when not nil, blocks until the source has finished what an
	// Incremental request let it leave running, and returns its error:
	// until then Entries of some nodes may block, Meta may be missing and
	// generated nodes' Size may be 0. It is safe to call more than once,
	// returns the outcome when the source has finished even if ctx has
	// ended, and ctx's error when ctx ends first.
	Wait func(ctx context.Context) error
}

// Complete waits for r (see Result.Wait); a nil r or Wait is complete.
func (r *Result) Complete(ctx context.Context) error {
	if r == nil || r.Wait == nil {
		return nil
	}
	return r.Wait(ctx)
}

// Source turns one part of a spec into graph nodes.
type Source interface {
	// Name is the source's lock section name ("debian", "nix", "files",
	// "base"); unique within one build.
	Name() string
	Resolve(ctx context.Context, req Request) (*Result, error)
}

// Locker is a Source that can pin its inputs without fetching them (a
// Debian source resolves from the signed index without downloading .debs);
// `strata lock` calls it instead of Resolve.
type Locker interface {
	Lock(ctx context.Context, req Request) (json.RawMessage, error)
}

// LockVerifier is a Source that can check its lock section (req.Locked)
// against where its inputs come from, without building (`strata lock
// --verify`): a hand-edited lock must not slip through. It returns how
// many entries it checked; the error names every one that failed.
type LockVerifier interface {
	VerifyLock(ctx context.Context, req Request) (int, error)
}

// InputKeyer is a Source whose inputs strata.lock pins: InputsKey is the
// canonical JSON of what the user asked for (not what it resolved to), so
// that --frozen tells when the spec changed since the lock was written.
type InputKeyer interface {
	InputsKey() (json.RawMessage, error)
}

// Recorder is a Source whose lock section records what a build found
// (a build step's output tree hash) rather than what `strata lock` pins:
// after a build, build writes such sections back into an existing
// strata.lock.
type Recorder interface {
	RecordsOnBuild()
}

// Needer is a Source that consumes other sources' results (a build step
// consumes its build closure); build resolves those first and passes them
// in Request.Needed.
type Needer interface {
	Needs() []string
}
