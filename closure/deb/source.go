package deb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/spec"
	"golang.org/x/sync/errgroup"
)

// SystemNodeID is the ID of the node holding the generated system files.
const SystemNodeID = "generated:debian-system"

// statusKey marks a package's Contents that carry its status.d record.
const statusKey = ":status-v1"

// minDownloadJobs is the fewest parallel .deb downloads: they wait on the
// network, not the CPU, so they do not shrink with a small Jobs.
const minDownloadJobs = 4

var _ closure.Source = (*Source)(nil)

// Source resolves a spec's debian block into closure nodes. The HTTP
// client, the environment (STRATA_DEBIAN_MIRROR, ...) and the event log
// come from each Request's Env.
type Source struct {
	spec  *spec.Spec
	store cache.Cache
	apt   string
	name  string
}

var (
	_ closure.Locker     = (*Source)(nil)
	_ closure.InputKeyer = (*Source)(nil)
)

// Option configures a Source.
type Option func(*Source)

// WithName sets the source's name (its lock section), "debian" by
// default; a build step's closure is "build/STEP/debian".
func WithName(name string) Option { return func(s *Source) { s.name = name } }

// WithAptRoot replaces /etc/apt as the folder the host's sources are read
// from (tests).
func WithAptRoot(dir string) Option { return func(s *Source) { s.apt = dir } }

// New returns the Debian source for s, caching in st.
func New(s *spec.Spec, st cache.Cache, opts ...Option) *Source {
	src := &Source{spec: s, store: st, name: "debian"}
	for _, o := range opts {
		o(src)
	}
	return src
}

// Factory returns the Debian source of a spec with a debian block.
func Factory(s *spec.Spec, st cache.Cache) []closure.Source {
	if s.Debian == nil {
		return nil
	}
	return []closure.Source{New(s, st)}
}

// Name implements closure.Source.
func (s *Source) Name() string { return s.name }

// InputsKey implements closure.InputKeyer: the debian block as written.
func (s *Source) InputsKey() (json.RawMessage, error) { return json.Marshal(s.spec.Debian) }

// Lock implements closure.Locker: the lock section without downloading
// any .deb.
func (s *Source) Lock(ctx context.Context, req closure.Request) (json.RawMessage, error) {
	l, err := s.ResolveLock(ctx, req)
	if err != nil {
		return nil, err
	}
	return l.Marshal()
}

// inputs are the normalised debian settings of a request.
type inputs struct {
	deb     *spec.Debian
	suite   string
	comps   []string
	arch    string
	keyring string
	// updates reads the update suites; updatesRequired (debian.updates
	// set to true) makes one that cannot be read an error.
	updates, updatesRequired bool
}

func (s *Source) inputs(req closure.Request) (*inputs, error) {
	if s.spec == nil || s.spec.Debian == nil {
		return nil, fmt.Errorf("the spec has no debian block (add debian: {suite: ..., packages: [...]})")
	}
	d := s.spec.Debian
	if d.Suite == "" {
		return nil, fmt.Errorf("debian.suite is empty: set it to a Debian suite or codename such as the one in your apt sources")
	}
	if len(d.Packages) == 0 {
		return nil, fmt.Errorf("debian.packages is empty: name at least one package to install")
	}
	arch, err := Arch(req.Platform)
	if err != nil {
		return nil, err
	}
	in := &inputs{deb: d, suite: d.Suite, comps: d.Components, arch: arch, keyring: d.Keyring, updates: true}
	if d.Updates != nil {
		in.updates, in.updatesRequired = *d.Updates, *d.Updates
	}
	if len(in.comps) == 0 {
		in.comps = []string{"main"}
	}
	if in.keyring == "" {
		in.keyring = DefaultKeyring
	} else if !filepath.IsAbs(in.keyring) {
		dir := req.SpecDir
		if dir == "" {
			dir = s.spec.Dir
		}
		in.keyring = filepath.Join(dir, in.keyring)
	}
	return in, nil
}

