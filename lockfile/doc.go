// Package lockfile owns strata.lock: a JSON file, stable in order and
// diff-friendly, that pins every input of a spec. Each source owns the
// format of its own section (sources[NAME][PLATFORM]); this package only
// reads, writes (atomically) and hashes. The Debian section (closure/deb's
// Lock) records each suite's signed Release Date; a re-resolution refuses
// an older one (strata lock --update --allow-downgrade accepts it), and
// strata lock --verify checks every entry against the signed indexes.
package lockfile
