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
//
// Typical use (the CLI's --push, --insecure, --mount-from):
//
//	opt := registry.Options{
//		Insecure:  insecure,
//		MountFrom: mountFrom,
//		Progress:  os.Stderr, // a live line on a terminal, one line otherwise
//		History:   filepath.Join(cacheRoot, "registry", "push-history.json"),
//	}
//	digest, err := registry.Push(ctx, "127.0.0.1:5000/app:1", img, nil, opt)
package registry
