// Package imagetest builds small, fully deterministic images and layers
// from fixed bytes for strata's tests: every header time, owner and order is
// fixed, so digests are stable and may be pinned in golden files.
package imagetest
