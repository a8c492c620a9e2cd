package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bomb is a "billion laughs" in config.env: each level's anchor is ten
// aliases of the one before, so levels levels stand for 10^levels nodes.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("name: x\nconfig:\n  env:\n    a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n")
	for i := 1; i < levels; i++ {
		b.WriteString("    a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// Hostile specs (issue 15 hole 2) are refused with a file:line error
// naming the limit, before the YAML library expands or nests anything.
func TestHostileSpecs(t *testing.T) {
	cases := []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"unknown tag on a list", "name: x\ndebian:\n  suite: bookworm\n  packages: !x [hello]\n", 4, "the YAML tag !x is not allowed"},
		{"unknown tag, no value", "name: x\ndebian:\n  suite: bookworm\n  packages: !x\n", 4, "the YAML tag !x is not allowed"},
		{"unknown tag on a string", "name: !foo x\n", 1, "the YAML tag !foo is not allowed"},
		{"binary tag", "name: x\nconfig:\n  entrypoint: !!binary aGVsbG8=\n", 3, "the YAML tag !!binary is not allowed"},
		{"alias bomb", bomb(9), 0, "spec.MaxSpecNodes"},
		{"unclosed flow nesting", "name: x\nconfig:\n  labels: " + strings.Repeat("[", 40000) + "\n", 3, "spec.MaxSpecDepth"},
		{"closed flow nesting", "name: x\nconfig:\n  labels: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n", 3, "spec.MaxSpecDepth"},
		{"too many nodes", "name: x\nconfig:\n  cmd: [" + strings.Repeat("a,", MaxSpecNodes) + "a]\n", 3, "spec.MaxSpecNodes"},
		{"too big", "name: x\n" + strings.Repeat("# padding\n", MaxSpecBytes/10+1), 0, "spec.MaxSpecBytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeSpec(t, c.yaml)
			_, err := Load(p)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a spec Error", err)
			}
			if !strings.Contains(se.Error(), c.want) || se.Fix == "" {
				t.Errorf("err = %v, want %q and a fix", se, c.want)
			}
			if c.line > 0 && se.Line != c.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, c.line, se)
			}
			if !strings.HasSuffix(se.File, FileName) {
				t.Errorf("file = %q", se.File)
			}
		})
	}
}

// The core scalar tags and modest anchors still work.
func TestKnownTagsAndAnchors(t *testing.T) {
	p := writeSpec(t, "name: !!str x\nconfig:\n  entrypoint: &ep [/app]\n  cmd: *ep\n  user: !!str 1000\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || len(s.Config.Cmd) != 1 || s.Config.Cmd[0] != "/app" || s.Config.User != "1000" {
		t.Errorf("spec = %+v", s)
	}
	// A bomb just under the limit is read (10^4 nodes).
	if _, err := Parse(filepath.Join(t.TempDir(), FileName), []byte(bomb(4))); err == nil || strings.Contains(err.Error(), "MaxSpecNodes") {
		t.Errorf("a 10^4-node spec: %v (want only the type error)", err)
	}
}

// An included spec is held to the same limits, and the error names it.
func TestHostileInclude(t *testing.T) {
	p := writeSpec(t, "name: x\ninclude: [base.yaml]\n")
	inc := filepath.Join(filepath.Dir(p), "base.yaml")
	if err := os.WriteFile(inc, []byte(bomb(9)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "base.yaml") || !strings.Contains(err.Error(), "MaxSpecNodes") {
		t.Fatalf("err = %v", err)
	}
}

// A panic inside the YAML library becomes an Error for the file.
func TestRecoverYAML(t *testing.T) {
	err := func() (err error) {
		defer recoverYAML("strata.yaml", &err)
		panic("boom")
	}()
	var se *Error
	if !errors.As(err, &se) || se.File != "strata.yaml" || !strings.Contains(se.Msg, "boom") {
		t.Fatalf("err = %v", err)
	}
}
