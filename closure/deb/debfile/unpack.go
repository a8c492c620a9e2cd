package debfile

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
)

// ErrUnsafe marks a .deb refused because extracting it would be unsafe
// (path traversal, writes through symlinks, device nodes, decompression
// bombs, ...). Errors wrap it; test with errors.Is.
var ErrUnsafe = errors.New("unsafe .deb")

// Limits on extraction, so a small hostile .deb costs bounded disk,
// memory and time (SECURITY.md lists them). Every byte the tar reader
// decompresses counts (headers, PAX records, padding, and the bodies of
// entries strata skips), the first byte over a limit stops the unpack,
// and a refused .deb leaves nothing in the cache.
const (
	// HardCap bounds the decompressed bytes of one .deb's data tarball.
	HardCap int64 = 8 << 30
	// BombFactor and BombSlack bound the data tarball by the control
	// file's Installed-Size (KiB): BombFactor*Installed-Size*1024 +
	// BombSlack. dpkg counts every file's size in Installed-Size, so a
	// real tarball is about 1x it (headers included).
	BombFactor = 16
	BombSlack  = 16 << 20
	// MaxExpansion bounds the data tarball by its compressed size in the
	// .deb as well: MaxExpansion*compressed + BombSlack. Debian's
	// packages decompress 2x to 10x (tzdata, with many small files, is
	// the highest seen); a .deb without an honest Installed-Size can no
	// longer write gigabytes from a few hundred KB.
	MaxExpansion = 100
	// MaxEntries bounds the entries of one data tarball (every header the
	// tar reader returns, PAX global headers too).
	MaxEntries = 200_000
	// MaxControlBytes bounds the decompressed control tarball.
	MaxControlBytes = 64 << 20
	// MaxControlEntries bounds the control tarball's entries.
	MaxControlEntries = 10000
	// MaxArMembers bounds the ar members of a .deb (debian-binary,
	// control.tar, data.tar and a few optional _ members such as
	// signatures).
	MaxArMembers = 16
	// MaxLZMADict bounds the dictionary a data.tar.lzma header or an
	// xz block header (LZMA2) may ask for: a decoder allocates it before
	// reading any data, and a 30-byte stream could ask for 2 GiB. lzma -9
	// and xz -9 use 64 MiB (dpkg-deb's default 8 MiB); zstd members get
	// the same 128 MiB window cap. For xz the system's decoder runs with
	// --memlimit-decompress=MaxLZMADict+xzMemSlack, which bounds every
	// block; the pure-Go decoder reads one stream (as dpkg-deb writes)
	// through goXZ, which reads the container itself and checks every
	// block's header before that block's decoder exists.
	MaxLZMADict = 128 << 20

	cacheKind     = "deb-unpacked"
	cacheVersion  = "-v1"
	contentsKey   = ":usrmerge-v1"
	manifestName  = "manifest.json"
	manifestForm  = "strata-deb-unpacked/2"
	rootDirName   = "root"
	controlDirNam = "control"
)

// limits are the limits in force: the constants above; tests make them
// small so that a hostile .deb of a few KB shows what a large one would.
type limits struct {
	hardCap, factor, slack, expansion  int64
	entries, controlEntries, arMembers int
	controlBytes                       int64
}

var lim = limits{
	hardCap: HardCap, factor: BombFactor, slack: BombSlack, expansion: MaxExpansion,
	entries: MaxEntries, controlEntries: MaxControlEntries, arMembers: MaxArMembers, controlBytes: MaxControlBytes,
}

// mergedDirs are the top-level folders merged /usr turns into symlinks to
// their usr/ counterparts.
var mergedDirs = map[string]bool{"bin": true, "sbin": true, "lib": true, "lib32": true, "lib64": true, "libx32": true}

// MergedDirs returns the top-level folders merged /usr redirects to usr/
// ("bin", "lib", "lib32", "lib64", "libx32", "sbin").
func MergedDirs() []string {
	return []string{"bin", "lib", "lib32", "lib64", "libx32", "sbin"}
}

// MergedPath rewrites a relative path for merged /usr: "bin/sh" becomes
// "usr/bin/sh", "lib64" becomes "usr/lib64"; other paths are returned as
// they are. The path is cleaned first (a leading "/" or "./" is dropped).
func MergedPath(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	top, _, _ := strings.Cut(p, "/")
	if mergedDirs[top] {
		return "usr/" + p
	}
	return p
}

var (
	hexSHA256   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
)

