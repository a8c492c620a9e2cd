// Package registrytest starts a real OCI registry (Debian's docker-registry,
// the CNCF distribution server) on 127.0.0.1 for tests, with a temporary
// storage folder and optional htpasswd authentication, stopped when the
// test ends.
package registrytest
