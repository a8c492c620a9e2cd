package deb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// The parsed-index cache format (version 3). It is written in one pass
// while the Packages file is parsed and read in place (mapped read-only),
// so neither side holds every package in memory: a resolution decodes only
// the packages it visits.
//
//	magic      indexMagic
//	records    one per stanza, in index order: 17 strings (uvarint length
//	           + bytes, the Package fields in encodeRecord's order), then
//	           Essential, Size and Installed-Size as uvarints
//	pool       strings (uvarint length + bytes): the names of the lookup,
//	           then the Provides names, versions and qualifiers
//	pkgs       npkg u32: the record offset of package k
//	order      norder (name, pkg) u32 pairs: the packages of the
//	           architecture by name, highest version first (index order
//	           among equal versions), exact duplicates dropped
//	provs      nprov (name, pkg, version, qual) u32 quadruples: the
//	           Provides entries by name, index order among equal names
//	trailer    npkg, norder, nprov, poolOff, pkgsOff, orderOff, provsOff
//	           (u32 each), then indexEnd
//
// Offsets count from the start of the file, u32 little-endian. Names are
// bisected in the pool, so a lookup touches a few pages of a 1 MB pool
// and the tables, never the records of packages it does not return.
const (
	indexMagic = "strata-deb-index 3\n"
	indexEnd   = "SDI3"
	// trailerSize is the fixed size of the trailer.
	trailerSize = 7*4 + len(indexEnd)
	// maxIndexFile bounds a cached index: offsets are 32 bits.
	maxIndexFile = 1<<32 - 1
)

var errShortCache = errors.New("truncated")

// errIndexDamaged marks a cached index whose bytes do not decode; the
// entry is removed and the index fetched again.
var errIndexDamaged = errors.New("the cached package index is damaged")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordFields lists a package's string fields in record order.
func recordFields(p *Package) [17]*string {
	return [...]*string{&p.Name, &p.Version, &p.Arch, &p.MultiArch, &p.Depends, &p.PreDepends, &p.Provides,
		&p.Conflicts, &p.Breaks, &p.Priority, &p.Filename, &p.SHA256, &p.Maintainer, &p.Source, &p.Description, &p.Homepage, &p.Section}
}

func appendRecord(b []byte, p *Package) []byte {
	for _, f := range recordFields(p) {
		b = appendString(b, *f)
	}
	ess := uint64(0)
	if p.Essential {
		ess = 1
	}
	b = binary.AppendUvarint(b, ess)
	b = binary.AppendUvarint(b, uint64(p.Size))
	return binary.AppendUvarint(b, uint64(p.InstalledSize))
}

// span is a string the encoder keeps in its arena.
type span struct{ off, n uint32 }

// orderKey is what the encoder keeps of a package of the architecture to
// sort the lookup: its name and version, nothing else.
type orderKey struct {
	name, version span
	pkg           uint32
}

// rawProvide is a Provides entry before it is written.
type rawProvide struct {
	name, version, qual span
	pkg                 uint32
}

// indexEncoder writes the cached form of one Packages file as it is
// parsed: add per stanza, then finish.
type indexEncoder struct {
	w     io.Writer
	arch  string
	label string // names the index in errors
	off   uint64
	recs  []uint32
	keys  []orderKey
	provs []rawProvide
	// arena holds the kept names, versions and qualifiers back to back:
	// one allocation instead of two strings per package.
	arena []byte
	buf   []byte
	err   error
}

// keep copies s into the arena.
func (e *indexEncoder) keep(s string) span {
	sp := span{off: uint32(len(e.arena)), n: uint32(len(s))}
	e.arena = append(e.arena, s...)
	return sp
}

// str is a kept string, aliasing the arena (valid until the next keep).
func (e *indexEncoder) str(sp span) string {
	if sp.n == 0 {
		return ""
	}
	return unsafe.String(&e.arena[sp.off], int(sp.n))
}

func newIndexEncoder(w io.Writer, arch, label string) *indexEncoder {
	e := &indexEncoder{w: w, arch: arch, label: label}
	e.write([]byte(indexMagic))
	return e
}

