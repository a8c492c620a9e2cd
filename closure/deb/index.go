package deb

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/internal/deb822"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// Package is one stanza of a Packages index, reduced to the fields strata
// uses. Relationship fields keep their raw text and are parsed on demand.
type Package struct {
	Name          string
	Version       string
	Arch          string
	MultiArch     string
	Depends       string
	PreDepends    string
	Provides      string
	Conflicts     string
	Breaks        string
	Essential     bool
	Priority      string
	Filename      string
	Size          int64
	SHA256        string
	InstalledSize int64 // KiB, as in the index
	Maintainer    string
	Source        string
	Description   string // first line only
	Homepage      string
	Section       string
	// Suite is the suite the package was read from; Index.Suites names
	// that suite's mirror, which Filename is relative to.
	Suite string
}

// Index is the parsed Packages of one or more components for one
// architecture.
type Index struct {
	// Label names the index in messages: "bookworm/main amd64", or
	// "bookworm,bookworm-updates,bookworm-security/main amd64".
	Label string
	// Packages are the packages of an index held in memory (from
	// ParsePackages). LoadIndex leaves it empty: the resolver reads the
	// store's cached form in place and decodes only what it visits.
	Packages []Package
	// Suites are the suites read, the main suite first, each with its
	// mirror and verified Release.
	Suites []IndexSuite

	// cat is the catalog of the cached indexes for catArch, when LoadIndex
	// read them; st and keys name their cache entries.
	cat     catalog
	catArch string
	st      cache.Index
	keys    []string
}

// Each calls fn with every package of the index, in index order (the
// main suite's first). A package read from the cache is decoded for the
// call and not kept, so a pass over the whole index holds one at a time.
func (idx *Index) Each(fn func(p *Package)) error {
	c, ok := idx.cat.(*diskCatalog)
	if !ok {
		for i := range idx.Packages {
			fn(&idx.Packages[i])
		}
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.parts {
		for k := 0; k < d.npkg; k++ {
			fn(d.pkg(k))
		}
		if d.err != nil {
			return fmt.Errorf("%s: %w", idx.Label, d.err)
		}
	}
	return nil
}

// named returns every package called name, for the index's architecture:
// each suite's (a version in two suites once per suite), highest version
// first within a suite.
func (idx *Index) named(name string) []*Package {
	var out []*Package
	if c, ok := idx.cat.(*diskCatalog); ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		for k, d := range c.parts {
			for _, i := range d.named(name) {
				out = append(out, c.pkgLocked(c.base[k]+i))
			}
		}
		return out
	}
	for i := range idx.Packages {
		if idx.Packages[i].Name == name {
			out = append(out, &idx.Packages[i])
		}
	}
	return out
}

// damage is the first damage met reading the index's cache entries in
// place (a record that does not decode), nil if none.
func (idx *Index) damage() error {
	if idx.cat == nil {
		return nil
	}
	return idx.cat.err()
}

// forget removes the index's cache entries, so that the next LoadIndex
// fetches them anew (one turned out damaged).
func (idx *Index) forget() {
	for _, k := range idx.keys {
		idx.st.Delete(indexCacheKind, k) //nolint:errcheck // best effort: the error is reported already
	}
}

// IndexSuite is one suite an Index was read from.
type IndexSuite struct {
	Name    string
	Mirror  string
	Release *Release
}

// Mirror returns the mirror of suite among the suites read ("" if none).
func (idx *Index) Mirror(suite string) string {
	for _, s := range idx.Suites {
		if s.Name == suite {
			return s.Mirror
		}
	}
	return ""
}

// IndexOptions selects the Packages indexes LoadIndex reads.
type IndexOptions struct {
	Suite string
	// Components default to [main].
	Components []string
	// Arch is the Debian architecture ("amd64").
	Arch string
	// Mirror is the archive base URL; empty means FindMirror's defaults
	// (STRATA_DEBIAN_MIRROR, then the host's apt sources).
	Mirror string
	// Getenv replaces os.Getenv; AptRoot replaces /etc/apt (tests).
	Getenv  func(string) string
	AptRoot string
	// Keyring is the keyring file or folder; default DefaultKeyring.
	Keyring string
	// Client is the HTTP client; nil means one with bounded timeouts.
	Client *http.Client
	// Log receives notices and warnings; nil discards.
	Log *events.Log

	// Updates also reads SUITE-updates (from the main mirror unless the
	// host's apt sources name another for it) and SUITE-security (from
	// SecurityMirror, else STRATA_DEBIAN_SECURITY_MIRROR, else the host's
	// apt sources). The resolver then takes, per package name, the
	// highest version across the suites, as apt does with equal pins.
	Updates bool
	// UpdatesRequired makes an update suite that cannot be read (no
	// security mirror known, no InRelease) an error; without it such a
	// suite is skipped with a notice on Log.
	UpdatesRequired bool
	// SecurityMirror is the base URL of the archive serving SUITE-security.
	SecurityMirror string

	// AllowExpiredRelease accepts a Release whose Valid-Until has passed
	// or is not a date (with a warning), as snapshot archives need;
	// without it such a Release is refused. See AllowExpiredReleaseEnv.
	AllowExpiredRelease bool
	// Now is the clock Valid-Until is checked against (time.Now if nil).
	Now func() time.Time
}

