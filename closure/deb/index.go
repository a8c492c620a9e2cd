package deb

import (
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
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/internal/deb822"
	"github.com/ulikunitz/xz"
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
	Label    string
	Packages []Package
	// Suites are the suites read, the main suite first, each with its
	// mirror and verified Release.
	Suites []IndexSuite

	// lk is the lookup for lkArch, when LoadIndex found it cached.
	lk     *lookup
	lkArch string
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

	idx := &Index{}
	var parts []*lookup
	var offs []int
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
			pk, l, err := loadIndex(ctx, st, f, pl.name, opt.Arch, rel, file, log)
			if err != nil {
				return nil, nil, err
			}
			for i := range pk {
				pk[i].Suite = pl.name
			}
			offs = append(offs, len(idx.Packages))
			parts = append(parts, l)
			idx.Packages = append(idx.Packages, pk...)
		}
	}
	idx.Label = strings.Join(names, ",") + "/" + strings.Join(comps, ",") + " " + opt.Arch
	switch len(parts) {
	case 0:
	case 1:
		idx.lk, idx.lkArch = parts[0], opt.Arch
		idx.lk.pk = idx.Packages
	default:
		idx.lk, idx.lkArch = mergeLookups(idx.Packages, parts, offs), opt.Arch
	}
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

// mergeLookups joins the lookups of index parts laid end to end in pk
// (part k starting at offs[k]) into the lookup buildLookup would make of
// all of pk: names ascending, versions descending, among equal versions
// the earlier part first and alone kept; Provides entries by name, the
// earlier part first.
func mergeLookups(pk []Package, parts []*lookup, offs []int) *lookup {
	l := &lookup{pk: pk}
	n, np := 0, 0
	for _, p := range parts {
		n += len(p.order)
		np += len(p.provs)
	}
	l.order = make([]int, 0, n)
	pos := make([]int, len(parts))
	for {
		best, bi := -1, 0
		for k, p := range parts {
			if pos[k] >= len(p.order) {
				continue
			}
			i := offs[k] + p.order[pos[k]]
			if best < 0 {
				best, bi = k, i
				continue
			}
			a, b := &pk[i], &pk[bi]
			if a.Name < b.Name || a.Name == b.Name && compareVersions(a.Version, b.Version) > 0 {
				best, bi = k, i
			}
		}
		if best < 0 {
			break
		}
		pos[best]++
		if m := len(l.order); m > 0 {
			prev := &pk[l.order[m-1]]
			if prev.Name == pk[bi].Name && prev.Version == pk[bi].Version {
				continue
			}
		}
		l.order = append(l.order, bi)
	}
	l.provs = make([]provide, 0, np)
	for k := range pos {
		pos[k] = 0
	}
	for {
		best := -1
		for k, p := range parts {
			if pos[k] >= len(p.provs) {
				continue
			}
			if best < 0 || p.provs[pos[k]].name < parts[best].provs[pos[best]].name {
				best = k
			}
		}
		if best < 0 {
			break
		}
		pv := parts[best].provs[pos[best]]
		pv.pkg += offs[best]
		l.provs = append(l.provs, pv)
		pos[best]++
	}
	return l
}

// indexCacheKind is the store folder of parsed indexes; the version in the
// file name changes whenever Package changes shape.
const (
	indexCacheKind    = "deb-index"
	indexCacheVersion = "v2"
)

// ParsePackages parses an uncompressed Packages file. Only the fields
// Package keeps are turned into strings; a stanza with none of them is
// skipped.
func ParsePackages(r io.Reader) ([]Package, error) {
	sc := deb822.NewScanner(r)
	sc.MaxLine, sc.MaxField = MaxIndexLineBytes, MaxIndexFieldBytes
	var out []Package
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
			return nil, fmt.Errorf("parsing Packages: stanza ending at line %d has no Package or Version field", sc.Line())
		}
		out = append(out, cur)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, deb822.ErrLineTooLong) {
			return nil, fmt.Errorf("parsing Packages: %w (MaxIndexLineBytes, %s): refusing the index", err, mib(MaxIndexLineBytes))
		}
		if errors.Is(err, deb822.ErrFieldTooLong) {
			return nil, fmt.Errorf("parsing Packages: %w (MaxIndexFieldBytes, %s): refusing the index", err, mib(MaxIndexFieldBytes))
		}
		return nil, fmt.Errorf("parsing Packages: %w", err)
	}
	return out, nil
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

// loadIndex returns the parsed packages of one index file and their
// lookup for arch, from the cache when present, else downloaded, verified
// against the signed Release checksum, parsed and cached.
func loadIndex(ctx context.Context, st cache.Index, f *fetcher, suite, arch string, rel *Release, file indexFile, log *events.Log) ([]Package, *lookup, error) {
	key := indexCacheVersion + "-" + file.sum.SHA256 + "-" + arch
	if data, err := st.Get(indexCacheKind, key); err == nil {
		if pk, l, err := decodeIndex(data); err == nil {
			return pk, l, nil
		}
		st.Delete(indexCacheKind, key) // unreadable cache entry: fetch anew
	} else if !errors.Is(err, cache.ErrNotFound) {
		return nil, nil, fmt.Errorf("reading the index cache: %w", err)
	}

	urlPath := "dists/" + suite + "/" + file.path
	if rel.AcquireByHash {
		urlPath = "dists/" + suite + "/" + pathDir(file.path) + "/by-hash/SHA256/" + file.sum.SHA256
	}
	log.Infof("downloading the %s/%s index (%.1f MB)", suite, file.path, float64(file.sum.Size)/1e6)
	raw, err := f.get(ctx, urlPath, 0, file.sum.Size, "the size the signed Release lists")
	if err != nil {
		return nil, nil, fmt.Errorf("downloading the package index: %w", err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != file.sum.SHA256 || int64(len(raw)) != file.sum.Size {
		return nil, nil, fmt.Errorf("%s: sha256 %s (%d bytes) does not match the signed Release's %s (%d bytes): the mirror serves a corrupt or altered index; retry later or set debian.mirror to another mirror",
			f.url(urlPath), got, len(raw), file.sum.SHA256, file.sum.Size)
	}
	r, err := decompress(file.path, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("decompressing %s: %w", f.url(urlPath), err)
	}
	// The decompressed stream is bounded and checked against the signed
	// Release before anything of it is kept (the cache is written below,
	// once it passed).
	bound := boundIndex(r, rel, file, f.url(urlPath))
	pk, err := ParsePackages(bound)
	if err != nil {
		err = fmt.Errorf("%s: %w", f.url(urlPath), err)
	}
	if err := bound.finish(err); err != nil {
		return nil, nil, err
	}
	l, err := buildLookup(&Index{Label: suite + "/" + file.path, Packages: pk}, arch)
	if err != nil {
		return nil, nil, err
	}
	if err := st.Put(indexCacheKind, key, encodeIndex(pk, l)); err != nil {
		return nil, nil, err
	}
	return pk, l, nil
}

func pathDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

func decompress(name string, raw []byte) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return xz.NewReader(bytes.NewReader(raw))
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(bytes.NewReader(raw))
	}
	return bytes.NewReader(raw), nil
}