// lockMirror returns the mirror serving suite, one of a lock's main suite
// and its update suites, as found on this machine.
func (s *Source) lockMirror(getenv func(string) string, main, suite string) (string, error) {
	mo := MirrorOptions{Spec: s.spec.Debian.Mirror, Env: getenv(MirrorEnv), AptRoot: s.apt}
	m, err := FindMirror(main, mo)
	if err != nil || suite == main {
		return m, err
	}
	if suite == UpdateSuites(main)[1] {
		sm, err := FindSecurityMirror(suite, MirrorOptions{Spec: s.spec.Debian.SecurityMirror, Env: getenv(SecurityMirrorEnv), AptRoot: s.apt, AnySecuritySuite: mo.Spec == "" && mo.Env == ""})
		if err != nil {
			return "", err
		}
		if sm == "" {
			return "", fmt.Errorf("strata.lock has packages from %s and no mirror serves it here: the host's apt sources name none; set debian.securityMirror in the spec (or %s) to the security archive's base URL, the folder holding dists/ and pool/", suite, SecurityMirrorEnv)
		}
		return sm, nil
	}
	return updatesMirror(suite, m, mo)
}

func logf(req closure.Request, format string, args ...any) {
	req.Env.Events.With("debian").Infof(format, args...)
}

// ResolveLock returns the lock for req without downloading any .deb:
//   - a lock that fits the spec, no update asked: the lock itself, with no
//     network at all;
//   - a lock that no longer fits (packages, exclude, suite, components
//     changed): a fresh resolution that keeps every locked version still
//     satisfying, like a minimal lock update (strata's --frozen refuses
//     this case before any source runs);
//   - Update with UpdateNames (package names): a fresh resolution keeping
//     the locked versions of the packages not named;
//   - Update without names, or naming "debian": a fresh resolution.
//
// A fresh resolution reads the signed archive (the index from the cache
// when its checksum is known).
func (s *Source) ResolveLock(ctx context.Context, req closure.Request) (*Lock, error) {
	req.Env = req.Env.WithDefaults()
	in, err := s.inputs(req)
	if err != nil {
		return nil, err
	}
	if len(req.Locked) == 0 {
		return s.resolveFresh(ctx, req, in, nil)
	}
	old, err := ParseLock(req.Locked)
	if err != nil {
		return nil, err
	}
	prefer := map[string]string{}
	switch {
	case !req.Update:
		why := old.matches(in.suite, in.comps, in.arch, in.deb.Packages, in.deb.Exclude, in.updates, in.deb.Exact)
		if why == "" {
			return old, nil
		}
		logf(req, "strata.lock has %s; resolving again, keeping the locked versions that still fit", why)
		if old.Suite != in.suite {
			break // another release: nothing to keep
		}
		for _, p := range old.Packages {
			prefer[p.Name] = p.Version
		}
	case len(req.UpdateNames) > 0 && !slices.Contains(req.UpdateNames, s.Name()):
		for _, p := range old.Packages {
			if !slices.Contains(req.UpdateNames, p.Name) {
				prefer[p.Name] = p.Version
			}
		}
	}
	return s.resolveFresh(ctx, req, in, prefer)
}

// indexOptions is what LoadIndex needs to read the signed indexes of
// suite (and its update suites when updates) for this source: the one
// place that maps the spec, the environment and the trust policy to it.
func (s *Source) indexOptions(req closure.Request, in *inputs, suite string, comps []string, arch string, updates bool) IndexOptions {
	allowExpired, _ := trustPolicy(req)
	return IndexOptions{
		Suite: suite, Components: comps, Arch: arch,
		Mirror: s.spec.Debian.Mirror, Getenv: req.Env.Getenv, AptRoot: s.apt,
		Keyring: in.keyring, Client: req.Env.HTTP, Log: req.Env.Events.With("debian"),
		Updates: updates, SecurityMirror: in.deb.SecurityMirror,
		AllowExpiredRelease: allowExpired, Now: req.Env.Now,
	}
}

