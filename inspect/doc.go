// Package inspect owns strata's read-only views of an image: the summary
// (config highlights and layers), the raw manifest and config, the layers
// with what each one holds (Debian packages, Nix store paths, files
// entries), the file tree per layer, dive-compatible efficiency figures
// with a CI check, a closure graph's sizes (own and exclusive), and Diff,
// which compares two images layer by layer, file by file and config field
// by field. Every view is a struct with JSON tags plus a Text method; the
// CLI only picks one. Nothing here writes images.
//
// The sub-package sharing (layer sharing across images) has its own owner.
package inspect
