// Package layering owns the layering plan: it cuts a closure graph into an
// ordered list of layers (sets of node IDs) within a layer budget, using one
// of four strategies (per-package, popularity, auto, fleet). It is pure: no
// I/O, no clock, no randomness; the same graph always gives the same plan,
// whatever order its nodes and dependencies were added in.
//
// Rules every strategy follows:
//
//   - every node with Contents is in exactly one layer; nodes without
//     Contents are ignored; no layer is empty;
//   - at most Budget-Reserved layers (Budget defaults to 100, at most 127);
//   - generated and files nodes are pinned: never merged with packages, they
//     come last (generated first, then files by ID), one layer each when the
//     budget allows, otherwise all together in one final layer;
//   - package layers go from most shared / most depended-on to least, so
//     images built from overlapping closures share a prefix of layers;
//   - dependency cycles (Debian has them) are collapsed into strongly
//     connected components before the DAG algorithms run.
//
// Strategies are documented at the top of perpackage.go, popularity.go,
// auto.go and fleet.go.
package layering
