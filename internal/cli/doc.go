// Package cli owns strata's command line: flags, help, exit codes and how
// results are printed (text or --json). It is the only package that imports
// cobra; every command parses its flags and calls a library package.
package cli
