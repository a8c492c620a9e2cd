// Package image owns image assembly: layer groups (from the layering plan)
// become layers (through package layer and its cache) stacked on an empty
// image or a base image, with an OCI manifest and config, one history entry
// per layer saying what it holds, the spec's runtime config merged over the
// base's, and the created/title annotations. Several platforms' images
// become one OCI index. It builds on go-containerregistry's v1.Image and
// mutate, and writes nothing but cache entries: sinks do the writing.
package image
