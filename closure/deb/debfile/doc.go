// Package debfile owns reading Debian binary packages (.deb files) without
// dpkg: the ar container, the control and data tarballs (uncompressed,
// gzip, xz, lzma, zstd or bzip2), safe extraction into a content-addressed
// store entry, the merged-/usr path rewrite, and the closure.Entry list
// with the modes and owners the .deb records.
//
// Unpack streams the .deb once. Every write goes through an os.Root, and
// before that each entry is checked: no absolute or ".." names, nothing
// under a symlink or file the package created, hardlinks only to files
// already unpacked, no devices or fifos, names and link targets in UTF-8
// (Debian requires it; the JSON manifest and the image's tar headers carry
// text, and a name rewritten on the way would name no file). Every decompressed byte of the
// tarballs counts against a budget (headers, PAX records and the bodies of
// skipped entries too): the data tarball gets the least of BombFactor x
// Installed-Size + BombSlack, MaxExpansion x its compressed size +
// BombSlack, and HardCap, and at most MaxEntries entries; the control
// tarball MaxControlBytes and MaxControlEntries; the ar container
// MaxArMembers members. The first byte over stops the unpack, and a
// refused .deb leaves nothing behind.
//
// Merged /usr: names under bin, sbin, lib, lib32, lib64 and libx32 move
// to usr/…; the top-level symlinks themselves come from package sysfiles.
// A package shipping one path twice (lib/x and usr/lib/x) must ship the
// same thing both times. Symlink targets are kept verbatim.
//
// A store entry deb-unpacked/SHA256-v1 holds root/ (the files, written
// 0644 or 0755 whatever the .deb says), control/ (control, md5sums,
// conffiles) and manifest.json (every entry's type, mode, owner, size,
// link and sha256), so loading it needs neither the .deb nor the
// filesystem's modes.
package debfile
