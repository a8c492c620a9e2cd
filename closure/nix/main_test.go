package nix

import (
	"os"
	"testing"

	"github.com/stratabuild/strata/closure/nix/nixtest"
)

func TestMain(m *testing.M) { os.Exit(nixtest.Main(m)) }