// ValidName reports whether name is a well-formed Debian package name.
func ValidName(name string) bool { return packageName.MatchString(name) }

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
	// postinst, ...), sorted; strata never runs them.
	Scripts []string
	// SHA256 is the hex sha256 of the .deb.
	SHA256 string
	// Dir is the unpacked root inside the store entry.
	Dir string
	// Entries are the package's filesystem entries in archive order, paths
	// rewritten for merged /usr. Directories are included; missing parent
	// folders are added as 0755 root:root.
	Entries []closure.Entry
	// InstalledBytes is the sum of the regular files' sizes.
	InstalledBytes int64
}

// Contents returns the package's entries as closure.Contents; its key is
// "deb:SHA256:usrmerge-v1".
func (p *Package) Contents() closure.Contents {
	return closure.StaticContents{ID: ContentsKey(p.SHA256), List: p.Entries}
}

// ContentsKey is the key of the contents of the .deb with this sha256
// (Package.Contents), known before it is unpacked.
func ContentsKey(sha256 string) string { return "deb:" + sha256 + contentsKey }

// Unpack extracts the .deb at debPath (already verified to have this
// sha256; it is checked again while reading) into the cache tree
// deb-unpacked/SHA256-v1: cached and atomic. A second call finds the entry
// and only loads its manifest. A .deb that would write outside its root,
// through a symlink, a device node, or more bytes than it declares is
// refused with an error wrapping ErrUnsafe, and nothing is kept.
func Unpack(ctx context.Context, st cache.Trees, debPath, sha256 string) (*Package, error) {
	open := func() (io.ReadCloser, error) { return os.Open(debPath) }
	return unpack(ctx, st, open, filepath.Base(debPath), sha256)
}

// UnpackBlob is Unpack for a .deb held in the cache's blobs by its sha256.
func UnpackBlob(ctx context.Context, st interface {
	cache.Trees
	cache.Blobs
}, sha256 string) (*Package, error) {
	open := func() (io.ReadCloser, error) { return st.OpenBlob(sha256) }
	return unpack(ctx, st, open, sha256, sha256) // named from its control file once read
}

func unpack(ctx context.Context, st cache.Trees, open func() (io.ReadCloser, error), name, sha256 string) (*Package, error) {
	if !hexSHA256.MatchString(sha256) {
		return nil, fmt.Errorf("unpacking %s: sha256 %q is not 64 lowercase hex digits", name, sha256)
	}
	fill := func(tmp string) error { return extract(ctx, open, name, sha256, tmp) }
	key := sha256 + cacheVersion
	dir, err := st.PutDir(cacheKind, key, fill)
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", name, err)
	}
	p, err := load(dir, sha256)
	if err == nil {
		return p, nil
	}
	// A damaged cache entry: drop it and unpack once more.
	if rmErr := st.RemoveDir(cacheKind, key); rmErr != nil {
		return nil, fmt.Errorf("loading unpacked %s: %w (removing the damaged cache entry also failed: %v; delete %s by hand)", name, err, rmErr, dir)
	}
	dir, err = st.PutDir(cacheKind, key, fill)
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", name, err)
	}
	p, err = load(dir, sha256)
	if err != nil {
		return nil, fmt.Errorf("loading unpacked %s: %w (delete %s and retry)", name, err, dir)
	}
	return p, nil
}

// controlFiles are the control tarball's members strata keeps.
type controlFiles struct {
	control, md5sums, conffiles string
	scripts                     []string
	scriptText                  map[string]string
}

var maintainerScripts = map[string]bool{"preinst": true, "postinst": true, "prerm": true, "postrm": true, "config": true}

// debReaders recycles extract's 1 MiB read buffers, one per .deb.
var debReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1<<20) }}