// UpdateSuites returns the update suites read for suite, in order.
func UpdateSuites(suite string) []string {
	return []string{suite + "-updates", suite + "-security"}
}

// updatesMirror is the mirror of an updates suite: the main mirror when
// the spec or STRATA_DEBIAN_MIRROR names it, else the host's apt source
// naming the suite, else the main mirror.
func updatesMirror(suite, main string, o MirrorOptions) (string, error) {
	if o.Spec != "" || o.Env != "" {
		return main, nil
	}
	m, err := aptMirrorNaming(suite, o.AptRoot)
	if err != nil || m != "" {
		return m, err
	}
	return main, nil
}

// suitePlan is one suite LoadIndex reads.
type suitePlan struct {
	name, mirror string
	optional     bool // an update suite: may be skipped when not required
}

// LoadIndex fetches dists/SUITE/InRelease, verifies its signature against
// the keyring and that it is signed for the suite, then returns the
// Packages indexes of the components for the architecture: each read from
// the store's parsed-index cache when its signed checksum is known there,
// else downloaded (by hash when the archive offers it), verified against
// the Release checksum, parsed and cached. With opt.Updates the update
// suites are read the same way, each from its own mirror, and their
// packages added after the main suite's. The Release returned is the main
// suite's; Index.Suites has them all.
func LoadIndex(ctx context.Context, st cache.Index, opt IndexOptions) (*Index, *Release, error) {
	comps := opt.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	getenv := opt.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	mo := MirrorOptions{Spec: opt.Mirror, Env: getenv(MirrorEnv), AptRoot: opt.AptRoot}
	mirror, err := FindMirror(opt.Suite, mo)
	if err != nil {
		return nil, nil, err
	}
	keyringPath := opt.Keyring
	if keyringPath == "" {
		keyringPath = DefaultKeyring
	}
	keyring, err := ReadKeyring(keyringPath)
	if err != nil {
		return nil, nil, err
	}
	client := opt.Client
	if client == nil {
		client = newHTTPClient()
	}
	log := opt.Log
	plans := []suitePlan{{name: opt.Suite, mirror: mirror}}
	if opt.Updates {
		us := UpdateSuites(opt.Suite)
		upd, sec := us[0], us[1]
		um, err := updatesMirror(upd, mirror, mo)
		if err != nil {
			return nil, nil, err
		}
		plans = append(plans, suitePlan{name: upd, mirror: um, optional: true})
		sm, err := FindSecurityMirror(sec, MirrorOptions{Spec: opt.SecurityMirror, Env: getenv(SecurityMirrorEnv), AptRoot: opt.AptRoot, AnySecuritySuite: mo.Spec == "" && mo.Env == ""})
		if err != nil {
			return nil, nil, err
		}
		switch {
		case sm != "":
			plans = append(plans, suitePlan{name: sec, mirror: sm, optional: true})
		case opt.UpdatesRequired:
			return nil, nil, fmt.Errorf("debian.updates is true but no mirror serves %s: the host's apt sources name none; set debian.securityMirror in the spec (or %s) to the security archive's base URL, the folder holding dists/ and pool/, or set debian.updates: false", sec, SecurityMirrorEnv)
		default:
			log.Noticef("no mirror for %s in the host's apt sources: security updates are not read (set debian.securityMirror or %s to read them, or debian.updates: false to silence this)", sec, SecurityMirrorEnv)
		}
	}

	idx := &Index{st: st, catArch: opt.Arch}
	var parts []*diskIndex
	var names []string
	for _, pl := range plans {
		f, err := newFetcher(client, pl.mirror, getenv)
		if err != nil {
			return nil, nil, err
		}
		rel, err := readRelease(ctx, f, pl.name, keyring, keyringPath, &opt)
		if err != nil {
			var se *statusError
			if pl.optional && !opt.UpdatesRequired && errors.As(err, &se) && se.code == http.StatusNotFound {
				log.Noticef("%s has no %s suite (HTTP 404 for its InRelease): skipping it", pl.mirror, pl.name)
				continue
			}
			if pl.optional {
				return nil, nil, fmt.Errorf("%w (debian.updates reads %s; set debian.updates: false to read %s alone)", err, pl.name, opt.Suite)
			}
			return nil, nil, err
		}
		idx.Suites = append(idx.Suites, IndexSuite{Name: pl.name, Mirror: pl.mirror, Release: rel})
		names = append(names, pl.name)
		for _, comp := range comps {
			file, err := pickIndex(rel, comp, opt.Arch)
			if err != nil {
				if pl.optional {
					log.Noticef("%s has no %s index for %s: skipping it", pl.name, comp, opt.Arch)
					continue
				}
				return nil, nil, err
			}
			d, key, err := loadIndex(ctx, st, f, pl.name, opt.Arch, rel, file, log)
			if err != nil {
				return nil, nil, err
			}
			parts = append(parts, d)
			idx.keys = append(idx.keys, key)
		}
	}
	idx.Label = strings.Join(names, ",") + "/" + strings.Join(comps, ",") + " " + opt.Arch
	idx.cat = newDiskCatalog(parts)
	return idx, idx.Suites[0].Release, nil
}

