// Package ldcache writes glibc's /etc/ld.so.cache for an image, as
// `ldconfig -r ROOT -X` would, without running ldconfig: the dynamic
// linker reads the cache to find a library by its soname (DT_NEEDED
// names and dlopen("libfoo.so.1")) in folders outside its built-in
// search path, such as those /etc/ld.so.conf.d names.
//
// What is scanned, as ldconfig does:
//
//	folders: the lines of etc/ld.so.conf (an "include GLOB" line reads
//	         the matching files in sorted order, recursively); without
//	         etc/ld.so.conf, etc/ld.so.conf.d/*.conf as Debian's file
//	         includes them; then the system folders lib/TRIPLE,
//	         usr/lib/TRIPLE, lib, usr/lib. A folder that resolves
//	         (through the image's symlinks, lib -> usr/lib) to one
//	         already scanned is skipped, so it is listed under the first
//	         name that reached it.
//	files:   in each folder, the names that start with "lib" or "ld-" and
//	         hold ".so", resolved through symlinks to an ELF shared object
//	         (ET_DYN with a dynamic section) of the image's machine (or,
//	         on amd64, i386); its DT_SONAME (the file name when it has
//	         none) is the key, and FOLDER/SONAME the path, even when
//	         that link is missing (as with ldconfig -X: strata creates no
//	         links; Debian packages ship their soname links). A symlink
//	         whose target is named by its soname, or a linker's libfoo.so
//	         link to a libfoo.so.N, is listed under its own name, as
//	         ldconfig lists them.
//
// The file is the "new" format glibc has read and written alone since
// 2.32 ("glibc-ld.so.cache1.1"), all fields little-endian on the
// little-endian machines supported:
//
//	header  (48 bytes)  magic "glibc-ld.so.cache" "1.1", nlibs u32,
//	                    len_strings u32, flags u8 (2: little-endian),
//	                    3 padding bytes, extension_offset u32 (0: none),
//	                    3 unused u32
//	entries (24 bytes)  flags i32, key u32, value u32, osversion u32 (0),
//	                    hwcap u64 (0)
//	strings             NUL-terminated; key and value are offsets from
//	                    the start of the file, and a key (the soname) is
//	                    the tail of its value (FOLDER/SONAME), stored once
//
// Entries are sorted the way the dynamic linker's binary search expects:
// descending by glibc's library name order (runs of digits compare as
// numbers, a digit sorts after any other byte), then by flags descending;
// equal entries keep the order they were found in. The flags are
// FLAG_ELF_LIBC6 (3) plus the machine's: x86-64 0x0300, AArch64 0x0a00,
// i386 none.
//
// Left out: glibc-hwcaps subfolders (their entries need the hwcaps
// extension) and the generator extension (ldconfig names itself there).
package ldcache
