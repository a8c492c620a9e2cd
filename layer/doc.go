// Package layer owns the deterministic layer: a tar stream whose bytes
// depend only on the entries given (sorted bytewise, parents emitted once,
// fixed mtime and owners, no global headers, USTAR where it fits and PAX
// records only where needed), compressed with gzip, zstd or nothing, with
// its digest and diffID computed in the same streaming pass.
//
// Finished layers are kept in the store under the hash of everything that
// determines their bytes, so a rebuild with nothing changed re-tars and
// re-compresses nothing. A cached layer is a v1.Layer backed by a blob file.
package layer