// extract unpacks the .deb into dir (a fresh temporary folder).
func extract(ctx context.Context, open func() (io.ReadCloser, error), deb, wantSHA string, dir string) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	br := debReaders.Get().(*bufio.Reader)
	br.Reset(io.TeeReader(f, h))
	defer func() { br.Reset(nil); debReaders.Put(br) }()
	ar, err := newArReader(br)
	if err != nil {
		return err
	}
	var (
		sawBinary bool
		ctl       *controlFiles
		fields    map[string]string
		x         *extractor
	)
	for members := 0; ; members++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, r, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if members >= lim.arMembers {
			return fmt.Errorf("%w: %s: more than %d ar members (debfile.MaxArMembers); a .deb has debian-binary, control.tar, data.tar and a few optional _ members", ErrUnsafe, deb, lim.arMembers)
		}
		switch {
		case m.Name == "debian-binary":
			b, err := io.ReadAll(io.LimitReader(r, 64))
			if err != nil {
				return fmt.Errorf("reading debian-binary: %w", err)
			}
			if !strings.HasPrefix(string(b), "2.") {
				return fmt.Errorf("debian-binary says format %q; strata reads format 2.x .debs", strings.TrimSpace(string(b)))
			}
			sawBinary = true
		case strings.HasPrefix(m.Name, "control.tar"):
			if !sawBinary || ctl != nil {
				return fmt.Errorf("ar member %s is out of place (expected debian-binary, control.tar, data.tar in that order)", m.Name)
			}
			if ctl, err = readControl(ctx, deb, m.Name, r); err != nil {
				return err
			}
			if fields, err = parseControl(ctl.control); err != nil {
				return fmt.Errorf("%s: control file: %w", m.Name, err)
			}
		case strings.HasPrefix(m.Name, "data.tar"):
			if ctl == nil || x != nil {
				return fmt.Errorf("ar member %s is out of place (expected debian-binary, control.tar, data.tar in that order)", m.Name)
			}
			root, err := openRoot(dir)
			if err != nil {
				return err
			}
			if !strings.HasSuffix(deb, ".deb") { // a store blob, named by its digest
				deb = fmt.Sprintf("%s_%s_%s.deb", fields["Package"], fields["Version"], fields["Architecture"])
			}
			x = &extractor{deb: deb, member: m.Name, root: root, byPath: map[string]*record{}, budget: budgetFor(fields, m.Size)}
			err = x.run(ctx, r)
			root.Close()
			if err != nil {
				return err
			}
		case strings.HasPrefix(m.Name, "_"):
			// Signatures and other optional members: ignored.
		default:
			return fmt.Errorf("unknown ar member %q (the .deb is corrupt or of an unknown kind)", m.Name)
		}
	}
	if x == nil {
		return errors.New("the .deb has no data.tar member")
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA {
		return fmt.Errorf("the .deb has sha256 %s, expected %s (the file changed after it was verified; fetch it again)", got, wantSHA)
	}
	return writeMeta(dir, wantSHA, ctl, x)
}

func openRoot(dir string) (*os.Root, error) {
	rootDir := filepath.Join(dir, rootDirName)
	if err := os.Mkdir(rootDir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenRoot(rootDir)
}

// budgetFor is the most decompressed bytes a package's data tarball may
// have, from its Installed-Size and the tarball's compressed size.
func budgetFor(fields map[string]string, compressed int64) int64 {
	b := lim.hardCap
	if kib, err := strconv.ParseInt(strings.TrimSpace(fields["Installed-Size"]), 10, 64); err == nil && kib >= 0 && kib <= (lim.hardCap-lim.slack)/lim.factor/1024 {
		b = kib*1024*lim.factor + lim.slack
	}
	if compressed >= 0 && compressed <= (lim.hardCap-lim.slack)/lim.expansion {
		b = min(b, compressed*lim.expansion+lim.slack)
	}
	return b
}

// errOverBudget is what a meter returns once its stream passed its limit.
var errOverBudget = errors.New("over budget")

// meter counts the bytes read through it and fails with errOverBudget as
// soon as they pass max (it never reads more than one byte past it).
type meter struct {
	r      io.Reader
	n, max int64
}

func (m *meter) Read(p []byte) (int, error) {
	if m.n > m.max {
		return 0, errOverBudget
	}
	if rem := m.max + 1 - m.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	k, err := m.r.Read(p)
	m.n += int64(k)
	if m.n > m.max {
		return k, errOverBudget
	}
	return k, err
}

func readControl(ctx context.Context, deb, member string, r io.Reader) (*controlFiles, error) {
	dr, done, err := decompress(ctx, member, r)
	if err != nil {
		return nil, err
	}
	defer done()
	mr := &meter{r: dr, max: lim.controlBytes}
	tr := tar.NewReader(mr)
	ctl := &controlFiles{}
	seen := false
	over := func(name string) error {
		return fmt.Errorf("%w: %s: %s: entry %q: the control tarball passes %d bytes (debfile.MaxControlBytes, headers and skipped entries included); the package is malformed or hostile", ErrUnsafe, deb, member, name, lim.controlBytes)
	}
	last := ""
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errOverBudget) {
			return nil, over(last)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", member, err)
		}
		if n >= lim.controlEntries {
			return nil, fmt.Errorf("%w: %s: %s has more than %d entries (debfile.MaxControlEntries)", ErrUnsafe, deb, member, lim.controlEntries)
		}
		last = hdr.Name
		if hdr.Size < 0 || hdr.Size > lim.controlBytes-mr.n {
			return nil, over(hdr.Name) // any type: tar reads a skipped body too
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		var dst *string
		switch {
		case maintainerScripts[name]:
			if ctl.scriptText == nil {
				ctl.scriptText = map[string]string{}
			}
			if _, dup := ctl.scriptText[name]; !dup {
				ctl.scripts = append(ctl.scripts, name)
			}
			b, err := io.ReadAll(tr)
			if errors.Is(err, errOverBudget) {
				return nil, over(hdr.Name)
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s/%s: %w", member, name, err)
			}
			ctl.scriptText[name] = string(b)
			continue
		}
		switch name {
		case "control":
			dst, seen = &ctl.control, true
		case "md5sums":
			dst = &ctl.md5sums
		case "conffiles":
			dst = &ctl.conffiles
		default:
			continue
		}
		b, err := io.ReadAll(tr)
		if errors.Is(err, errOverBudget) {
			return nil, over(hdr.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s/%s: %w", member, name, err)
		}
		*dst = string(b)
	}
	if !seen {
		return nil, fmt.Errorf("%s has no control file (the .deb is corrupt)", member)
	}
	sort.Strings(ctl.scripts)
	return ctl, nil
}

// record is one extracted entry plus the sha256 of a regular file's bytes.
type record struct {
	closure.Entry
	raw      string // the name in the tarball, for messages
	sum      string
	implicit bool // a parent folder the tarball did not list
}

type extractor struct {
	deb, member string
	root        *os.Root
	records     []*record
	byPath      map[string]*record
	budget      int64
	meter       *meter
	buf         []byte // the copy buffer for every file's bytes (io.Copy would allocate one per file)
}

func (x *extractor) unsafe(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s: entry %q: %s; the package is malformed or hostile and strata will not unpack it (exclude it or use another version)",
		ErrUnsafe, x.deb, x.member, name, fmt.Sprintf(format, args...))
}

