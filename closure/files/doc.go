// Package files owns the local-files source: each `files` entry of a spec
// (a file or a folder tree under the spec's folder) becomes one closure
// node whose contents are normalised like git and Nix do: only the
// executable bit of a source file survives (0755 or 0644; folders 0755)
// unless the spec sets a mode, owners are 0:0 unless set, timestamps are
// dropped, symlinks are kept as links, and hardlinks inside an entry stay
// hardlinks. Sockets, devices and fifos are errors.
package files