// readRelease fetches and verifies dists/SUITE/InRelease and checks it is
// signed for suite.
func readRelease(ctx context.Context, f *fetcher, suite string, keyring openpgp.EntityList, keyringPath string, opt *IndexOptions) (*Release, error) {
	relPath := "dists/" + suite + "/InRelease"
	data, err := f.get(ctx, relPath, MaxInReleaseBytes, -1, "MaxInReleaseBytes, the cap on an InRelease file")
	if err != nil {
		hint := fmt.Sprintf("check debian.suite and the mirror; set debian.mirror or %s", MirrorEnv)
		if strings.HasSuffix(suite, "-security") {
			hint = fmt.Sprintf("check the security mirror; set debian.securityMirror or %s", SecurityMirrorEnv)
		}
		return nil, fmt.Errorf("fetching the signed release file of %s: %w (%s)", suite, err, hint)
	}
	rel, err := VerifyInRelease(data, keyring, f.url(relPath), keyringPath)
	if err != nil {
		return nil, err
	}
	if rel.Suite != suite && rel.Codename != suite {
		return nil, fmt.Errorf("%s is signed for suite %s (codename %s), not %s: the mirror serves another release under this name; refusing it (check debian.suite and debian.mirror)", f.url(relPath), rel.Suite, rel.Codename, suite)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	if err := rel.CheckValid(now()); err != nil {
		// apt refuses these too: a replayed old Release (signed, but
		// without the security updates since) looks just like this.
		// Snapshot archives are expired by design: they opt out.
		if !opt.AllowExpiredRelease {
			return nil, fmt.Errorf("%s: %w: refusing it, a replayed or stale archive may lack security updates (for a snapshot archive, pass --allow-expired-release to strata build or strata lock, or set %s=1)", f.url(relPath), err, AllowExpiredReleaseEnv)
		}
		opt.Log.Warnf("%s: %v (accepted: --allow-expired-release); a replayed or snapshot archive may lack security updates", f.url(relPath), err)
	}
	return rel, nil
}

// indexCacheKind is the store folder of parsed indexes; the version in the
// file name changes whenever Package or the cached form (codec.go) changes
// shape, so older entries are never read (gc removes them).
const (
	indexCacheKind    = "deb-index"
	indexCacheVersion = "v3"
)

// ParsePackages parses an uncompressed Packages file. Only the fields
// Package keeps are turned into strings; a stanza with none of them is
// skipped.
func ParsePackages(r io.Reader) ([]Package, error) {
	var out []Package
	err := parsePackages(r, func(p *Package) error {
		out = append(out, *p)
		return nil
	})
	return out, err
}

// parsePackages calls each with every package of an uncompressed Packages
// file as it is read (p is reused after each returns); an error from each
// stops the parse and is returned as it is.
func parsePackages(r io.Reader, each func(p *Package) error) error {
	sc := deb822.NewScanner(r)
	sc.MaxLine, sc.MaxField = MaxIndexLineBytes, MaxIndexFieldBytes
	for sc.Paragraph() {
		var cur Package
		have := false
		for sc.Field() {
			if setField(&cur, sc.Name(), sc.Value()) {
				have = true
			}
		}
		if sc.Err() != nil {
			break
		}
		if !have {
			continue
		}
		if cur.Name == "" || cur.Version == "" {
			return fmt.Errorf("parsing Packages: stanza ending at line %d has no Package or Version field", sc.Line())
		}
		if err := each(&cur); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, deb822.ErrLineTooLong) {
			return fmt.Errorf("parsing Packages: %w (MaxIndexLineBytes, %s): refusing the index", err, mib(MaxIndexLineBytes))
		}
		if errors.Is(err, deb822.ErrFieldTooLong) {
			return fmt.Errorf("parsing Packages: %w (MaxIndexFieldBytes, %s): refusing the index", err, mib(MaxIndexFieldBytes))
		}
		return fmt.Errorf("parsing Packages: %w", err)
	}
	return nil
}