func (x *extractor) run(ctx context.Context, r io.Reader) error {
	dr, done, err := decompress(ctx, x.member, r)
	if err != nil {
		return err
	}
	defer done()
	x.meter = &meter{r: dr, max: x.budget}
	tr := tar.NewReader(x.meter)
	last := ""
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, errOverBudget) {
			return x.bomb(last, 0)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", x.member, err)
		}
		if n >= lim.entries {
			return x.unsafe(hdr.Name, "more than %d entries (debfile.MaxEntries)", lim.entries)
		}
		last = hdr.Name
		if hdr.Size < 0 || hdr.Size > x.budget-x.meter.n {
			return x.bomb(hdr.Name, hdr.Size) // any type: tar reads a skipped body too
		}
		if err := x.entry(hdr, tr); err != nil {
			if errors.Is(err, errOverBudget) {
				return x.bomb(hdr.Name, 0)
			}
			return err
		}
	}
}

// notUTF8 explains why a name that is not UTF-8 is refused rather than
// kept: Debian requires UTF-8 file names (lintian's
// file-name-is-not-valid-UTF-8), the unpacked entry's JSON manifest, the
// PAX records of the layers strata writes and the tools that read images
// all carry text, and a name rewritten on the way (U+FFFD) no longer
// names the file on disk.
const notUTF8 = "the name is not valid UTF-8 (Debian requires UTF-8 file names; strata refuses rather than rewrite them)"

// cleanName turns a tarball name into an entry path: relative, clean,
// merged-/usr rewritten. "" means the root folder itself.
func (x *extractor) cleanName(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") {
		return "", x.unsafe(raw, "absolute path")
	}
	if strings.ContainsRune(raw, 0) {
		return "", x.unsafe(raw, "NUL byte in the name")
	}
	if !utf8.ValidString(raw) {
		return "", x.unsafe(raw, notUTF8)
	}
	for _, el := range strings.Split(raw, "/") {
		if el == ".." {
			return "", x.unsafe(raw, "path traversal (\"..\")")
		}
	}
	p := path.Clean(raw)
	if p == "." {
		return "", nil
	}
	top, _, _ := strings.Cut(p, "/")
	if mergedDirs[top] {
		p = "usr/" + p
	}
	return p, nil
}

func (x *extractor) add(r *record) {
	x.records = append(x.records, r)
	x.byPath[r.Path] = r
}