func (e *indexEncoder) write(b []byte) {
	if e.err != nil {
		return
	}
	if e.off+uint64(len(b)) > maxIndexFile {
		e.err = fmt.Errorf("%s: the parsed index would exceed %d bytes, the cache format's limit", e.label, uint64(maxIndexFile))
		return
	}
	_, e.err = e.w.Write(b)
	e.off += uint64(len(b))
}

// add writes p's record and keeps its lookup keys.
func (e *indexEncoder) add(p *Package) error {
	if e.err != nil {
		return e.err
	}
	k := uint32(len(e.recs))
	e.recs = append(e.recs, uint32(e.off))
	e.buf = appendRecord(e.buf[:0], p)
	e.write(e.buf)
	if p.Arch != e.arch && p.Arch != "all" {
		return e.err
	}
	if uint64(len(e.arena))+uint64(len(p.Name))+uint64(len(p.Version))+uint64(len(p.Provides)) > maxIndexFile {
		return fmt.Errorf("%s: the index's names exceed %d bytes, the cache format's limit", e.label, uint64(maxIndexFile))
	}
	e.keys = append(e.keys, orderKey{name: e.keep(p.Name), version: e.keep(p.Version), pkg: k})
	if p.Provides != "" {
		rels, err := parseRelations(p.Provides, e.arch)
		if err != nil {
			return fmt.Errorf("%s %s in %s: Provides: %w", p.Name, p.Version, e.label, err)
		}
		for _, r := range rels {
			for _, a := range r {
				e.provs = append(e.provs, rawProvide{name: e.keep(a.Name), version: e.keep(a.Version), qual: e.keep(a.Qual), pkg: k})
			}
		}
	}
	return e.err
}

// sortKeys orders the lookup as buildLookup does: names ascending,
// versions descending, index order among equal versions, exact
// duplicates (one version in two components) dropped.
func (e *indexEncoder) sortKeys() []orderKey {
	keys := e.keys
	sort.SliceStable(keys, func(a, b int) bool {
		na, nb := e.str(keys[a].name), e.str(keys[b].name)
		if na != nb {
			return na < nb
		}
		return compareVersions(e.str(keys[a].version), e.str(keys[b].version)) > 0
	})
	out := keys[:0]
	for k, key := range keys {
		if k > 0 {
			if prev := out[len(out)-1]; e.str(prev.name) == e.str(key.name) && e.str(prev.version) == e.str(key.version) {
				continue
			}
		}
		out = append(out, key)
	}
	return out
}

// finish writes the pool, the tables and the trailer.
func (e *indexEncoder) finish() error {
	keys := e.sortKeys()
	sort.SliceStable(e.provs, func(a, b int) bool { return e.str(e.provs[a].name) < e.str(e.provs[b].name) })
	poolOff := e.off
	// Equal neighbours share one pool string; the empty string is written
	// once, first.
	empty := uint32(e.off)
	e.write([]byte{0})
	last, lastOff := "", empty
	str := func(sp span) uint32 {
		s := e.str(sp)
		if s == "" {
			return empty
		}
		if s == last {
			return lastOff
		}
		off := uint32(e.off)
		e.buf = appendString(e.buf[:0], s)
		e.write(e.buf)
		last, lastOff = s, off // s aliases the arena, which no longer grows
		return off
	}
	order := make([]uint32, 0, 2*len(keys))
	for _, k := range keys {
		order = append(order, str(k.name), k.pkg)
	}
	provs := make([]uint32, 0, 4*len(e.provs))
	for _, p := range e.provs {
		provs = append(provs, str(p.name), p.pkg, 0, 0)
	}
	for i, p := range e.provs {
		last = "" // versions and qualifiers are not sorted: no sharing
		provs[4*i+2], provs[4*i+3] = str(p.version), str(p.qual)
	}
	pkgsOff := e.off
	e.writeU32s(e.recs)
	orderOff := e.off
	e.writeU32s(order)
	provsOff := e.off
	e.writeU32s(provs)
	e.writeU32s([]uint32{uint32(len(e.recs)), uint32(len(keys)), uint32(len(e.provs)),
		uint32(poolOff), uint32(pkgsOff), uint32(orderOff), uint32(provsOff)})
	e.write([]byte(indexEnd))
	return e.err
}

