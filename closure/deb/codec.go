package deb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// The parsed-index cache format: a magic line, then uvarint-counted
// sections (packages, lookup order, provides), strings as uvarint length
// plus bytes. Decoding slices one string aliasing the file's bytes,
// so a 63,000-package index loads in a few tens of milliseconds.
const indexMagic = "strata-deb-index 2\n"

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeIndex serialises packages with their lookup for arch.
func encodeIndex(pk []Package, l *lookup) []byte {
	b := make([]byte, 0, len(pk)*400)
	b = append(b, indexMagic...)
	b = binary.AppendUvarint(b, uint64(len(pk)))
	for i := range pk {
		p := &pk[i]
		for _, s := range [...]string{p.Name, p.Version, p.Arch, p.MultiArch, p.Depends, p.PreDepends, p.Provides,
			p.Conflicts, p.Breaks, p.Priority, p.Filename, p.SHA256, p.Maintainer, p.Source, p.Description, p.Homepage, p.Section} {
			b = appendString(b, s)
		}
		ess := uint64(0)
		if p.Essential {
			ess = 1
		}
		b = binary.AppendUvarint(b, ess)
		b = binary.AppendUvarint(b, uint64(p.Size))
		b = binary.AppendUvarint(b, uint64(p.InstalledSize))
	}
	b = binary.AppendUvarint(b, uint64(len(l.order)))
	for _, i := range l.order {
		b = binary.AppendUvarint(b, uint64(i))
	}
	b = binary.AppendUvarint(b, uint64(len(l.provs)))
	for _, pv := range l.provs {
		b = appendString(b, pv.name)
		b = binary.AppendUvarint(b, uint64(pv.pkg))
		b = appendString(b, pv.version)
		b = appendString(b, pv.qual)
	}
	return b
}

var errShortCache = errors.New("truncated")

type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for {
		if d.off >= len(d.s) || shift > 63 {
			d.err = errShortCache
			return 0
		}
		c := d.s[d.off]
		d.off++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
		shift += 7
	}
}

func (d *decoder) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)-d.off) {
		d.err = errShortCache
		return ""
	}
	s := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

// decodeIndex reverses encodeIndex.
func decodeIndex(data []byte) ([]Package, *lookup, error) {
	if len(data) == 0 {
		return nil, nil, errShortCache
	}
	// The strings alias data, which nothing writes after this.
	d := &decoder{s: unsafe.String(&data[0], len(data))}
	if len(d.s) < len(indexMagic) || d.s[:len(indexMagic)] != indexMagic {
		return nil, nil, fmt.Errorf("not a strata index cache of this version")
	}
	d.off = len(indexMagic)
	n := d.uint()
	if n > uint64(len(d.s))/20 { // a package takes at least 20 bytes
		return nil, nil, errShortCache
	}
	pk := make([]Package, n)
	for i := range pk {
		p := &pk[i]
		for _, f := range [...]*string{&p.Name, &p.Version, &p.Arch, &p.MultiArch, &p.Depends, &p.PreDepends, &p.Provides,
			&p.Conflicts, &p.Breaks, &p.Priority, &p.Filename, &p.SHA256, &p.Maintainer, &p.Source, &p.Description, &p.Homepage, &p.Section} {
			*f = d.str()
		}
		p.Essential = d.uint() == 1
		p.Size = int64(d.uint())
		p.InstalledSize = int64(d.uint())
	}
	l := &lookup{pk: pk}
	n = d.uint()
	if n > uint64(len(d.s)) {
		return nil, nil, errShortCache
	}
	l.order = make([]int, n)
	for k := range l.order {
		i := d.uint()
		if i >= uint64(len(pk)) {
			return nil, nil, fmt.Errorf("package position %d out of range", i)
		}
		l.order[k] = int(i)
	}
	n = d.uint()
	if n > uint64(len(d.s))/4 { // a provide takes at least 4 bytes
		return nil, nil, errShortCache
	}
	l.provs = make([]provide, n)
	for k := range l.provs {
		pv := &l.provs[k]
		pv.name = d.str()
		i := d.uint()
		if i >= uint64(len(pk)) {
			return nil, nil, fmt.Errorf("package position %d out of range", i)
		}
		pv.pkg = int(i)
		pv.version = d.str()
		pv.qual = d.str()
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	if d.off != len(d.s) {
		return nil, nil, fmt.Errorf("%d trailing bytes", len(d.s)-d.off)
	}
	return pk, l, nil
}
