// Package daemon is the sink that loads a built image straight into the
// local Docker Engine through its API socket: the docker-save tarball is
// produced into a pipe while the engine reads it, so nothing is written to
// disk on the way. API versions are negotiated, so Engine 20.10 (API 1.41)
// and newer answer.
package daemon