func (e *indexEncoder) writeU32s(v []uint32) {
	const chunk = 4096
	for len(v) > 0 {
		n := min(len(v), chunk)
		e.buf = e.buf[:0]
		for _, x := range v[:n] {
			e.buf = binary.LittleEndian.AppendUint32(e.buf, x)
		}
		e.write(e.buf)
		v = v[n:]
	}
}

// maxRecord bounds one package record of a cached index (the largest
// stanzas of the archive keep a few KB).
const maxRecord = 1 << 20

// diskIndex reads one cached index in place: the pool and the tables
// (a few MB, bisected) from data, a window of the file mapped or held in
// memory; package records from rec, read one at a time, so the records
// of packages the resolver never visits are not in memory at all. Table
// entries are checked when it is opened; strings and records are checked
// as they are read, and the first damage found is kept in err (reads then
// return empty values).
type diskIndex struct {
	data    string // the file's bytes from base on
	base    int
	rec     io.ReaderAt // the whole file
	suite   string
	npkg    int
	norder  int
	nprov   int
	poolOff int
	pkgsOff int
	order   int // offset of the order table
	provs   int // offset of the provides table
	err     error
}

// u32 reads the little-endian u32 at file offset off (>= base).
func (d *diskIndex) u32(off int) int {
	b := d.data[off-d.base : off-d.base+4]
	return int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

// openDiskIndex opens a cached index held in memory. data must not change
// while the diskIndex is used.
func openDiskIndex(data []byte, suite string) (*diskIndex, error) {
	if len(data) < len(indexMagic)+trailerSize {
		return nil, errShortCache
	}
	s := unsafe.String(&data[0], len(data))
	if s[:len(indexMagic)] != indexMagic {
		return nil, fmt.Errorf("not a strata index cache of this version")
	}
	return openTables(&diskIndex{data: s, rec: strings.NewReader(s), suite: suite}, len(s))
}

// indexTrailer reads and checks the trailer and returns the offset of the
// pool, where the part of the file read in place starts.
func indexTrailer(t []byte) (poolOff int, err error) {
	if len(t) != trailerSize || string(t[trailerSize-len(indexEnd):]) != indexEnd {
		return 0, errShortCache
	}
	return int(binary.LittleEndian.Uint32(t[12:])), nil
}

// openTables reads the trailer of d (size bytes, data from d.base on) and
// checks the framing and the tables.
func openTables(d *diskIndex, size int) (out *diskIndex, err error) {
	defer d.mapFault(debug.SetPanicOnFault(true), func() { out, err = nil, d.err })
	t := size - trailerSize
	if _, err := indexTrailer([]byte(d.data[t-d.base:])); err != nil {
		return nil, err
	}
	d.npkg, d.norder, d.nprov = d.u32(t), d.u32(t+4), d.u32(t+8)
	d.poolOff, d.pkgsOff, d.order, d.provs = d.u32(t+12), d.u32(t+16), d.u32(t+20), d.u32(t+24)
	if d.poolOff < len(indexMagic)+1 || d.poolOff < d.base || d.pkgsOff <= d.poolOff ||
		uint64(d.pkgsOff)+4*uint64(d.npkg) != uint64(d.order) ||
		uint64(d.order)+8*uint64(d.norder) != uint64(d.provs) ||
		uint64(d.provs)+16*uint64(d.nprov) != uint64(t) {
		return nil, fmt.Errorf("inconsistent section offsets")
	}
	for k := 0; k < d.npkg; k++ {
		off, end := d.recordBounds(k)
		if off < len(indexMagic) || end > d.poolOff || end <= off {
			return nil, fmt.Errorf("package record %d out of range", k)
		}
	}
	for k := 0; k < d.norder; k++ {
		if err := d.checkRef(d.order + 8*k); err != nil {
			return nil, err
		}
	}
	for k := 0; k < d.nprov; k++ {
		o := d.provs + 16*k
		if err := d.checkRef(o); err != nil {
			return nil, err
		}
		for _, so := range []int{o + 8, o + 12} {
			if v := d.u32(so); v < d.poolOff || v >= d.pkgsOff {
				return nil, fmt.Errorf("string offset %d out of the pool", v)
			}
		}
	}
	return d, nil
}

// recordBounds is where record k starts and ends: records are written
// back to back, the last one ending at the pool.
func (d *diskIndex) recordBounds(k int) (int, int) {
	end := d.poolOff
	if k+1 < d.npkg {
		end = d.u32(d.pkgsOff + 4*(k+1))
	}
	return d.u32(d.pkgsOff + 4*k), end
}

// checkRef checks a (name, pkg) pair at off.
func (d *diskIndex) checkRef(off int) error {
	if v := d.u32(off); v < d.poolOff || v >= d.pkgsOff {
		return fmt.Errorf("string offset %d out of the pool", v)
	}
	if p := d.u32(off + 4); p >= d.npkg {
		return fmt.Errorf("package position %d out of range", p)
	}
	return nil
}

func (d *diskIndex) damaged(what string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%w (%s: %v)", errIndexDamaged, what, err)
	}
}

