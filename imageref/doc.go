// Package imageref owns turning a user's image reference into an image or
// image index strata can read: a docker-archive tarball ("x.tar" or
// "docker-archive:x.tar"), an OCI layout ("oci:DIR[:TAG]"), an image in the
// local Docker Engine ("docker:NAME") or a registry reference (pulled
// through package registry). It also picks one platform's image out of an
// index. It only reads: nothing here writes images.
package imageref
