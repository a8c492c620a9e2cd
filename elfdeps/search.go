package elfdeps

import (
	"debug/elf"
	"strings"
)

// efARMABIFloatHard is ARM's e_flags bit for the hard-float ABI (armhf).
const efARMABIFloatHard = 0x400

// multiarch is the Debian multiarch triple for an ELF's machine, "" when
// Debian has none for it.
func multiarch(o *object) string {
	le := o.data == elf.ELFDATA2LSB
	is64 := o.class == elf.ELFCLASS64
	switch o.machine {
	case elf.EM_X86_64:
		if is64 {
			return "x86_64-linux-gnu"
		}
		return "x86_64-linux-gnux32"
	case elf.EM_386:
		return "i386-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_ARM:
		if o.flags&efARMABIFloatHard != 0 {
			return "arm-linux-gnueabihf"
		}
		return "arm-linux-gnueabi"
	case elf.EM_PPC64:
		if le {
			return "powerpc64le-linux-gnu"
		}
		return "powerpc64-linux-gnu"
	case elf.EM_PPC:
		return "powerpc-linux-gnu"
	case elf.EM_S390:
		if is64 {
			return "s390x-linux-gnu"
		}
		return "s390-linux-gnu"
	case elf.EM_RISCV:
		if is64 {
			return "riscv64-linux-gnu"
		}
	case elf.EM_MIPS:
		switch {
		case is64 && le:
			return "mips64el-linux-gnuabi64"
		case is64:
			return "mips64-linux-gnuabi64"
		case le:
			return "mipsel-linux-gnu"
		default:
			return "mips-linux-gnu"
		}
	case elf.EM_LOONGARCH:
		if is64 {
			return "loongarch64-linux-gnu"
		}
	case elf.EM_SPARCV9:
		return "sparc64-linux-gnu"
	}
	return ""
}

// systemDirs are the folders ld.so searches last for an ELF like o: Debian's
// multiarch folders, then lib and usr/lib (Debian's glibc default), then
// lib64 and usr/lib64 on 64-bit machines (the upstream default, last so
// that a Debian closure is searched as Debian's ld.so searches it). lib* is
// a symlink into usr/ in strata's images; both spellings are listed for a
// closure that lacks the generated links.
func systemDirs(o *object) []string {
	var dirs []string
	if t := multiarch(o); t != "" {
		dirs = append(dirs, "lib/"+t, "usr/lib/"+t)
	}
	dirs = append(dirs, "lib", "usr/lib")
	if o.class == elf.ELFCLASS64 {
		dirs = append(dirs, "lib64", "usr/lib64")
	}
	return dirs
}

// libToken is what $LIB expands to for o.
func libToken(o *object) string {
	if t := multiarch(o); t != "" {
		return "lib/" + t
	}
	if o.class == elf.ELFCLASS64 {
		return "lib64"
	}
	return "lib"
}

// expand turns one DT_RPATH or DT_RUNPATH element of an object found in the
// folder origin (image-relative) into an image-relative folder. ok is false
// for what ld.so would not search in an image: an empty or relative element
// (relative to a working folder strata does not know) or an unknown token.
func expand(elem, origin string, o *object) (dir string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(elem); i++ {
		if elem[i] != '$' {
			b.WriteByte(elem[i])
			continue
		}
		name, n := token(elem[i+1:])
		switch name {
		case "ORIGIN":
			b.WriteString("/" + origin)
		case "LIB":
			b.WriteString(libToken(o))
		default:
			return "", false
		}
		i += n
	}
	s := b.String()
	if !strings.HasPrefix(s, "/") {
		return "", false
	}
	return strings.TrimLeft(s, "/"), true
}

// token reads the name after a '$': NAME or {NAME}; n is the bytes used.
func token(s string) (name string, n int) {
	if strings.HasPrefix(s, "{") {
		if end := strings.IndexByte(s, '}'); end > 0 {
			return s[1:end], end + 1
		}
		return "", 0
	}
	end := 0
	for end < len(s) && (s[end] == '_' || 'A' <= s[end] && s[end] <= 'Z' || 'a' <= s[end] && s[end] <= 'z' || '0' <= s[end] && s[end] <= '9') {
		end++
	}
	return s[:end], end
}

// loaded is one object of a load chain with the folder it was found in.
type loaded struct {
	obj    *object
	origin string
}

// searchDirs lists, in ld.so's order, the image-relative folders searched
// for a DT_NEEDED name of chain's last object (chain[0] is the output file,
// each next one loaded by the one before): the DT_RPATHs of the chain from
// the last back to the first when the last has no DT_RUNPATH, its
// DT_RUNPATH, then the system folders for the output file's machine.
func searchDirs(chain []loaded) []string {
	last := chain[len(chain)-1]
	var dirs []string
	seen := map[string]bool{}
	addList := func(elems []string, l loaded) {
		for _, e := range elems {
			if d, ok := expand(e, l.origin, l.obj); ok && !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	if !last.obj.hasRunpath {
		for i := len(chain) - 1; i >= 0; i-- {
			if !chain[i].obj.hasRunpath {
				addList(chain[i].obj.rpath, chain[i])
			}
		}
	}
	addList(last.obj.runpath, last)
	for _, d := range systemDirs(chain[0].obj) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// candidate is the image path of name in folder dir. It is not cleaned:
// ".." must be taken after the symlinks before it, as the kernel does.
func candidate(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// isPath reports whether a DT_NEEDED name is a path (it holds a slash), which
// ld.so opens as it is instead of searching.
func isPath(name string) bool { return strings.Contains(name, "/") }

// dirOf is the folder of an image-relative path ("" for the root), taken as
// ld.so takes $ORIGIN: the string before the last slash, not cleaned.
func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}
