// Command strata builds minimal, reproducible, layered OCI images and
// inspects them. All logic lives in the library packages; see internal/cli.
package main
