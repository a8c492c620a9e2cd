// Package build owns strata's pipeline as a library: a spec is resolved by
// its sources into one closure graph per platform (pinned by strata.lock),
// planned into layers by package layering, assembled into images by package
// image, and handed back as a Result whose Target any sink can write. The
// CLI only parses flags and calls Build, BuildFleet, Lock and Resolve.
package build
