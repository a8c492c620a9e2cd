// Command strata builds minimal, reproducible, layered OCI images and
// inspects them. All logic lives in the library packages; see internal/cli.
package main

import (
	"os"

	"github.com/stratabuild/strata/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
