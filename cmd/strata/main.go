package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/stratabuild/strata/internal/cli"
)

func main() {
	os.Exit(run())
}

// run is main with STRATA_CPUPROFILE=FILE writing a CPU profile of the
// whole command (for `go tool pprof`; bench/ and performance work).
func run() int {
	if p := os.Getenv("STRATA_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "strata: STRATA_CPUPROFILE: %v\n", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "strata: STRATA_CPUPROFILE: %v\n", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	return cli.Main(os.Args[1:], os.Stdout, os.Stderr)
}
