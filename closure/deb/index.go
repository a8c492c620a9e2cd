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
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/stratabuild/strata/store"
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
}

// Index is the parsed Packages of one or more components for one
// architecture.
type Index struct {
	// Label names the index in messages: "bookworm/main amd64".
	Label    string
	Packages []Package

	// lk is the lookup for lkArch, when LoadIndex found it cached.
	lk     *lookup
	lkArch string
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
	// Log receives warnings; nil discards.
	Log io.Writer
}

// LoadIndex fetches dists/SUITE/InRelease, verifies its signature against
// the keyring and that it is signed for the suite, then returns the
// Packages indexes of the components for the architecture: each read from
// the store's parsed-index cache when its signed checksum is known there,
// else downloaded (by hash when the archive offers it), verified against
// the Release checksum, parsed and cached.
func LoadIndex(ctx context.Context, st *store.Store, opt IndexOptions) (*Index, *Release, error) {
	comps := opt.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	getenv := opt.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	mirror, err := FindMirror(opt.Suite, MirrorOptions{Spec: opt.Mirror, Env: getenv(MirrorEnv), AptRoot: opt.AptRoot})
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
	if log == nil {
		log = io.Discard
	}
	f := &fetcher{client: client, base: mirror}
	relPath := "dists/" + opt.Suite + "/InRelease"
	data, err := f.get(ctx, relPath)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching the signed release file of %s: %w (check debian.suite and the mirror; set debian.mirror or %s)", opt.Suite, err, MirrorEnv)
	}
	rel, err := VerifyInRelease(data, keyring, f.url(relPath), keyringPath)
	if err != nil {
		return nil, nil, err
	}
	if rel.Suite != opt.Suite && rel.Codename != opt.Suite {
		return nil, nil, fmt.Errorf("%s is signed for suite %s (codename %s), not %s: the mirror serves another release under this name; refusing it (check debian.suite and debian.mirror)", f.url(relPath), rel.Suite, rel.Codename, opt.Suite)
	}
	if rel.Expired(time.Now()) {
		// apt refuses these; snapshot archives are expired by design, so
		// strata warns: the signature still binds every checksum.
		fmt.Fprintf(log, "debian: warning: %s expired (Valid-Until: %s); a replayed or snapshot archive may lack security updates\n", f.url(relPath), rel.ValidUntil)
	}
	idx := &Index{Label: opt.Suite + "/" + strings.Join(comps, ",") + " " + opt.Arch}
	for _, comp := range comps {
		file, err := pickIndex(rel, comp, opt.Arch)
		if err != nil {
			return nil, nil, err
		}
		pk, l, err := loadIndex(ctx, st, f, opt.Suite, opt.Arch, rel, file, log)
		if err != nil {
			return nil, nil, err
		}
		idx.Packages = append(idx.Packages, pk...)
		idx.lk, idx.lkArch = l, opt.Arch
	}
	if len(comps) > 1 {
		idx.lk = nil // several components: Resolve builds one lookup over all
	}
	return idx, rel, nil
}

// indexCacheKind is the store folder of parsed indexes; the version in the
// file name changes whenever Package changes shape.
const (
	indexCacheKind    = "deb-index"
	indexCacheVersion = "v2"
)

// ParsePackages parses an uncompressed Packages file.
func ParsePackages(r io.Reader) ([]Package, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var out []Package
	var cur Package
	var have bool
	var field string // last field name, for continuation lines
	lineNo := 0
	flush := func() error {
		if !have {
			return nil
		}
		if cur.Name == "" || cur.Version == "" {
			return fmt.Errorf("stanza ending at line %d has no Package or Version field", lineNo)
		}
		out = append(out, cur)
		cur = Package{}
		have = false
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// a very long line: collect it whole.
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading Packages: %w", err)
		}
		lineNo++
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if ferr := flush(); ferr != nil {
				return nil, fmt.Errorf("parsing Packages: %w", ferr)
			}
			field = ""
		} else if line[0] == ' ' || line[0] == '\t' {
			// continuation: only relationship fields may be folded.
			switch field {
			case "Depends", "Pre-Depends", "Provides", "Conflicts", "Breaks":
				setField(&cur, field, fieldValue(&cur, field)+" "+string(bytes.TrimSpace(line)))
			}
		} else if i := bytes.IndexByte(line, ':'); i > 0 {
			field = string(line[:i])
			if setField(&cur, field, string(bytes.TrimSpace(line[i+1:]))) {
				have = true
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("parsing Packages: %w", err)
	}
	return out, nil
}

func fieldValue(p *Package, f string) string {
	switch f {
	case "Depends":
		return p.Depends
	case "Pre-Depends":
		return p.PreDepends
	case "Provides":
		return p.Provides
	case "Conflicts":
		return p.Conflicts
	case "Breaks":
		return p.Breaks
	}
	return ""
}

// setField stores a kept field and reports whether it was one.
func setField(p *Package, f, v string) bool {
	switch f {
	case "Package":
		p.Name = v
	case "Version":
		p.Version = v
	case "Architecture":
		p.Arch = v
	case "Multi-Arch":
		p.MultiArch = v
	case "Depends":
		p.Depends = v
	case "Pre-Depends":
		p.PreDepends = v
	case "Provides":
		p.Provides = v
	case "Conflicts":
		p.Conflicts = v
	case "Breaks":
		p.Breaks = v
	case "Essential":
		p.Essential = strings.EqualFold(v, "yes")
	case "Priority":
		p.Priority = v
	case "Filename":
		p.Filename = v
	case "Size":
		p.Size, _ = strconv.ParseInt(v, 10, 64)
	case "SHA256":
		p.SHA256 = strings.ToLower(v)
	case "Installed-Size":
		p.InstalledSize, _ = strconv.ParseInt(v, 10, 64)
	case "Maintainer":
		p.Maintainer = v
	case "Source":
		p.Source = v
	case "Description":
		p.Description = v
	case "Homepage":
		p.Homepage = v
	case "Section":
		p.Section = v
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
func loadIndex(ctx context.Context, st *store.Store, f *fetcher, suite, arch string, rel *Release, file indexFile, log io.Writer) ([]Package, *lookup, error) {
	key := indexCacheVersion + "-" + file.sum.SHA256 + "-" + arch
	dir, err := st.Dir(indexCacheKind)
	if err != nil {
		return nil, nil, err
	}
	cached := filepath.Join(dir, key)
	if data, err := os.ReadFile(cached); err == nil {
		if pk, l, err := decodeIndex(data); err == nil {
			return pk, l, nil
		}
		os.Remove(cached) // unreadable cache entry: fetch anew
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("reading the index cache: %w", err)
	}

	urlPath := "dists/" + suite + "/" + file.path
	if rel.AcquireByHash {
		urlPath = "dists/" + suite + "/" + pathDir(file.path) + "/by-hash/SHA256/" + file.sum.SHA256
	}
	fmt.Fprintf(log, "debian: downloading the %s/%s index (%.1f MB)\n", suite, file.path, float64(file.sum.Size)/1e6)
	raw, err := f.get(ctx, urlPath)
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
	pk, err := ParsePackages(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.url(urlPath), err)
	}
	l, err := buildLookup(&Index{Label: suite + "/" + file.path, Packages: pk}, arch)
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.PutFile(indexCacheKind, key, bytes.NewReader(encodeIndex(pk, l))); err != nil {
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