// reader decodes uvarints and strings from data[off:end].
type reader struct {
	s   string
	off int
	end int
	err error
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for {
		if r.off >= r.end || shift > 63 {
			r.err = errShortCache
			return 0
		}
		c := r.s[r.off]
		r.off++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
		shift += 7
	}
}

// str returns the next string, aliasing the data.
func (r *reader) str() string {
	n := r.uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(r.end-r.off) {
		r.err = errShortCache
		return ""
	}
	s := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// poolString is the pool string at off, aliasing the data ("" and a
// noted damage when it runs out of the pool).
func (d *diskIndex) poolString(off int) string {
	r := reader{s: d.data, off: off - d.base, end: d.pkgsOff - d.base}
	s := r.str()
	if r.err != nil {
		d.damaged("pool string", r.err)
	}
	return s
}

// orderName is the name of order entry k, aliasing the data.
func (d *diskIndex) orderName(k int) string { return d.poolString(d.u32(d.order + 8*k)) }

// mapFault, deferred with the previous setting by every reader of the
// mapped tables (d.data) as defer d.mapFault(debug.SetPanicOnFault(true),
// reset), turns a fault reading them into damage: a cache file truncated
// under its mapping makes the kernel send SIGBUS, which would otherwise
// kill the process. reset clears the reader's partial answer; the resolver
// then fails naming the damage, and the source reads the index again. A
// fault anywhere else is a bug and stays a crash.
func (d *diskIndex) mapFault(old bool, reset func()) {
	debug.SetPanicOnFault(old)
	r := recover()
	if r == nil {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.StringData(d.data)))
	if f, ok := r.(interface{ Addr() uintptr }); ok && f.Addr() >= lo && f.Addr()-lo < uintptr(len(d.data)) {
		d.damaged("the mapped tables", fmt.Errorf("a read faulted at %#x: the file was truncated or changed under its mapping", f.Addr()))
		reset()
		return
	}
	panic(r)
}

// named returns the local positions of the packages called name, highest
// version first.
func (d *diskIndex) named(name string) (out []int) {
	defer d.mapFault(debug.SetPanicOnFault(true), func() { out = nil })
	i := sort.Search(d.norder, func(k int) bool { return d.orderName(k) >= name })
	for j := i; j < d.norder && d.orderName(j) == name; j++ {
		out = append(out, d.u32(d.order+8*j+4))
	}
	return out
}

// provided returns the Provides entries naming name, with local
// positions and copied strings.
func (d *diskIndex) provided(name string) (out []provide) {
	defer d.mapFault(debug.SetPanicOnFault(true), func() { out = nil })
	provName := func(k int) string { return d.poolString(d.u32(d.provs + 16*k)) }
	i := sort.Search(d.nprov, func(k int) bool { return provName(k) >= name })
	for j := i; j < d.nprov && provName(j) == name; j++ {
		o := d.provs + 16*j
		out = append(out, provide{
			name: strings.Clone(name), pkg: d.u32(o + 4),
			version: strings.Clone(d.poolString(d.u32(o + 8))), qual: strings.Clone(d.poolString(d.u32(o + 12))),
		})
	}
	return out
}

