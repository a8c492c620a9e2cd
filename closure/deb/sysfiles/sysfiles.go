package sysfiles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/rootfs"
	"github.com/stratabuild/strata/rootfs/ldcache"
	"github.com/stratabuild/strata/spec"
)

// CABundle is where the generated CA bundle goes (update-ca-certificates'
// file, relative to the root); images that have it get SSL_CERT_FILE.
const CABundle = "etc/ssl/certs/ca-certificates.crt"

// Options are Generate's inputs.
type Options struct {
	// Packages in closure order.
	Packages []*debfile.Package
	// Accounts adds users and groups to the defaults (root 0, nobody 65534,
	// nonroot 65532); nil for the defaults only.
	Accounts *spec.Accounts
	// Suite is the Debian suite (codename) like "bookworm"; Arch the Debian
	// architecture like "amd64".
	Suite, Arch string
	// OSRelease is the spec's osRelease map: its fields replace or add to
	// the suite's os-release facts, written to usr/lib/os-release with
	// etc/os-release linking to it; the packages must not ship either
	// (the Debian source prunes them). nil: the suite's facts, and a
	// package's os-release wins.
	OSRelease map[string]string
	// Nsswitch is the spec's nsswitch map: the whole etc/nsswitch.conf,
	// and no package's may ship one (the Debian source prunes it). nil:
	// strata's default file, and a package's wins.
	Nsswitch map[string]string
	// Certificates is the ca-certificates package the CA bundle is made
	// of, when Packages holds a pruned copy without the certificates; nil:
	// the ca-certificates package in Packages, if any.
	Certificates *debfile.Package
	// BundleOnly writes only etc/ssl/certs/ca-certificates.crt, without
	// the NAME.pem and hash links (which would point at certificates the
	// image leaves out).
	BundleOnly bool
	// LDCache writes etc/ld.so.cache from the packages' libraries (see
	// package ldcache); it needs libc6 among the packages.
	LDCache bool
	// StatusInPackages leaves var/lib/dpkg/status.d out of the generated
	// files: the caller puts each package's record in the package's own
	// layer (StatusEntries), so a scanner reading one layer finds that
	// layer's packages.
	StatusInPackages bool
}

// keyPrefix versions the Contents key.
const keyPrefix = "generated:sysfiles-v1:sha256:"

// statusLine is what dpkg writes for an installed package.
const statusLine = "Status: install ok installed"

var suiteName = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)

