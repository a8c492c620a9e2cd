package ldcache

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/elfdeps"
)

// Path is where the cache goes, relative to the image root.
const Path = "etc/ld.so.cache"

// Limits, so a hostile or broken image costs bounded work.
const (
	// MaxSymlinks bounds the links followed resolving one path (Linux's
	// limit is 40).
	MaxSymlinks = 40
	// MaxConfDepth bounds nested "include" lines in ld.so.conf.
	MaxConfDepth = 16
)

// Flags of a cache entry (glibc's FLAG_* values).
const (
	flagELFLibc6 = 0x0003
	flagX8664    = 0x0300
	flagAArch64  = 0x0a00
)

// arches are the Debian architectures supported: the multiarch triple of
// the system folders and the ELF machines whose libraries are listed,
// with their entry flags.
var arches = map[string]struct {
	triple   string
	machines map[elf.Machine]int32
}{
	"amd64": {"x86_64-linux-gnu", map[elf.Machine]int32{elf.EM_X86_64: flagELFLibc6 | flagX8664, elf.EM_386: flagELFLibc6}},
	"arm64": {"aarch64-linux-gnu", map[elf.Machine]int32{elf.EM_AARCH64: flagELFLibc6 | flagAArch64}},
}

// Options are Generate's inputs.
type Options struct {
	// Entries are the image's file system entries, paths relative to the
	// root; a later entry of the same path wins, as in layer order.
	Entries []closure.Entry
	// Arch is the Debian architecture: amd64 or arm64.
	Arch string
}

// Entry is one library of the cache.
type Entry struct {
	// Soname is the key, Path the absolute path the linker opens.
	Soname, Path string
	Flags        int32
}

// Generate returns the bytes of etc/ld.so.cache for the image and the
// entries in file order. Files that are not readable ELF shared objects
// are skipped, as ldconfig skips them; an unsupported Arch, a symlink
// loop or an include cycle is an error.
func Generate(ctx context.Context, opt Options) ([]byte, []Entry, error) {
	arch, ok := arches[opt.Arch]
	if !ok {
		return nil, nil, fmt.Errorf("ld.so.cache: architecture %q is not supported (amd64 or arm64)", opt.Arch)
	}
	t := newTree(opt.Entries)
	dirs, err := t.confDirs()
	if err != nil {
		return nil, nil, err
	}
	dirs = append(dirs, "/lib/"+arch.triple, "/usr/lib/"+arch.triple, "/lib", "/usr/lib")
	var list []Entry
	seen := map[string]bool{}
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		real, e, err := t.resolve(dir)
		if err != nil {
			return nil, nil, err
		}
		if e == nil || e.Type != closure.Dir || seen[real] {
			continue
		}
		seen[real] = true
		found, err := t.scan(dir, real, arch.machines)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, found...)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if c := libcmp(list[i].Soname, list[j].Soname); c != 0 {
			return c > 0
		}
		return list[i].Flags > list[j].Flags
	})
	return encode(list), list, nil
}

// tree is the image's file system: entries by path and folder listings.
type tree struct {
	byPath   map[string]closure.Entry
	children map[string][]string // folder -> names, sorted
}

func newTree(entries []closure.Entry) *tree {
	t := &tree{byPath: map[string]closure.Entry{}, children: map[string][]string{}}
	for _, e := range entries {
		p := strings.Trim(e.Path, "/")
		if p == "" {
			continue
		}
		if _, dup := t.byPath[p]; !dup {
			d := path.Dir(p)
			if d == "." {
				d = ""
			}
			t.children[d] = append(t.children[d], path.Base(p))
		}
		t.byPath[p] = e
	}
	for _, names := range t.children {
		sort.Strings(names)
	}
	return t
}

