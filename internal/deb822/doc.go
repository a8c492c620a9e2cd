// Package deb822 reads Debian control-format text (deb822): Packages
// indexes, Release files, apt .sources files, .deb control files and dpkg
// status records all share it.
//
// Text is a sequence of paragraphs separated by blank lines (lines of only
// spaces and tabs count as blank). A paragraph is a sequence of fields, each
// "Name: value" on one line, optionally followed by continuation lines that
// start with a space or a tab. Lines that start with '#' are comments.
//
// A field's value is the first line's value without surrounding white
// space, then for each continuation line a "\n" and the line without its
// first character and without trailing white space; a continuation line of
// a lone "." stands for an empty line and becomes "".
//
// The Scanner reads a field at a time without allocating, for hot paths
// such as a Packages index; Read and ReadFirst return whole paragraphs.
// Names compare case-insensitively (Paragraph.Get), as Debian policy says.
//
// The format is small and the hot path needs a scanner that hands out
// byte slices, so this is not built on pault.ag/go/debian/control, whose
// reflection-based decoder allocates every field of every paragraph.
package deb822
