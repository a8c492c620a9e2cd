// Package baseimage resolves the `base:` of a spec to one image for one
// platform, with the digest to record in strata.lock. The reference is any
// form package imageref reads (the same string means the same image in
// `strata inspect`):
//
//	base: HOST/REPO[:TAG|@DIGEST]   an image or index in a registry
//	base: oci:DIR[:TAG]             an OCI image layout folder; TAG is matched
//	                                against org.opencontainers.image.ref.name
//	base: docker-archive:FILE       a `docker save` tarball
//	base: docker:NAME               an image in the local Docker Engine
//
// Relative local paths are taken from the spec's folder. From an index it
// picks the requested platform (imageref.SelectPlatform). A locked digest
// wins: a registry base is fetched by it even when the tag moved since,
// while a local base whose content differs from the lock is an error
// naming `strata lock --update`.
package baseimage
