package rootfs_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPure keeps the package free of I/O and of the pipeline's later
// stages: it renders bytes from its inputs and nothing else.
func TestPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/stratabuild/strata/"
	allowed := map[string]bool{mod + "closure": true, mod + "spec": true}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == "os" || p == "os/exec" || p == "io/ioutil" || p == "path/filepath" || strings.HasPrefix(p, "net"):
				t.Errorf("%s imports %s; rootfs must stay free of I/O", f, p)
			case strings.HasPrefix(p, mod) && !allowed[p]:
				t.Errorf("%s imports %s; rootfs may import only closure and spec of strata", f, p)
			}
		}
	}
}
