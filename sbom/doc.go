// Package sbom owns strata's software bills of materials: SPDX 2.3 and
// CycloneDX 1.6 JSON documents built from a closure graph (one component
// per node, with purl, supplier, licenses, checksums and the dependency
// edges, the image as the described root), and FromImage, which rebuilds
// such a graph from an image's /var/lib/dpkg/status.d entries and
// /nix/store paths. Output is deterministic: times come from the input,
// identifiers from the image digest, and everything is sorted.
// It only reads: nothing here writes images.
package sbom
