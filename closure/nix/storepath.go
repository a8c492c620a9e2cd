package nix

import (
	"fmt"
	"path"
	"strings"
)

// storeHashLen is the length of the hash part of a store path's base name.
const storeHashLen = 32

// checkStorePath reports whether p looks like a store path: an absolute,
// clean path whose base name is a 32-character Nix base32 hash, a dash
// and a name.
func checkStorePath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("%q is not a Nix store path: want an absolute path like /nix/store/HASH-name", p)
	}
	base := path.Base(p)
	if len(base) < storeHashLen+2 || base[storeHashLen] != '-' {
		return fmt.Errorf("%q is not a Nix store path: its name must be a 32-character hash, a dash and a name", p)
	}
	for i := 0; i < storeHashLen; i++ {
		if !strings.ContainsRune(base32Alphabet, rune(base[i])) {
			return fmt.Errorf("%q is not a Nix store path: %q is not a Nix base32 hash", p, base[:storeHashLen])
		}
	}
	return nil
}

// ParseName splits a store path's base name HASH-name-version into its
// name and version: the version starts after the first dash that is
// followed by a digit ("demo-app-2.3" -> "demo-app", "2.3"); a name
// without one has an empty version.
func ParseName(storePath string) (name, version string) {
	base := path.Base(storePath)
	if len(base) > storeHashLen+1 && base[storeHashLen] == '-' {
		base = base[storeHashLen+1:]
	}
	for i := 0; i+1 < len(base); i++ {
		if base[i] == '-' && base[i+1] >= '0' && base[i+1] <= '9' {
			return base[:i], base[i+1:]
		}
	}
	return base, ""
}
