// Package remotecache is a registry-backed tier over a local cache.Cache,
// the way go-containerregistry's pkg/v1/cache decorates a layer source.
//
// It serves three kinds of entry remotely, and nothing else:
//
//   - finished layers: the "layers" index record (layer.Info JSON) by the
//     layer's input key, with the layer blob;
//   - build-step outputs: a "step-out" tree by the step's input key, as a
//     gzipped tar with its tree hash;
//   - .debs: blobs by their sha256;
//   - unpacked .debs: the "deb-unpacked" tree by SHA256-vN, as a gzipped
//     tar (unpacking data.tar.xz is most of a cold Debian build's CPU).
//
// Each entry is one plain OCI image manifest tagged by the key
// (layer-KEY, step-KEY, deb-SHA256, unpacked-SHA256-vN) in the cache repository: its config
// blob is a small JSON record, its one layer the payload, and its
// artifactType and annotations name the entry kind, so every registry
// accepts it and the payload blobs are shared (mounted) with the images
// pushed to the same registry. A record or payload of at most InlineMax
// bytes is also inline in its descriptor (the OCI data field), so reading
// such an entry is one request, the manifest.
//
// Reads go through: a local miss asks each --cache-from repository in
// order; a hit is verified, written into the local cache and then used.
// Layers, step outputs and unpacked trees cannot be checked against
// their names, so they must carry an
// ed25519 signature by a trusted key over (kind, key, blob digest, tree
// hash, record digest); .debs are checked against their sha256. Anything
// that fails a check is ignored with a Warning naming it. Writes go back
// after the build (Flush): every entry the build used that the
// --cache-to repository lacks is pushed, blobs first and the manifest
// last, so a half-written entry is never found. A remote that fails is a
// Warning and is not asked again in this build; the build goes on locally.
package remotecache
