// Package sbom owns strata's software bills of materials: SPDX 2.3 and
// CycloneDX 1.6 JSON documents built from a closure graph (one component
// per node, with the purl and licences its source recorded in node Meta,
// supplier, checksums and the dependency edges, the image as the described
// root). It parses no package format: a graph of an image comes from
// package imagegraph, the facts from the sources. Output is deterministic:
// times come from the input, identifiers from the image digest, and
// everything is sorted. It only reads: nothing here writes images.
package sbom
