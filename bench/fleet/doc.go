// Command fleet measures, at the planning level, how much a registry
// deduplicates a fleet of eight Debian bookworm images under each layering
// strategy and layer budget.
//
// It resolves the closures with strata's Debian resolver (closure/deb)
// against the signed archive the host's apt sources name (the index is
// cached in strata's store), builds one planning-only graph per image
// (node size = Installed-Size × 1024), plans every image, and counts a
// layer as stored once per distinct node set. It prints, per strategy and
// budget, the dedup ratio (bytes of all images / bytes stored) and the
// share of the ideal saving, (bytes saved) / (bytes saved with one layer
// per distinct package), with and without the base system (every
// Priority: required package added to each image).
//
//	go run ./bench/fleet [-suite bookworm] [-arch amd64] [-budgets 4,8,16,32] [-packages FILE]
package main
