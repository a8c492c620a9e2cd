// Package lockfile owns strata.lock: a JSON file, stable in order and
// diff-friendly, that pins every input of a spec. Each source owns the
// format of its own section (sources[NAME][PLATFORM]); this package only
// reads, writes (atomically) and hashes.
package lockfile
