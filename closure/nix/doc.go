// Package nix owns Nix store closures as image inputs: it resolves the
// runtime closure of store paths (given as paths, as flake installables
// built with `nix build`, or as a closure file in exportReferencesGraph or
// closureInfo registration form), checks every store path against the
// store's recorded narHash with its own NAR serializer (fed by the same
// reads that write the path's layer, see CheckedEntries; before the files
// are used elsewhere), and can generate a Nix database so that
// `nix-store -qR` works inside the image (registerClosure).
//
// Each store path becomes one closure.Node of kind closure.KindNix with ID
// "nix:" + the full store path; its entries live under nix/store/.
//
// Nix itself is optional for strata: it is needed only when a spec asks
// for Nix inputs (or a closure file lacks hashes and registerClosure is
// set).
package nix