// parents makes sure every ancestor of p is a folder, creating missing ones.
func (x *extractor) parents(raw, p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		a := p[:i]
		if r, ok := x.byPath[a]; ok {
			if r.Type != closure.Dir {
				return x.unsafe(raw, "it lies under %s, which is a %s, not a folder (writing through a symlink or file is refused)", a, r.Type)
			}
			continue
		}
		if err := x.root.Mkdir(a, 0o755); err != nil {
			return fmt.Errorf("%s: %s: creating %s: %w", x.deb, x.member, a, err)
		}
		x.add(&record{Entry: closure.Entry{Path: a, Type: closure.Dir, Mode: 0o755}, raw: a, implicit: true})
	}
	return nil
}

func (x *extractor) entry(hdr *tar.Header, tr io.Reader) error {
	raw := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock:
		return x.unsafe(raw, "device node")
	case tar.TypeFifo:
		return x.unsafe(raw, "fifo")
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	default:
		return x.unsafe(raw, "unsupported tar entry type %q", string(hdr.Typeflag))
	}
	p, err := x.cleanName(raw)
	if err != nil {
		return err
	}
	if p == "" {
		if hdr.Typeflag != tar.TypeDir {
			return x.unsafe(raw, "the root is not a folder")
		}
		return nil
	}
	rec := &record{raw: raw, Entry: closure.Entry{Path: p, Mode: closure.ModeFromUnix(uint32(hdr.Mode)), UID: hdr.Uid, GID: hdr.Gid}}
	// The merged-/usr symlinks themselves (bin -> usr/bin) are sysfiles' job.
	if top := strings.TrimPrefix(p, "usr/"); p != top && mergedDirs[top] && !strings.HasPrefix(strings.TrimPrefix(path.Clean(raw), "/"), "usr/") {
		if hdr.Typeflag == tar.TypeSymlink {
			if t := strings.TrimPrefix(path.Clean(hdr.Linkname), "/"); t == "usr/"+top {
				return nil
			}
			return x.unsafe(raw, "top-level %s is a symlink to %q, which conflicts with merged /usr (%s -> usr/%s)", top, hdr.Linkname, top, top)
		}
		if hdr.Typeflag != tar.TypeDir {
			return x.unsafe(raw, "top-level %s must be a folder", top)
		}
	}
	if err := x.parents(raw, p); err != nil {
		return err
	}
	old := x.byPath[p]
	switch hdr.Typeflag {
	case tar.TypeDir:
		rec.Type = closure.Dir
		if old != nil {
			if old.Type != closure.Dir {
				return x.unsafe(raw, "a folder at %s, which %q already made a %s", p, old.raw, old.Type)
			}
			if old.implicit { // the tarball lists it after its children
				old.Entry, old.raw, old.implicit = rec.Entry, raw, false
			}
			return nil // merged duplicates (lib/ and usr/lib/): the first wins
		}
		if err := x.root.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("%s: %s: creating %s: %w", x.deb, x.member, p, err)
		}
	case tar.TypeReg, tar.TypeRegA:
		rec.Type = closure.Regular
		rec.Size = hdr.Size
		h := sha256.New()
		var w io.Writer = h
		var f *os.File
		if old == nil {
			perm := fs.FileMode(0o644)
			if hdr.Mode&0o111 != 0 {
				perm = 0o755
			}
			f, err = x.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
			if err != nil {
				return fmt.Errorf("%s: %s: creating %s: %w", x.deb, x.member, p, err)
			}
			w = io.MultiWriter(f, h)
		}
		if x.buf == nil {
			x.buf = make([]byte, 128<<10)
		}
		n, err := io.CopyBuffer(w, tr, x.buf)
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %s: writing %s: %w", x.deb, x.member, p, err) // errOverBudget: run says which limit
		}
		if n != hdr.Size {
			return fmt.Errorf("%s: %s: %s is truncated", x.deb, x.member, raw)
		}
		rec.sum = hex.EncodeToString(h.Sum(nil))
		if old != nil {
			return x.duplicate(old, rec)
		}
	case tar.TypeSymlink:
		rec.Type = closure.Symlink
		rec.Link = hdr.Linkname
		if rec.Link == "" || strings.ContainsRune(rec.Link, 0) {
			return x.unsafe(raw, "symlink with an empty or bad target")
		}
		if !utf8.ValidString(rec.Link) {
			return x.unsafe(raw, "symlink target %q: %s", rec.Link, notUTF8)
		}
		if old != nil {
			return x.duplicate(old, rec)
		}
		if err := x.root.Symlink(rec.Link, p); err != nil {
			return fmt.Errorf("%s: %s: creating symlink %s: %w", x.deb, x.member, p, err)
		}
	case tar.TypeLink:
		rec.Type = closure.Hardlink
		if !utf8.ValidString(hdr.Linkname) {
			return x.unsafe(raw, "hardlink target %q: %s", hdr.Linkname, notUTF8)
		}
		target, err := x.cleanName(hdr.Linkname)
		if err != nil {
			return x.unsafe(raw, "hardlink target %q points outside the package", hdr.Linkname)
		}
		t := x.byPath[target]
		if t != nil && t.Type == closure.Hardlink {
			t = x.byPath[t.Link]
		}
		if t == nil || t.Type != closure.Regular {
			return x.unsafe(raw, "hardlink to %q, which is not a file the package already unpacked", hdr.Linkname)
		}
		rec.Link = t.Path
		rec.sum = t.sum
		if old != nil {
			return x.duplicate(old, rec)
		}
		if err := x.root.Link(t.Path, p); err != nil {
			return fmt.Errorf("%s: %s: creating hardlink %s: %w", x.deb, x.member, p, err)
		}
	}
	x.add(rec)
	return nil
}

