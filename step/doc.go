// Package step owns build steps (the spec's `builds:`): a recipe whose
// output is named by the hash of all its inputs, built in isolation, the
// way a Nix derivation is.
//
// Each step is two sources. "build/NAME/debian" resolves the step's build
// closure (Debian packages, signed and locked like the image's) into a
// private graph that never reaches the image. "build/NAME" needs it (and
// the steps it takes as inputs) and computes the step's key: the hash of
// the closure's contents keys, the src tree's hash (as the files source
// hashes it), the input steps' output tree hashes and mount paths, run,
// env, the sandbox's version and the platform. The output is a cache tree
// under that key: an unchanged step never runs again. A fixed-output step
// (network: true) is pinned by the hash of its output, which the build
// records in strata.lock and checks on every later run.
//
// A step runs in package sandbox with the closure materialized as a
// read-only root (a cache tree per closure). Files entries with `build:`
// place a step's output in the image (package closure/files), and the
// Debian packages that ship the libraries its ELF files need come along
// (package elfdeps).
package step