// pkg reads and decodes local package k.
func (d *diskIndex) pkg(k int) (p *Package) {
	defer d.mapFault(debug.SetPanicOnFault(true), func() { p = &Package{Suite: d.suite} })
	off, end := d.recordBounds(k)
	if end-off > maxRecord {
		d.damaged(fmt.Sprintf("package record %d", k), fmt.Errorf("%d bytes, more than %d", end-off, maxRecord))
		return &Package{Suite: d.suite}
	}
	buf := make([]byte, end-off)
	if _, err := d.rec.ReadAt(buf, int64(off)); err != nil {
		d.damaged(fmt.Sprintf("package record %d", k), err)
		return &Package{Suite: d.suite}
	}
	// the strings alias buf, which nothing else holds
	r := reader{s: unsafe.String(unsafe.SliceData(buf), len(buf)), end: len(buf)}
	p = &Package{Suite: d.suite}
	for _, f := range recordFields(p) {
		*f = r.str()
	}
	p.Essential = r.uint() == 1
	p.Size = int64(r.uint())
	p.InstalledSize = int64(r.uint())
	if r.err == nil && r.off != len(buf) {
		r.err = fmt.Errorf("%d trailing bytes", len(buf)-r.off)
	}
	if r.err != nil {
		d.damaged(fmt.Sprintf("package record %d", k), r.err)
		return &Package{Suite: d.suite}
	}
	return p
}

// diskCatalog is the catalog of the cached indexes of an Index, laid end
// to end: package id base[k]+i is local package i of part k. Lookups
// answer as buildLookup over all the parts' packages would: per name,
// highest version first, the earlier part first among equal versions and
// alone kept when the versions are the same; Provides entries by part.
// Decoded packages and answers are kept, so each is read once; mu makes
// that safe for resolutions sharing an Index.
type diskCatalog struct {
	mu    sync.Mutex
	parts []*diskIndex
	base  []int
	pkgs  map[int]*Package
	names map[string][]int
	provs map[string][]provide
}

func newDiskCatalog(parts []*diskIndex) *diskCatalog {
	c := &diskCatalog{parts: parts, pkgs: map[int]*Package{}, names: map[string][]int{}, provs: map[string][]provide{}}
	n := 0
	for _, d := range parts {
		c.base = append(c.base, n)
		n += d.npkg
	}
	return c
}

func (c *diskCatalog) pkg(id int) *Package {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pkgLocked(id)
}

func (c *diskCatalog) pkgLocked(id int) *Package {
	if p, ok := c.pkgs[id]; ok {
		return p
	}
	k := sort.Search(len(c.base), func(k int) bool { return c.base[k] > id }) - 1
	p := c.parts[k].pkg(id - c.base[k])
	c.pkgs[id] = p
	return p
}

func (c *diskCatalog) named(name string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids, ok := c.names[name]; ok {
		return ids
	}
	var lists [][]int
	for k, d := range c.parts {
		loc := d.named(name)
		for i := range loc {
			loc[i] += c.base[k]
			// The order table and the record must agree: a flipped byte
			// in either would answer with another package.
			if p := c.pkgLocked(loc[i]); d.err == nil && p.Name != name {
				d.damaged("order table", fmt.Errorf("the entry for %s leads to package record %q", name, p.Name))
			}
		}
		if len(loc) > 0 {
			lists = append(lists, loc)
		}
	}
	var out []int
	switch len(lists) {
	case 0:
	case 1:
		out = lists[0]
	default:
		pos := make([]int, len(lists))
		for {
			best := -1
			for k, l := range lists {
				if pos[k] < len(l) && (best < 0 || compareVersions(c.pkgLocked(l[pos[k]]).Version, c.pkgLocked(lists[best][pos[best]]).Version) > 0) {
					best = k
				}
			}
			if best < 0 {
				break
			}
			id := lists[best][pos[best]]
			pos[best]++
			if len(out) > 0 && c.pkgLocked(out[len(out)-1]).Version == c.pkgLocked(id).Version {
				continue
			}
			out = append(out, id)
		}
	}
	c.names[strings.Clone(name)] = out
	return out
}

func (c *diskCatalog) provided(name string) []provide {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pv, ok := c.provs[name]; ok {
		return pv
	}
	var out []provide
	for k, d := range c.parts {
		for _, pv := range d.provided(name) {
			pv.pkg += c.base[k]
			out = append(out, pv)
		}
	}
	c.provs[strings.Clone(name)] = out
	return out
}

func (c *diskCatalog) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.parts {
		if d.err != nil {
			return d.err
		}
	}
	return nil
}
