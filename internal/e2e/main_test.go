package e2e

import (
	"os"
	"testing"

	"github.com/stratabuild/strata/closure/nix/nixtest"
)

// TestMain keeps every Nix command of the test process offline: Nix the
// tests run and Nix strata runs see nixtest's NIX_CONFIG (no binary
// caches, no sandbox, no build users).
func TestMain(m *testing.M) { os.Exit(nixtest.Main(m)) }