// line1 is a field's first line: the only one strata keeps of fields
// other than relationships.
func line1(v []byte) string {
	if i := bytes.IndexByte(v, '\n'); i >= 0 {
		v = v[:i]
	}
	return string(v)
}

// folded joins a relationship field's continuation lines with spaces.
func folded(v []byte) string {
	if bytes.IndexByte(v, '\n') < 0 {
		return string(v)
	}
	lines := strings.Split(string(v), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

// setField stores a kept field and reports whether it was one.
func setField(p *Package, f, raw []byte) bool {
	switch string(f) {
	case "Package":
		p.Name = line1(raw)
	case "Version":
		p.Version = line1(raw)
	case "Architecture":
		p.Arch = line1(raw)
	case "Multi-Arch":
		p.MultiArch = line1(raw)
	case "Depends":
		p.Depends = folded(raw)
	case "Pre-Depends":
		p.PreDepends = folded(raw)
	case "Provides":
		p.Provides = folded(raw)
	case "Conflicts":
		p.Conflicts = folded(raw)
	case "Breaks":
		p.Breaks = folded(raw)
	case "Essential":
		p.Essential = bytes.EqualFold(raw, []byte("yes"))
	case "Priority":
		p.Priority = line1(raw)
	case "Filename":
		p.Filename = line1(raw)
	case "Size":
		p.Size, _ = strconv.ParseInt(line1(raw), 10, 64)
	case "SHA256":
		p.SHA256 = strings.ToLower(line1(raw))
	case "Installed-Size":
		p.InstalledSize, _ = strconv.ParseInt(line1(raw), 10, 64)
	case "Maintainer":
		p.Maintainer = line1(raw)
	case "Source":
		p.Source = line1(raw)
	case "Description":
		p.Description = line1(raw)
	case "Homepage":
		p.Homepage = line1(raw)
	case "Section":
		p.Section = line1(raw)
	default:
		return false
	}
	return true
}

// indexFile is one Packages file named in a Release.
type indexFile struct {
	path string // relative to dists/SUITE
	sum  FileSum
}

// pickIndex chooses the best-compressed Packages file the Release lists
// for comp and arch.
func pickIndex(rel *Release, comp, arch string) (indexFile, error) {
	base := comp + "/binary-" + arch + "/Packages"
	for _, ext := range []string{".xz", ".gz", ""} {
		if s, ok := rel.SHA256[base+ext]; ok {
			return indexFile{path: base + ext, sum: s}, nil
		}
	}
	return indexFile{}, fmt.Errorf("the Release file of %s lists no %s{.xz,.gz,} (is component %q or architecture %q right? the archive has components %v and architectures %v)",
		rel.Suite, base, comp, arch, rel.Components, rel.Architectures)
}

// loadIndex returns the cached form of one index file and its cache key:
// from the store when present, else downloaded, verified against the
// signed Release checksum, parsed and cached streaming (no package is held
// in memory past its stanza).
func loadIndex(ctx context.Context, st cache.Index, f *fetcher, suite, arch string, rel *Release, file indexFile, log *events.Log) (*diskIndex, string, error) {
	key := indexCacheVersion + "-" + file.sum.SHA256 + "-" + arch
	d, err := openCachedIndex(st, key, suite)
	switch {
	case err == nil:
		return d, key, nil
	case errors.Is(err, errIndexDamaged):
		st.Delete(indexCacheKind, key) // unreadable cache entry: fetch anew
	case !errors.Is(err, cache.ErrNotFound):
		return nil, "", fmt.Errorf("reading the index cache: %w", err)
	}

	urlPath := "dists/" + suite + "/" + file.path
	if rel.AcquireByHash {
		urlPath = "dists/" + suite + "/" + pathDir(file.path) + "/by-hash/SHA256/" + file.sum.SHA256
	}
	log.Infof("downloading the %s/%s index (%.1f MB)", suite, file.path, float64(file.sum.Size)/1e6)
	raw, err := f.get(ctx, urlPath, 0, file.sum.Size, "the size the signed Release lists")
	if err != nil {
		return nil, "", fmt.Errorf("downloading the package index: %w", err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != file.sum.SHA256 || int64(len(raw)) != file.sum.Size {
		return nil, "", fmt.Errorf("%s: sha256 %s (%d bytes) does not match the signed Release's %s (%d bytes): the mirror serves a corrupt or altered index; retry later or set debian.mirror to another mirror",
			f.url(urlPath), got, len(raw), file.sum.SHA256, file.sum.Size)
	}
	// The decompressed stream is parsed into the cache entry as it is read
	// (no package is held past its stanza), bounded and checked against
	// the signed Release: the entry is kept only once it passed.
	write := func(w io.Writer) error {
		r, err := decompress(file.path, bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("decompressing %s: %w", f.url(urlPath), err)
		}
		bound := boundIndex(r, rel, file, f.url(urlPath))
		enc := newIndexEncoder(w, arch, suite+"/"+file.path)
		if err := parsePackages(bound, enc.add); err != nil {
			return bound.finish(fmt.Errorf("%s: %w", f.url(urlPath), err)) // a bound error explains a parse error
		}
		if err := bound.finish(nil); err != nil {
			return err
		}
		return enc.finish()
	}
	fs, files := st.(cache.IndexFiles)
	if !files {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return nil, "", err
		}
		if err := st.Put(indexCacheKind, key, b.Bytes()); err != nil {
			return nil, "", err
		}
		d, err = openDiskIndex(b.Bytes(), suite)
		return d, key, err
	}
	if err := fs.WriteIndex(indexCacheKind, key, write); err != nil {
		return nil, "", err
	}
	d, err = openCachedIndex(st, key, suite)
	if err != nil {
		return nil, "", fmt.Errorf("reading back the index just cached: %w", err)
	}
	return d, key, nil
}

// openCachedIndex opens cache entry key: in place when the store keeps
// files (openIndexFile), else read whole. A damaged entry is an error
// wrapping errIndexDamaged.
func openCachedIndex(st cache.Index, key, suite string) (*diskIndex, error) {
	fs, ok := st.(cache.IndexFiles)
	if !ok {
		data, err := st.Get(indexCacheKind, key)
		if err != nil {
			return nil, err
		}
		d, err := openDiskIndex(data, suite)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errIndexDamaged, err)
		}
		return d, nil
	}
	path, err := fs.IndexFile(indexCacheKind, key)
	if err != nil {
		return nil, err
	}
	d, err := openIndexFile(path, suite)
	if errors.Is(err, errIndexDamaged) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading the index cache %s: %w", path, err)
	}
	return d, nil
}

