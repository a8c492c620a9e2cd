// Package registry owns every conversation strata has with an OCI
// distribution registry: parsing references (with the plain-HTTP policy),
// pulling images and indexes, and pushing them with skip-what-is-there
// (HEAD before upload, cross-repository blob mounts from repositories named
// by the user or recorded in a small push history), bounded retries with
// backoff, bounded parallel uploads and an optional terminal progress line.
//
// It is built on go-containerregistry's remote and authn packages; the
// default keychain reads ~/.docker/config.json (or $DOCKER_CONFIG) and its
// credential helpers.
package registry
