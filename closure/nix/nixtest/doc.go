// Package nixtest builds small real Nix closures for strata's tests
// without nixpkgs: Debian's static busybox added to the store, and two
// builtins.derivation outputs built with it. Tests that use it need nix-bin
// and busybox-static (scripts/apt-packages.txt) and run as root.
package nixtest