// Generate returns the generated files (sorted by path, parents first) and
// their total size in bytes. The same Options give the same entries and
// bytes, and the Contents key is a hash of all of them.
//
// What it writes, standing in for maintainer scripts strata never runs:
//   - the merged-/usr root symlinks bin, sbin, lib -> usr/…; lib64 ->
//     usr/lib64 on amd64 (for the ELF interpreter
//     /lib64/ld-linux-x86-64.so.2) and on any architecture whose packages
//     ship usr/lib64; lib32 and libx32 when packages ship usr/lib32 or
//     usr/libx32;
//   - what package rootfs writes for every image: etc/passwd and
//     etc/group (root 0, nobody 65534, nonroot 65532, then
//     Options.Accounts), tmp, root, home and the homes strata assigns,
//     etc/nsswitch.conf, and etc/os-release with the suite's release
//     facts (ID=debian, VERSION_ID, VERSION_CODENAME), the last two
//     unless a package (base-files) ships them;
//   - when the ca-certificates package is present, what
//     update-ca-certificates makes: etc/ssl/certs/ca-certificates.crt
//     (its usr/share/ca-certificates/**/*.crt concatenated in path
//     order), and unless BundleOnly etc/ssl/certs/NAME.pem links to each
//     certificate and HASH.N links by OpenSSL subject hash (as `openssl
//     rehash` names them);
//   - the links `update-alternatives --install` calls in postinst
//     scripts would make (LINK -> /etc/alternatives/NAME -> PATH, highest
//     priority wins, only for shipped paths and calls with literal
//     arguments), e.g. /usr/bin/awk for mawk;
//   - with LDCache, etc/ld.so.cache as `ldconfig -X` would write it for
//     the image (package ldcache);
//   - var/lib/dpkg/status.d/NAME (the control paragraph plus
//     "Status: install ok installed") and NAME.md5sums per package, the
//     layout distroless uses and scanners (syft, trivy) read; NAME:ARCH
//     when two packages share a name (with StatusInPackages the caller
//     puts them in each package's layer instead, from StatusEntries).
//
// The layer belongs on top of the package layers: the root symlinks must
// not be shadowed, and a package shipping a generated path other than the
// ones listed as skipped is an error.
func Generate(ctx context.Context, opt Options) (closure.Contents, int64, error) {
	if !suiteName.MatchString(opt.Suite) {
		return nil, 0, fmt.Errorf("generating system files: suite %q is not a Debian suite name like bookworm (set debian.suite)", opt.Suite)
	}
	if !suiteName.MatchString(opt.Arch) {
		return nil, 0, fmt.Errorf("generating system files: architecture %q is not a Debian architecture like amd64", opt.Arch)
	}
	shipped := map[string]string{} // path -> package name, for non-folder entries
	tops := map[string]bool{}
	for _, p := range opt.Packages {
		if p == nil {
			return nil, 0, errors.New("generating system files: nil package")
		}
		for _, e := range p.Entries {
			if e.Type != closure.Dir {
				if _, ok := shipped[e.Path]; !ok {
					shipped[e.Path] = p.Name
				}
			}
			if rest, ok := strings.CutPrefix(e.Path, "usr/"); ok {
				top, _, _ := strings.Cut(rest, "/")
				tops[top] = true
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	g := &gen{byPath: map[string]closure.Entry{}, shipped: shipped}

	// Merged /usr.
	for _, top := range debfile.MergedDirs() {
		need := top == "bin" || top == "sbin" || top == "lib" || tops[top]
		if top == "lib64" && opt.Arch == "amd64" {
			need = true
		}
		if need {
			if err := g.symlink(top, "usr/"+top, false); err != nil {
				return nil, 0, err
			}
		}
	}

	// Accounts, homes, /tmp, nsswitch and os-release: distro-neutral, from
	// package rootfs; a package shipping nsswitch.conf or os-release
	// (base-files) wins, one shipping passwd or group is an error.
	rel := osRelease(opt.Suite)
	if opt.OSRelease != nil {
		rel.Note, rel.Fields = "from the spec's osRelease", opt.OSRelease
	}
	common, err := rootfs.Entries(rootfs.Options{Accounts: opt.Accounts, OSRelease: rel, Nsswitch: opt.Nsswitch})
	if err != nil {
		return nil, 0, fmt.Errorf("generating system files: %w", err)
	}
	for _, e := range common {
		if err := g.common(e, opt.OSRelease != nil, opt.Nsswitch != nil); err != nil {
			return nil, 0, err
		}
	}

	// CA bundle.
	ca := opt.Certificates
	for _, p := range opt.Packages {
		if ca == nil && p.Name == "ca-certificates" {
			ca = p
		}
	}
	if ca != nil {
		if err := g.certificates(ca, !opt.BundleOnly); err != nil {
			return nil, 0, err
		}
	}

	// update-alternatives links.
	if err := g.alternatives(opt.Packages); err != nil {
		return nil, 0, err
	}

	// ld.so.cache, over the packages and the links generated so far.
	if opt.LDCache {
		if err := g.ldCache(ctx, opt); err != nil {
			return nil, 0, err
		}
	}

	// dpkg status.d.
	if !opt.StatusInPackages {
		if err := g.status(opt.Packages); err != nil {
			return nil, 0, err
		}
	}
	return g.contents()
}

// gen collects generated entries with their bytes.
type gen struct {
	byPath  map[string]closure.Entry
	data    map[string]string
	shipped map[string]string
}

func (g *gen) put(e closure.Entry) {
	g.byPath[e.Path] = e
}

func (g *gen) dir(p string, mode fs.FileMode, uid, gid int) {
	for d := parent(p); d != ""; d = parent(d) {
		if _, ok := g.byPath[d]; !ok {
			g.put(closure.Entry{Path: d, Type: closure.Dir, Mode: 0o755})
		}
	}
	g.put(closure.Entry{Path: p, Type: closure.Dir, Mode: mode, UID: uid, GID: gid})
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// symlink adds a symlink; when a package ships the path, the package wins
// if yield is set, else it is an error.
func (g *gen) symlink(p, target string, yield bool) error {
	if pkg, ok := g.shipped[p]; ok {
		if yield {
			return nil
		}
		return fmt.Errorf("generating system files: package %s ships /%s, which strata generates (exclude the package)", pkg, p)
	}
	if d := parent(p); d != "" {
		if _, ok := g.byPath[d]; !ok {
			g.dir(d, 0o755, 0, 0)
		}
	}
	g.put(closure.Entry{Path: p, Type: closure.Symlink, Mode: 0o777, Link: target})
	return nil
}

// file adds a 0644 root-owned file; when a package ships the path, the
// package wins if yield is set, else it is an error.
func (g *gen) file(p, content string, yield bool) error {
	if pkg, ok := g.shipped[p]; ok {
		if yield {
			return nil
		}
		return fmt.Errorf("generating system files: package %s ships /%s, which strata generates from the spec (exclude the package)", pkg, p)
	}
	if d := parent(p); d != "" {
		if _, ok := g.byPath[d]; !ok {
			g.dir(d, 0o755, 0, 0)
		}
	}
	if g.data == nil {
		g.data = map[string]string{}
	}
	g.data[p] = content
	g.put(closure.Entry{Path: p, Type: closure.Regular, Mode: 0o644, Size: int64(len(content)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(content)), nil
	}})
	return nil
}

// contents sorts the entries and hashes every path, metadata and byte.
func (g *gen) contents() (closure.Contents, int64, error) {
	paths := make([]string, 0, len(g.byPath))
	for p := range g.byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	var size int64
	list := make([]closure.Entry, 0, len(paths))
	for _, p := range paths {
		e := g.byPath[p]
		fmt.Fprintf(h, "%q %s %o %d %d %d %q\n", e.Path, e.Type, uint32(e.Mode), e.UID, e.GID, e.Size, e.Link)
		if e.Type == closure.Regular {
			io.WriteString(h, g.data[p])
			size += e.Size
		}
		list = append(list, e)
	}
	return closure.StaticContents{ID: keyPrefix + hex.EncodeToString(h.Sum(nil)), List: list}, size, nil
}

// common adds an entry of package rootfs; specRelease and specNss say the
// spec's osRelease and nsswitch wrote those files, so no package's may win.
func (g *gen) common(e closure.Entry, specRelease, specNss bool) error {
	switch e.Type {
	case closure.Symlink:
		return g.symlink(e.Path, e.Link, false)
	case closure.Dir:
		g.dir(e.Path, e.Mode, e.UID, e.GID)
		return nil
	case closure.Regular:
		if e.Mode != 0o644 || e.UID != 0 || e.GID != 0 {
			return fmt.Errorf("generating system files: /%s is %v %d:%d, want a root-owned 0644 file", e.Path, e.Mode, e.UID, e.GID)
		}
		rc, err := e.Open()
		if err != nil {
			return fmt.Errorf("generating system files: /%s: %w", e.Path, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("generating system files: reading /%s: %w", e.Path, err)
		}
		yield := (e.Path == rootfs.NsswitchPath && !specNss) || (e.Path == rootfs.OSReleasePath && !specRelease)
		return g.file(e.Path, string(data), yield)
	}
	return fmt.Errorf("generating system files: rootfs gave /%s as a %s", e.Path, e.Type)
}

// debianVersion maps a codename to its release number ("" when unknown,
// as for sid).
func debianVersion(suite string) string {
	switch suite {
	case "buster":
		return "10"
	case "bullseye":
		return "11"
	case "bookworm":
		return "12"
	case "trixie":
		return "13"
	case "forky":
		return "14"
	}
	return ""
}

// osRelease is what base-files' os-release would say for the suite.
func osRelease(suite string) rootfs.OSRelease {
	r := rootfs.OSRelease{
		Note:            "the base-files package was not installed",
		Name:            "Debian GNU/Linux",
		VersionCodename: suite,
		ID:              "debian",
	}
	if v := debianVersion(suite); v != "" {
		r.PrettyName = fmt.Sprintf("Debian GNU/Linux %s (%s)", v, suite)
		r.VersionID, r.Version = v, fmt.Sprintf("%s (%s)", v, suite)
	} else {
		r.PrettyName = "Debian GNU/Linux " + suite
	}
	return r
}

// certificates does what update-ca-certificates does with every
// certificate enabled: etc/ssl/certs/ca-certificates.crt is the
// concatenation of the package's usr/share/ca-certificates/**/*.crt in path
// order (each ending in a newline). With links, etc/ssl/certs/NAME.pem
// links to each certificate, and etc/ssl/certs/HASH.N links to NAME.pem by
// OpenSSL subject hash (as `openssl rehash` makes them) for programs that
// look certificates up by folder.
//
// The order: the package's postinst lists every certificate it ships in
// /etc/ca-certificates.conf (all enabled by default) from a sorted listing
// of usr/share/ca-certificates, and update-ca-certificates appends them to
// the bundle in that file's order; the .crt paths sorted bytewise are that
// order (the mozilla/ folder holds them all).
func (g *gen) certificates(p *debfile.Package, links bool) error {
	const share = "usr/share/ca-certificates/"
	var certs []closure.Entry
	for _, e := range p.Entries {
		if e.Type == closure.Regular && strings.HasPrefix(e.Path, share) && strings.HasSuffix(e.Path, ".crt") {
			certs = append(certs, e)
		}
	}
	if len(certs) == 0 {
		return fmt.Errorf("building the CA bundle: package ca-certificates %s has no usr/share/ca-certificates/**/*.crt", p.Version)
	}
	sort.Slice(certs, func(i, j int) bool { return certs[i].Path < certs[j].Path })
	g.dir("etc/ssl/certs", 0o755, 0, 0)
	pemName := strings.NewReplacer(" ", "_", "(", "=", ")", "=", ",", "_")
	type linked struct{ pem, der, subject string }
	var pems []linked
	var bundle strings.Builder
	for _, e := range certs {
		rc, err := e.Open()
		if err != nil {
			return fmt.Errorf("building the CA bundle: %w", err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("building the CA bundle: reading %s: %w", e.Path, err)
		}
		bundle.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			bundle.WriteByte('\n')
		}
		if !links {
			continue
		}
		pem := pemName.Replace(strings.TrimSuffix(path.Base(e.Path), ".crt")) + ".pem"
		link := "etc/ssl/certs/" + pem
		if _, dup := g.byPath[link]; dup {
			continue // the same file name in two folders: the first wins
		}
		if err := g.symlink(link, "/"+e.Path, true); err != nil {
			return err
		}
		if subject, der, err := certSubject(data); err == nil { // else not linked by hash, as with openssl rehash
			pems = append(pems, linked{pem: pem, der: string(der), subject: string(subject)})
		}
	}
	// Hash links, numbered per hash in NAME.pem order; duplicates skipped.
	sort.Slice(pems, func(i, j int) bool { return pems[i].pem < pems[j].pem })
	byHash := map[uint32][]string{}
	for _, c := range pems {
		h, err := subjectHash([]byte(c.subject))
		if err != nil {
			continue
		}
		if slices.Contains(byHash[h], c.der) {
			continue
		}
		link := fmt.Sprintf("etc/ssl/certs/%08x.%d", h, len(byHash[h]))
		byHash[h] = append(byHash[h], c.der)
		if err := g.symlink(link, c.pem, true); err != nil {
			return err
		}
	}
	return g.file(CABundle, bundle.String(), true)
}

// ldCache writes etc/ld.so.cache for the image: the packages' entries in
// closure order with the generated ones on top.
func (g *gen) ldCache(ctx context.Context, opt Options) error {
	if !slices.ContainsFunc(opt.Packages, func(p *debfile.Package) bool { return p.Name == "libc6" }) {
		return errors.New("debian.ldCache: the image has no libc6, and only glibc's dynamic linker reads /etc/ld.so.cache (add libc6 to debian.packages or remove ldCache)")
	}
	var all []closure.Entry
	for _, p := range opt.Packages {
		all = append(all, p.Entries...)
	}
	for _, e := range g.byPath {
		all = append(all, e)
	}
	// g.byPath is a map: its entries go in path order, so the same
	// packages give the same cache.
	gen := all[len(all)-len(g.byPath):]
	sort.Slice(gen, func(i, j int) bool { return gen[i].Path < gen[j].Path })
	data, _, err := ldcache.Generate(ctx, ldcache.Options{Entries: all, Arch: opt.Arch})
	if err != nil {
		return fmt.Errorf("generating /%s: %w", ldcache.Path, err)
	}
	return g.file(ldcache.Path, string(data), false)
}

// status writes var/lib/dpkg/status.d records.
func (g *gen) status(pkgs []*debfile.Package) error {
	g.dir("var/lib/dpkg/status.d", 0o755, 0, 0)
	count := map[string]int{}
	for _, p := range pkgs {
		count[p.Name]++
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		if !debfile.ValidName(p.Name) || !suiteName.MatchString(p.Arch) {
			return fmt.Errorf("writing dpkg status: package name %q or architecture %q is malformed", p.Name, p.Arch)
		}
		name := p.Name
		if count[p.Name] > 1 {
			name = p.Name + ":" + p.Arch
		}
		if seen[name] {
			return fmt.Errorf("writing dpkg status: package %s (%s) appears twice in the closure; the resolver must pick one", p.Name, p.Arch)
		}
		seen[name] = true
		rec, err := statusRecord(p)
		if err != nil {
			return err
		}
		if err := g.file("var/lib/dpkg/status.d/"+name, rec, false); err != nil {
			return err
		}
		if p.MD5Sums != "" {
			if err := g.file("var/lib/dpkg/status.d/"+name+".md5sums", p.MD5Sums, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// StatusEntries returns the dpkg status.d entries of one package, for its
// own layer: the folders var, var/lib, var/lib/dpkg and
// var/lib/dpkg/status.d (0755), status.d/NAME (the control paragraph plus
// "Status: install ok installed") and NAME.md5sums when the package has
// one. name is the package name, or NAME:ARCH when two packages of the
// closure share it.
func StatusEntries(p *debfile.Package, name string) ([]closure.Entry, error) {
	if !debfile.ValidName(p.Name) || !suiteName.MatchString(p.Arch) {
		return nil, fmt.Errorf("writing dpkg status: package name %q or architecture %q is malformed", p.Name, p.Arch)
	}
	rec, err := statusRecord(p)
	if err != nil {
		return nil, err
	}
	g := &gen{byPath: map[string]closure.Entry{}}
	g.dir("var/lib/dpkg/status.d", 0o755, 0, 0)
	if err := g.file("var/lib/dpkg/status.d/"+name, rec, false); err != nil {
		return nil, err
	}
	if p.MD5Sums != "" {
		if err := g.file("var/lib/dpkg/status.d/"+name+".md5sums", p.MD5Sums, false); err != nil {
			return nil, err
		}
	}
	c, _, err := g.contents()
	if err != nil {
		return nil, err
	}
	return c.Entries(context.Background())
}

// statusRecord is the package's control paragraph with dpkg's Status line
// after the Package field.
func statusRecord(p *debfile.Package) (string, error) {
	text := strings.ReplaceAll(p.Control, "\r\n", "\n")
	if i := strings.Index(text, "\n\n"); i >= 0 {
		text = text[:i]
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	out := make([]string, 0, len(lines)+1)
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, "Status:") {
			continue
		}
		out = append(out, l)
		if !found && strings.HasPrefix(l, "Package:") {
			out = append(out, statusLine)
			found = true
		}
	}
	if !found {
		return "", fmt.Errorf("writing dpkg status for %s: its control file has no Package field", p.Name)
	}
	return strings.Join(out, "\n") + "\n", nil
}
