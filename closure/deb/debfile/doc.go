// Package debfile owns reading Debian binary packages (.deb files) without
// dpkg: the ar container, the control and data tarballs (uncompressed, gzip,
// xz, lzma, zstd or bzip2), safe extraction into a content-addressed store
// entry (never writing outside it), the merged-/usr path rewrite, and the
// closure.Entry list with the modes and owners the .deb records.
package debfile
