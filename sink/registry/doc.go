// Package registry is the sink that pushes a built image (or a
// multi-platform index) to an OCI registry through package
// github.com/stratabuild/strata/registry, and remembers the pushed digest.
package registry
