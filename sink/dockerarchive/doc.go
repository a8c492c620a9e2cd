// Package dockerarchive owns the docker-archive sink: the tarball `docker
// load` reads (manifest.json tagged name:tag, config, layer blobs), written
// to a file atomically or streamed to standard output.
package dockerarchive
