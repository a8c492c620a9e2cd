// Package closure owns the runtime closure graph every source produces and
// every later stage reads: Nodes (a package, a store path, a files entry,
// a generated layer) with their dependencies, sizes, metadata and Contents
// (the filesystem entries the node puts in the image).
//
// Sources live in sub-packages (deb, nix, files) and meet here; layering,
// layer, image and sbom only read a Graph.
package closure
