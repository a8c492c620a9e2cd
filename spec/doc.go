// Package spec owns strata's input format: the Go types of strata.yaml, their
// strict parser (every error names file:line, the key and the fix), the
// semantic validation, and the JSON Schema generated from the types.
//
// It has no build logic and imports nothing of strata's: every other package
// reads a *Spec, none writes one.
package spec