// resolve follows symlinks in every component of the absolute path p and
// returns the real path (relative, "" for the root) and its entry (nil
// when it does not exist; the root is a folder).
func (t *tree) resolve(p string) (string, *closure.Entry, error) {
	rootDir := closure.Entry{Type: closure.Dir}
	pending := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := ""
	links := 0
	for len(pending) > 0 {
		name := pending[0]
		pending = pending[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = parent(cur)
			continue
		}
		next := name
		if cur != "" {
			next = cur + "/" + name
		}
		e, ok := t.byPath[next]
		if !ok {
			return next, nil, nil
		}
		if e.Type != closure.Symlink {
			if len(pending) > 0 && e.Type != closure.Dir {
				return next, nil, nil
			}
			cur = next
			continue
		}
		if links++; links > MaxSymlinks {
			return "", nil, fmt.Errorf("ld.so.cache: more than %d symlinks resolving /%s (a loop?)", MaxSymlinks, strings.Trim(p, "/"))
		}
		target := e.Link
		if !strings.HasPrefix(target, "/") {
			target = cur + "/" + target
		}
		pending = append(strings.Split(strings.Trim(path.Clean("/"+target), "/"), "/"), pending...)
		cur = ""
	}
	if cur == "" {
		return "", &rootDir, nil
	}
	e := t.byPath[cur]
	if e.Type == closure.Hardlink {
		// A library stored as a hardlink (a package's second name for
		// one file) is read through the file it links to, under its own
		// path.
		target, ok := t.byPath[strings.Trim(e.Link, "/")]
		if !ok || target.Type != closure.Regular {
			return cur, nil, nil
		}
		e = target
	}
	return cur, &e, nil
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// confDirs reads the folders of etc/ld.so.conf, or of
// etc/ld.so.conf.d/*.conf when the image has no ld.so.conf.
func (t *tree) confDirs() ([]string, error) {
	var dirs []string
	_, e, err := t.resolve("/etc/ld.so.conf")
	if err != nil {
		return nil, err
	}
	if e == nil || e.Type != closure.Regular {
		return dirs, t.include("/etc/ld.so.conf.d/*.conf", "/etc", &dirs, 0)
	}
	return dirs, t.readConf("/etc/ld.so.conf", &dirs, 0)
}

// readConf adds the folders of one configuration file: a line is a
// folder, or "include GLOB..." (relative to the file's folder unless
// absolute); "#" starts a comment; "hwcap" lines are ignored.
func (t *tree) readConf(file string, dirs *[]string, depth int) error {
	if depth > MaxConfDepth {
		return fmt.Errorf("ld.so.cache: includes nested deeper than %d at %s (a cycle?)", MaxConfDepth, file)
	}
	_, e, err := t.resolve(file)
	if err != nil || e == nil || e.Type != closure.Regular {
		return err
	}
	data, err := readAll(e)
	if err != nil {
		return fmt.Errorf("ld.so.cache: reading %s: %w", file, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[0] == "include":
			for _, g := range fields[1:] {
				if err := t.include(g, path.Dir(file), dirs, depth+1); err != nil {
					return err
				}
			}
		case fields[0] == "hwcap":
		default:
			d := path.Clean(strings.TrimSpace(line))
			if strings.HasPrefix(d, "/") {
				*dirs = append(*dirs, d)
			}
		}
	}
	return nil
}

// include reads the configuration files glob matches, sorted. Only the
// last element may hold wildcards (as every shipped ld.so.conf has it).
func (t *tree) include(glob, base string, dirs *[]string, depth int) error {
	if !strings.HasPrefix(glob, "/") {
		glob = base + "/" + glob
	}
	dir, pat := path.Split(path.Clean(glob))
	real, e, err := t.resolve(dir)
	if err != nil || e == nil || e.Type != closure.Dir {
		return err
	}
	for _, name := range t.children[real] {
		if ok, _ := path.Match(pat, name); ok {
			if err := t.readConf(dir+name, dirs, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// scan lists the libraries of one folder (dir as configured, real as
// resolved): one entry per soname, in the order the names sort.
func (t *tree) scan(dir, real string, machines map[elf.Machine]int32) ([]Entry, error) {
	dir = strings.TrimRight(dir, "/")
	var out []Entry
	seen := map[string]bool{}
	for _, name := range t.children[real] {
		if !strings.HasPrefix(name, "lib") && !strings.HasPrefix(name, "ld-") || !strings.Contains(name, ".so") {
			continue
		}
		realPath, e, err := t.resolve(dir + "/" + name)
		if err != nil {
			return nil, err
		}
		if e == nil || e.Type != closure.Regular {
			continue
		}
		soname, machine, ok := readSoname(e)
		if !ok {
			continue
		}
		if soname == "" {
			soname = name
		}
		// A link whose target's name is the soname, or a linker's
		// libfoo.so link to a libfoo.so.N, is listed under its own name.
		if link := t.byPath[strings.TrimPrefix(real+"/"+name, "/")]; link.Type == closure.Symlink &&
			(path.Base(realPath) == soname || strings.HasSuffix(name, ".so") && strings.HasPrefix(soname, name)) {
			soname = name
		}
		flags, ok := machines[machine]
		if !ok || seen[soname] || strings.Contains(soname, "/") {
			continue
		}
		seen[soname] = true
		out = append(out, Entry{Soname: soname, Path: dir + "/" + soname, Flags: flags})
	}
	return out, nil
}

// readSoname reads an ELF shared object's DT_SONAME ("" for none, then
// the caller uses the file name) and machine; ok is false for anything
// else (text files such as libc.so's linker script, executables, object
// files, truncated or malformed ELF).
func readSoname(e *closure.Entry) (soname string, machine elf.Machine, ok bool) {
	if e.Size < 64 {
		return "", 0, false
	}
	ra, done, ok := elfdeps.OpenELF(*e)
	if !ok {
		return "", 0, false
	}
	defer done()
	// debug/elf may panic on hostile input; that file is skipped.
	defer func() {
		if recover() != nil {
			soname, machine, ok = "", 0, false
		}
	}()
	f, err := elf.NewFile(ra)
	if err != nil || f.Type != elf.ET_DYN || f.Section(".dynamic") == nil && !hasDynamic(f) {
		return "", 0, false
	}
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return "", 0, false
	}
	if len(names) > 0 {
		soname = names[0]
	}
	return soname, f.Machine, true
}

func hasDynamic(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}

func readAll(e *closure.Entry) ([]byte, error) {
	if e.Open == nil {
		return nil, errors.New("no contents")
	}
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 1<<20))
}

// libcmp is glibc's library name order: bytes compare as bytes, except
// that runs of digits compare as numbers and a digit sorts after any
// other byte. It returns <0, 0 or >0.
func libcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) {
		ca := a[i]
		switch {
		case isDigit(ca) && j < len(b) && isDigit(b[j]):
			var va, vb uint64
			for ; i < len(a) && isDigit(a[i]); i++ {
				va = va*10 + uint64(a[i]-'0')
			}
			for ; j < len(b) && isDigit(b[j]); j++ {
				vb = vb*10 + uint64(b[j]-'0')
			}
			if va != vb {
				if va < vb {
					return -1
				}
				return 1
			}
		case isDigit(ca):
			return 1
		case j < len(b) && isDigit(b[j]):
			return -1
		case j >= len(b) || ca != b[j]:
			if j >= len(b) {
				return 1
			}
			return int(ca) - int(b[j])
		default:
			i++
			j++
		}
	}
	if j < len(b) {
		return -1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Layout of the new format.
const (
	magic      = "glibc-ld.so.cache1.1"
	headerSize = 48
	entrySize  = 24
	endianLE   = 2
)

// encode writes the cache file for entries already in file order.
func encode(list []Entry) []byte {
	var strs bytes.Buffer
	base := uint32(headerSize + entrySize*len(list))
	at := map[string]uint32{} // value string -> offset
	type pos struct{ key, value uint32 }
	offs := make([]pos, len(list))
	for i, e := range list {
		v, ok := at[e.Path]
		if !ok {
			v = base + uint32(strs.Len())
			strs.WriteString(e.Path)
			strs.WriteByte(0)
			at[e.Path] = v
		}
		offs[i] = pos{key: v + uint32(len(e.Path)-len(e.Soname)), value: v}
	}
	out := make([]byte, 0, int(base)+strs.Len())
	le := binary.LittleEndian
	out = append(out, magic...)
	out = le.AppendUint32(out, uint32(len(list)))
	out = le.AppendUint32(out, uint32(strs.Len()))
	out = append(out, endianLE, 0, 0, 0)
	out = le.AppendUint32(out, 0) // extension_offset: none
	out = append(out, make([]byte, 12)...)
	for i, e := range list {
		out = le.AppendUint32(out, uint32(e.Flags))
		out = le.AppendUint32(out, offs[i].key)
		out = le.AppendUint32(out, offs[i].value)
		out = le.AppendUint32(out, 0) // osversion
		out = le.AppendUint64(out, 0) // hwcap
	}
	return append(out, strs.Bytes()...)
}
