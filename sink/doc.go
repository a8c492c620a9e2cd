// Package sink owns where a built image goes. Every sink takes the same
// Target (one image per platform, or an index) and writes it somewhere:
// a docker-archive file or stream (sink/dockerarchive), an OCI image layout
// (sink/ocilayout), a registry (sink/registry), the Docker daemon
// (sink/daemon). Multi combines several so one build writes everywhere.
package sink
