package closure

import v1 "github.com/google/go-containerregistry/pkg/v1"

// OCI is p as go-containerregistry's platform, for manifests, indexes and
// platform matching. It is the only conversion in that direction.
func (p Platform) OCI() v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant}
}

// PlatformOf is the build platform of an OCI platform (an image config's or
// an index entry's); OS version and features are dropped, as strata builds
// for OS, architecture and variant only.
func PlatformOf(p v1.Platform) Platform {
	return Platform{OS: p.OS, Arch: p.Architecture, Variant: p.Variant}
}
