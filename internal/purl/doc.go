// Package purl writes package URLs (the purl specification): the one
// escaping and the one layout "pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS"
// that the sources (closure/deb, closure/nix) and sbom (the image's own
// pkg:oci URL) share. It knows no package type's rules: each source decides
// its own type, namespace and qualifiers.
package purl