func (x *extractor) bomb(raw string, size int64) error {
	what := "the data tarball passes"
	if size > 0 {
		what = fmt.Sprintf("%d more bytes would take the data tarball past", size)
	}
	return x.unsafe(raw, "%s its limit of %d decompressed bytes (headers and skipped entries count; the least of debfile.BombFactor x Installed-Size + debfile.BombSlack, debfile.MaxExpansion x its compressed size + debfile.BombSlack, and debfile.HardCap = %d): a decompression bomb or a wrong Installed-Size", what, x.budget, lim.hardCap)
}

// duplicate accepts a second entry at the same path (lib/x and usr/lib/x
// after the merged-/usr rewrite, or a name listed twice) only when it is
// the same.
func (x *extractor) duplicate(old, rec *record) error {
	same := old.Mode == rec.Mode && old.UID == rec.UID && old.GID == rec.GID
	switch {
	case old.Type == closure.Symlink && rec.Type == closure.Symlink:
		same = same && old.Link == rec.Link
	case (old.Type == closure.Regular || old.Type == closure.Hardlink) && (rec.Type == closure.Regular || rec.Type == closure.Hardlink):
		same = same && old.sum == rec.sum
	default:
		same = false
	}
	if !same {
		return fmt.Errorf("%s: %s: %q and %q both land at %s (merged /usr) with different content or metadata; strata cannot merge them (exclude the package or report it to its maintainer)", x.deb, x.member, old.raw, rec.raw, rec.Path)
	}
	return nil
}

// manifest is the metadata kept next to the unpacked files.
type manifest struct {
	Format         string          `json:"format"`
	SHA256         string          `json:"sha256"`
	InstalledBytes int64           `json:"installedBytes"`
	Scripts        []string        `json:"scripts,omitempty"`
	Entries        []manifestEntry `json:"entries"`
}

type manifestEntry struct {
	Path   string `json:"p"`
	Type   string `json:"t"`
	Mode   uint32 `json:"m"` // unix bits, 07777
	UID    int    `json:"u"`
	GID    int    `json:"g"`
	Size   int64  `json:"s,omitempty"`
	Link   string `json:"l,omitempty"`
	SHA256 string `json:"h,omitempty"`
}

func writeMeta(dir, sha string, ctl *controlFiles, x *extractor) error {
	m := manifest{Format: manifestForm, SHA256: sha, Scripts: ctl.scripts}
	for _, r := range x.records {
		if r.Type == closure.Regular {
			m.InstalledBytes += r.Size
		}
		m.Entries = append(m.Entries, manifestEntry{
			Path: r.Path, Type: r.Type.String(), Mode: closure.UnixMode(r.Mode), UID: r.UID, GID: r.GID,
			Size: r.Size, Link: r.Link, SHA256: r.sum,
		})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	cdir := filepath.Join(dir, controlDirNam)
	if err := os.Mkdir(cdir, 0o755); err != nil {
		return err
	}
	for name, data := range map[string]string{"control": ctl.control, "md5sums": ctl.md5sums, "conffiles": ctl.conffiles} {
		if err := os.WriteFile(filepath.Join(cdir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	for name, data := range ctl.scriptText {
		if err := os.WriteFile(filepath.Join(cdir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, manifestName), b, 0o644)
}
