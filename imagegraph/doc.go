// Package imagegraph rebuilds a closure graph from what an image holds, so
// `strata sbom IMAGE`, `strata why IMAGE` and `inspect --view closure` work
// on any image strata (or distroless-style tooling) built. It flattens the
// image once (imagefs) and asks each source that knows its own traces for
// its nodes: closure/deb reads dpkg status.d and copyright files,
// closure/nix the /nix/store paths. It only adds the roots: the nodes
// nothing else depends on. Whiteouts are applied: only what the final
// filesystem holds counts.
package imagegraph