func (s *Source) resolveFresh(ctx context.Context, req closure.Request, in *inputs, prefer map[string]string) (*Lock, error) {
	start := time.Now()
	_, allowDowngrade := trustPolicy(req)
	ro := ResolveOptions{Arch: in.arch, Roots: in.deb.Packages, Exclude: in.deb.Exclude, Prefer: prefer, Log: req.Env.Events.With("debian")}
	if e := in.deb.Exact; e != nil {
		ro.ExactAll, ro.Exact = e.All, e.Packages
	}
	var idx *Index
	var rel *Release
	var res *Resolution
	// A cached index found damaged while resolving is dropped and read
	// once more from the archive.
	for attempt := 0; ; attempt++ {
		var err error
		opt := s.indexOptions(req, in, in.suite, in.comps, in.arch, in.updates)
		opt.UpdatesRequired = in.updatesRequired
		idx, rel, err = LoadIndex(ctx, s.store, opt)
		if err != nil {
			return nil, err
		}
		if old := previousLock(req); old != nil && old.Suite == in.suite {
			if err := checkNotOlder(old, idx.Suites, in.updates, allowDowngrade, req.Env.Events.With("debian").Warnf); err != nil {
				return nil, err
			}
		}
		res, err = Resolve(idx, ro)
		if errors.Is(err, errIndexDamaged) && attempt == 0 {
			req.Env.Events.With("debian").Warnf("%v: reading the index again", err)
			idx.forget()
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	lock := &Lock{
		Suite: in.suite, Components: in.comps, Arch: in.arch,
		Request: in.deb.Packages, Exclude: in.deb.Exclude, ExactAll: ro.ExactAll, Exact: ro.Exact, NoUpdates: !in.updates,
		ReleaseDate: rel.Date, ReleaseVersion: rel.Version, KeyFingerprint: rel.Fingerprint,
	}
	for _, su := range idx.Suites {
		lock.Releases = append(lock.Releases, LockedRelease{Suite: su.Name, Date: su.Release.Date, KeyFingerprint: su.Release.Fingerprint})
	}
	for _, rp := range res.Packages {
		p := rp.Pkg
		if p.Filename == "" || !isHexSHA256(p.SHA256) {
			return nil, fmt.Errorf("%s %s in %s has no Filename or SHA256 in the index: the archive cannot be verified", p.Name, p.Version, idx.Label)
		}
		installed := p.InstalledSize
		lock.Packages = append(lock.Packages, LockedPackage{
			Name: p.Name, Version: p.Version, Arch: p.Arch, Suite: p.Suite, Filename: p.Filename,
			Size: p.Size, SHA256: p.SHA256, InstalledSize: &installed, Root: rp.NeededBy == "", Depends: rp.Deps,
		})
	}
	logf(req, "resolved %d packages for %s from %s in %s", len(lock.Packages), strings.Join(in.deb.Packages, " "), idx.Label, time.Since(start).Round(time.Millisecond))
	return lock, nil
}

// Resolve implements closure.Source: the lock (fresh or given), every
// .deb fetched into the store and verified, unpacked, and the system files
// generated. With req.Incremental the graph comes back as soon as the lock
// is known: each package's contents are filled as its .deb is unpacked
// (those a layer asks for first), and Result.Wait finishes the whole-closure
// work (overlaps, licences, the system files).
func (s *Source) Resolve(ctx context.Context, req closure.Request) (*closure.Result, error) {
	req.Env = req.Env.WithDefaults()
	lock, err := s.ResolveLock(ctx, req)
	if err != nil {
		return nil, err
	}
	raw, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	// Minimal by default: docs, man pages and locales pruned unless
	// debian.keep asks (see Keep.prunedPath).
	keep := KeepOf(s.spec.Debian.Keep)
	keep.SpecOSRelease = s.spec.OSRelease != nil
	keep.SpecNsswitch = s.spec.Nsswitch != nil
	keep.Paths, keep.PackagePaths = s.spec.Debian.Paths, s.spec.Debian.PackagePaths
	for _, name := range slices.Sorted(maps.Keys(keep.PackagePaths)) {
		if !slices.ContainsFunc(lock.Packages, func(p LockedPackage) bool { return p.Name == name }) {
			return nil, fmt.Errorf("debian.packagePaths names %s, which is not in the image (add it to debian.packages or remove its filter)", name)
		}
	}
	c, err := s.newClosure(req, lock, keep)
	if err != nil {
		return nil, err
	}
	res := &closure.Result{Graph: c.g, Lock: raw, Wait: c.wait}
	go c.make(ctx)
	// Planning needs every package's size: an older lock has none, so
	// the listings give them first.
	if req.Incremental && !c.sized {
		req.Env.Events.With("debian").Noticef("strata.lock has no installed sizes (an older strata wrote it): layers wait for every .deb; `strata lock --update` records them")
	}
	if !req.Incremental || !c.sized {
		if err := c.wait(ctx); err != nil {
			return nil, err
		}
		res.Wait = nil
	}
	return res, nil
}

func nodeID(name, arch string) string { return "deb:" + name + ":" + arch }

// arch returns the locked architecture of a package name.
func (l *Lock) arch(name string) string {
	for _, p := range l.Packages {
		if p.Name == name {
			return p.Arch
		}
	}
	return l.Arch
}

// sourceName strips the "(version)" of a Source field; an empty one means
// the binary package's own name.
func sourceName(src, pkg string) string {
	src = strings.TrimSpace(src)
	if src == "" {
		return pkg
	}
	if i := strings.IndexByte(src, ' '); i >= 0 {
		src = src[:i]
	}
	return src
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// fetchDebs downloads every locked .deb missing from the store, verifying
// its sha256 (and size) on the way in.
func (s *Source) fetchDebs(ctx context.Context, req closure.Request, lock *Lock) error {
	return s.fetchDebsThen(ctx, req, lock, func(int) {})
}

// fetchDebsThen is fetchDebs calling ready(i) (from any goroutine) as soon
// as lock.Packages[i] is in the store.
func (s *Source) fetchDebsThen(ctx context.Context, req closure.Request, lock *Lock, ready func(i int)) error {
	req.Env = req.Env.WithDefaults()
	// HasBlob may ask a remote cache (which then fetches the .deb), so
	// the packages are checked in parallel.
	have := make([]bool, len(lock.Packages))
	run(ctx, len(lock.Packages), max(req.Env.Jobs, minDownloadJobs), func(i int) {
		if have[i] = s.store.HasBlob(lock.Packages[i].SHA256); have[i] {
			ready(i)
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	var missing []LockedPackage
	var missingAt []int // missing[k] is lock.Packages[missingAt[k]]
	for i, p := range lock.Packages {
		if !have[i] {
			missing = append(missing, p)
			missingAt = append(missingAt, i)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fetchers := map[string]*fetcher{}
	for _, p := range missing {
		su := lock.suiteOf(p)
		if fetchers[su] != nil {
			continue
		}
		mirror, err := s.lockMirror(req.Env.Getenv, lock.Suite, su)
		if err != nil {
			return err
		}
		if fetchers[su], err = newFetcher(req.Env.HTTP, mirror, req.Env.Getenv); err != nil {
			return err
		}
	}
	var total int64
	for _, p := range missing {
		total += p.Size
	}
	logf(req, "downloading %d packages (%.1f MB)", len(missing), float64(total)/1e6)
	errs := make([]error, len(missing))
	log := req.Env.Events.With("debian")
	run(ctx, len(missing), max(req.Env.Jobs, minDownloadJobs), func(i int) {
		if errs[i] = s.fetchDeb(ctx, fetchers[lock.suiteOf(missing[i])], missing[i], log); errs[i] == nil {
			ready(missingAt[i])
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) fetchDeb(ctx context.Context, f *fetcher, p LockedPackage, log *events.Log) error {
	task := "fetch " + p.Name
	defer log.Emit(events.Event{Kind: events.Progress, Stage: events.StageFetch, Task: task, Subject: p.Name + " " + p.Version, TotalBytes: p.Size, Bytes: p.Size, End: true})
	err := f.do(ctx, p.Filename, blobTimeout, func(r io.Reader) error {
		lr := &countReader{r: io.LimitReader(r, p.Size+1), progress: func(n int64) {
			log.Emit(events.Event{Kind: events.Progress, Stage: events.StageFetch, Task: task, Subject: p.Name + " " + p.Version, Bytes: n, TotalBytes: p.Size})
		}}
		if _, err := s.store.PutBlob(lr, p.SHA256); err != nil {
			if lr.err == nil && !lr.eof {
				// The store gave up before the body ended, with no read
				// error: a local failure (disk full, an unwritable
				// cache), not the network's; another attempt would not
				// help.
				return fmt.Errorf("%w: %w", errLocal, err)
			}
			if lr.err != nil {
				// The connection broke mid-download: a network failure
				// (retried), not a file that fails its check.
				return fmt.Errorf("%w after %d of %d bytes: %w", errCutShort, lr.n, p.Size, lr.err)
			}
			if lr.n < p.Size {
				// A body that ends early without a read error (a server
				// closing a connection that announced no length): the
				// file did not arrive whole, so its hash says nothing.
				return fmt.Errorf("%w after %d of %d bytes: %w", errCutShort, lr.n, p.Size, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("%w: %s %s: %v", errIntegrity, p.Name, p.Version, err)
		}
		if lr.n != p.Size {
			return fmt.Errorf("%w: %s %s is %d bytes, the index says %d", errIntegrity, p.Name, p.Version, lr.n, p.Size)
		}
		return nil
	})
	var se *statusError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errLocal):
		return fmt.Errorf("downloading %s %s: %w (check the cache folder's free space and permissions, or choose another with --cache or STRATA_CACHE)", p.Name, p.Version, err)
	case errors.Is(err, errIntegrity):
		return fmt.Errorf("downloading %s %s: %w (the mirror serves a file that does not match the signed index; retry later or set debian.mirror to another mirror)", p.Name, p.Version, err)
	case errors.As(err, &se):
		return fmt.Errorf("downloading %s %s: %w (the mirror %s does not serve it: retry later, run `strata lock --update` if the archive dropped this version, or set debian.mirror to another mirror)", p.Name, p.Version, err, f.base)
	case ctx.Err() != nil:
		return fmt.Errorf("downloading %s %s: %w", p.Name, p.Version, err)
	case errors.As(err, new(*stallError)):
		return fmt.Errorf("downloading %s %s: %w", p.Name, p.Version, err)
	case errors.Is(err, errCutShort):
		return fmt.Errorf("downloading %s %s: lost the connection to the mirror %s: %w (retry later, check the network and proxy settings, or set debian.mirror to another mirror)", p.Name, p.Version, f.base, err)
	}
	return fmt.Errorf("downloading %s %s: could not reach the mirror %s: %w (check the network, the proxy settings (HTTPS_PROXY) and the mirror's name, or set debian.mirror to another mirror)", p.Name, p.Version, f.base, err)
}

// errCutShort marks a download whose connection broke before the end.
var errCutShort = errors.New("the download stopped")

type countReader struct {
	r   io.Reader
	n   int64
	err error // the first read error other than io.EOF
	eof bool  // the reader returned io.EOF
	// progress, when set, gets the count every progressStep bytes.
	progress func(n int64)
	last     int64
}

// progressStep is how many bytes a download reads between progress events.
const progressStep = 256 << 10

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && c.n-c.last >= progressStep {
		c.last = c.n
		c.progress(c.n)
	}
	if err == io.EOF {
		c.eof = true
	} else if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// errNoListing stops a first look for listings (no .deb is fetched then).
var errNoListing = errors.New("no listing")

// unpack gives every locked package to ready (from any goroutine, once
// each) from its listing (debfile.Listing); the packages with none are
// downloaded (in q's rank order) and each is unpacked and listed as soon
// as its .deb is in the store, those a reader asked q for first:
// downloads, decompression and unpacking overlap across packages,
// downloads at most max(Jobs, minDownloadJobs) at once (they wait on the
// network), unpacks at most Jobs (each also keeps an xz process busy, see
// debfile.XZDecoder; STRATA_XZ=go|system|auto picks the decoder). The
// first failure (of an unpack or of ready) stops the rest.
func (s *Source) unpack(ctx context.Context, req closure.Request, lock *Lock, q *workQueue, ready func(context.Context, int, *debfile.Package) error) error {
	xzd, err := debfile.ParseXZDecoder(req.Env.Getenv("STRATA_XZ"))
	if err != nil {
		return err
	}
	ctx = debfile.WithXZ(ctx, xzd)
	full := func(lp LockedPackage) func() (*debfile.Package, error) {
		return func() (*debfile.Package, error) {
			one := *lock
			one.Packages = []LockedPackage{lp}
			if err := s.fetchDebs(ctx, req, &one); err != nil {
				return nil, err
			}
			return debfile.UnpackBlob(ctx, s.store, lp.SHA256)
		}
	}
	n := len(lock.Packages)
	listed := make([]bool, n)
	got := make([]bool, n) // given to ready, which took it
	errs := make([]error, n)
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run(uctx, n, max(req.Env.Jobs, minDownloadJobs), func(i int) {
		lp := lock.Packages[i]
		// A listing found serves the layers built later, which read the
		// package's files through full; a missing one is not made here.
		first := true
		p, err := debfile.Listing(ctx, s.store, lp.SHA256, listedFiles(lp.Name), func() (*debfile.Package, error) {
			if first {
				return nil, errNoListing
			}
			return full(lp)()
		})
		first = false
		if err != nil {
			return
		}
		listed[i] = true
		if errs[i] = ready(ctx, i, p); errs[i] != nil {
			cancel()
		}
		got[i] = errs[i] == nil
	})
	missing := *lock
	missing.Packages = nil
	var at []int // at[j]: the index in lock.Packages of missing.Packages[j]
	for i, lp := range lock.Packages {
		if !listed[i] && errs[i] == nil {
			missing.Packages = append(missing.Packages, lp)
			at = append(at, i)
		}
	}
	// Downloads go in rank order too, so the first layers' .debs come first.
	sort.SliceStable(at, func(a, b int) bool { return q.rank[at[a]] < q.rank[at[b]] })
	for j, i := range at {
		missing.Packages[j] = lock.Packages[i]
	}
	var wg sync.WaitGroup
	for range min(req.Env.Jobs, len(at)) {
		wg.Go(func() {
			for {
				i, ok := q.next()
				if !ok {
					return
				}
				if uctx.Err() != nil {
					continue
				}
				lp := lock.Packages[i]
				// One of the build's Jobs slots, shared with other sources
				// and platforms unpacking at the same time.
				if err := req.Env.Slots.Acquire(uctx); err != nil {
					errs[i] = err
					continue
				}
				// ctx, not uctx: the package keeps it for the files layers read later.
				p, err := debfile.Listing(ctx, s.store, lp.SHA256, listedFiles(lp.Name), full(lp))
				req.Env.Slots.Release()
				if err == nil {
					err = ready(ctx, i, p)
				}
				if errs[i] = err; err != nil {
					cancel()
				}
				got[i] = err == nil
			}
		})
	}
	var ferr error
	if uctx.Err() == nil && len(at) > 0 {
		ferr = s.fetchDebsThen(uctx, req, &missing, func(j int) { q.add(at[j]) })
	}
	q.close()
	if ferr != nil {
		cancel()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	// An unpack's own failure wins over the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if ferr != nil {
		return ferr
	}
	for i, lp := range lock.Packages {
		if errs[i] != nil {
			return errs[i]
		}
		if !got[i] {
			return fmt.Errorf("%s %s was not unpacked", lp.Name, lp.Version)
		}
	}
	return nil
}

// listedFiles says which files of package name its listing holds: those
// Resolve reads (its copyright file for the licences; the certificates
// the CA bundle is made of).
func listedFiles(name string) func(closure.Entry) bool {
	cp := copyrightPath(name)
	return func(e closure.Entry) bool {
		if e.Path == cp {
			return true
		}
		return name == "ca-certificates" && strings.HasPrefix(e.Path, "usr/share/ca-certificates/") && strings.HasSuffix(e.Path, ".crt")
	}
}

// run calls fn(0..n-1) on at most jobs goroutines; it stops handing out
// work when ctx is done. fn records its own result by index, so results
// keep their order whatever order the calls finish in.
func run(ctx context.Context, n, jobs int, fn func(int)) {
	var g errgroup.Group
	g.SetLimit(jobs)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		g.Go(func() error { fn(i); return nil })
	}
	g.Wait() //nolint:errcheck // fn reports through its own slice
}