// openIndexFile opens the cached index at path: the pool and tables
// mapped read-only, the records read at their offsets. The file and the
// mapping are released once the diskIndex is unreachable (nothing it
// returns aliases them).
func openIndexFile(path, suite string) (*diskIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	damaged := func(err error) (*diskIndex, error) {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", errIndexDamaged, path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	size := fi.Size()
	if size < int64(len(indexMagic)+trailerSize) || size > maxIndexFile {
		return damaged(fmt.Errorf("%d bytes", size))
	}
	head := make([]byte, len(indexMagic))
	trailer := make([]byte, trailerSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		f.Close()
		return nil, err
	}
	if string(head) != indexMagic {
		return damaged(fmt.Errorf("not a strata index cache of this version"))
	}
	if _, err := f.ReadAt(trailer, size-int64(trailerSize)); err != nil {
		f.Close()
		return nil, err
	}
	poolOff, err := indexTrailer(trailer)
	if err != nil || poolOff < len(indexMagic) || int64(poolOff) > size-int64(trailerSize) {
		return damaged(fmt.Errorf("bad trailer"))
	}
	base := poolOff &^ (os.Getpagesize() - 1)
	data, err := unix.Mmap(int(f.Fd()), int64(base), int(size)-base, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	d, err := openTables(&diskIndex{data: unsafe.String(&data[0], len(data)), base: base, rec: f, suite: suite}, int(size))
	if err != nil {
		unix.Munmap(data) //nolint:errcheck // nothing refers to it
		return damaged(err)
	}
	runtime.AddCleanup(d, func(m mappedFile) {
		unix.Munmap(m.data) //nolint:errcheck // nothing refers to it
		m.f.Close()
	}, mappedFile{data, f})
	return d, nil
}

// mappedFile is what a diskIndex of a file releases.
type mappedFile struct {
	data []byte
	f    *os.File
}

func pathDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

func decompress(name string, r io.Reader) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return xz.NewReader(bufio.NewReader(r))
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(r)
	}
	return r, nil
}
