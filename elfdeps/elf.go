package elfdeps

import (
	"bytes"
	"debug/elf"
	"io"
	"strings"

	"github.com/stratabuild/strata/closure"
)

// object is what the search needs from one ELF file.
type object struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
	// flags is e_flags (ARM's float ABI picks the multiarch triple).
	flags   uint32
	interp  string
	soname  string
	needed  []string
	rpath   []string
	runpath []string
	// hasRunpath is set when DT_RUNPATH is present, even empty: it turns
	// DT_RPATH off for this object and lends none to the objects it loads.
	hasRunpath bool
}

// compatible reports whether ld.so loading for a reads b: same class, byte
// order and machine.
func (a *object) compatible(b *object) bool {
	return a.class == b.class && a.data == b.data && a.machine == b.machine
}

// readObject parses e as ELF. Anything that is not a dynamic-capable ELF
// (an executable or shared object) that debug/elf can read gives ok false:
// Resolve skips it, like text files, object files and truncated binaries.
func readObject(e closure.Entry) (obj *object, ok bool) {
	if e.Type != closure.Regular {
		return nil, false
	}
	ra, done, ok := OpenELF(e)
	if !ok {
		return nil, false
	}
	defer done()
	return parseObject(ra)
}

// OpenELF opens a regular entry that starts with the ELF magic for
// debug/elf: its file when the entry's reader has ReadAt, else its bytes
// read into memory (only once the magic matched, so other files cost four
// bytes). done closes it; ok is false for anything unreadable or not ELF.
func OpenELF(e closure.Entry) (ra io.ReaderAt, done func(), ok bool) {
	if e.Open == nil || e.Size < 4 {
		return nil, nil, false
	}
	rc, err := e.Open()
	if err != nil {
		return nil, nil, false
	}
	if r, isRA := rc.(io.ReaderAt); isRA {
		return io.NewSectionReader(r, 0, e.Size), func() { rc.Close() }, true
	}
	defer rc.Close()
	var magic [4]byte
	if _, err := io.ReadFull(rc, magic[:]); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, nil, false
	}
	rest, err := io.ReadAll(rc)
	if err != nil {
		return nil, nil, false
	}
	return bytes.NewReader(append(magic[:], rest...)), func() {}, true
}

func parseObject(ra io.ReaderAt) (obj *object, ok bool) {
	var magic [4]byte
	if _, err := ra.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, false
	}
	// debug/elf is meant to return errors on bad input; a panic on a
	// hostile file must not take the build down with it.
	defer func() {
		if recover() != nil {
			obj, ok = nil, false
		}
	}()
	f, err := elf.NewFile(ra)
	if err != nil {
		return nil, false
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, false
	}
	obj = &object{class: f.Class, data: f.Data, machine: f.Machine}
	flagsAt := int64(0x24)
	if f.Class == elf.ELFCLASS64 {
		flagsAt = 0x30
	}
	var fl [4]byte
	if _, err := ra.ReadAt(fl[:], flagsAt); err != nil {
		return nil, false
	}
	obj.flags = f.ByteOrder.Uint32(fl[:])
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return nil, false
		}
		obj.interp = string(bytes.TrimRight(b, "\x00"))
	}
	if obj.needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, false
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return nil, false
	}
	if len(sonames) > 0 {
		obj.soname = sonames[0]
	}
	rpaths, err := f.DynString(elf.DT_RPATH)
	if err != nil {
		return nil, false
	}
	runpaths, err := f.DynString(elf.DT_RUNPATH)
	if err != nil {
		return nil, false
	}
	obj.rpath = splitPath(rpaths)
	obj.runpath = splitPath(runpaths)
	obj.hasRunpath = len(runpaths) > 0
	return obj, true
}

// splitPath splits colon-separated search lists; empty elements are kept
// (ld.so reads them as the working folder) for expand to drop.
func splitPath(lists []string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, strings.Split(l, ":")...)
	}
	return out
}
