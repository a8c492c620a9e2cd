package spec

import (
	"fmt"
	"io"
	"os"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Limits on a spec file, checked before the YAML library builds or decodes
// anything, so a hostile strata.yaml (say, in a pull request a CI job
// builds) costs bounded memory and time. SECURITY.md lists them.
const (
	// MaxSpecBytes is the largest spec file read (each included spec
	// too). The largest example is about 1 KB; the YAML tokenizer
	// allocates up to ~300 bytes per token, so this keeps a token-dense
	// file under ~80 MB.
	MaxSpecBytes = 256 << 10
	// MaxSpecDepth is the deepest nesting of mappings and lists. The
	// YAML parser's memory grows with the square of the nesting of
	// unclosed flow collections (`[[[[…`: 40 000 levels took 2.4 GB),
	// so flow nesting is counted on the tokens before parsing.
	MaxSpecDepth = 64
	// MaxSpecNodes is the largest number of YAML nodes a spec may stand
	// for once every alias is expanded (an alias counts the nodes of its
	// anchor each time it is used). A "billion laughs" alias bomb of 14
	// lines stands for gigabytes; a real spec has a few hundred nodes.
	MaxSpecNodes = 100_000
)

// knownTags are the YAML tags a spec may carry: the core schema's scalar
// tags, which only say how to read a plain value. Any other tag (`!x`,
// `!!binary`, `!!set`, a %TAG handle) is refused: strata's keys take plain
// values, and unknown tags reached code paths in the YAML library that
// panicked.
var knownTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true}

// readSpecFile reads a spec file of at most MaxSpecBytes.
func readSpecFile(display, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSpecBytes {
		return nil, tooBig(display)
	}
	return b, nil
}

func tooBig(display string) *Error {
	return &Error{File: display, Msg: fmt.Sprintf("the spec is larger than %d bytes (spec.MaxSpecBytes)", MaxSpecBytes), Fix: "a strata.yaml is a few KB: split it with include, or check that this is the right file"}
}

// parseYAML parses spec bytes into a YAML AST within the limits above and
// refuses unknown tags. A panic inside the YAML library becomes an Error
// for the file.
func parseYAML(display string, b []byte) (f *ast.File, err error) {
	defer recoverYAML(display, &err)
	if len(b) > MaxSpecBytes {
		return nil, tooBig(display)
	}
	toks := lexer.Tokenize(string(b))
	depth := 0
	for _, tk := range toks {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > MaxSpecDepth {
				return nil, tooDeep(display, tk)
			}
		case token.SequenceEndType, token.MappingEndType:
			depth--
		}
	}
	f, err = parser.Parse(toks, 0)
	if err != nil {
		return nil, yamlError(display, err)
	}
	w := &walker{file: display, sizes: map[string]int64{}}
	for _, d := range f.Docs {
		w.size(d, 0)
		if w.err != nil {
			return nil, w.err
		}
	}
	return f, nil
}

// recoverYAML turns a panic inside the YAML library into an Error: a bad
// spec must never crash strata with a stack trace.
func recoverYAML(display string, err *error) {
	if r := recover(); r != nil {
		*err = &Error{File: display, Msg: fmt.Sprintf("the YAML library failed on this spec (%v)", r), Fix: "check the YAML syntax near unusual constructs (tags, anchors, flow collections) and report this spec as a strata bug"}
	}
}

func tooDeep(display string, tk *token.Token) *Error {
	line := 0
	if tk != nil && tk.Position != nil {
		line = tk.Position.Line
	}
	return &Error{File: display, Line: line, Msg: fmt.Sprintf("mappings and lists nest deeper than %d levels (spec.MaxSpecDepth)", MaxSpecDepth), Fix: "a spec nests a few levels: check the brackets"}
}

// walker counts the nodes a document stands for with aliases expanded,
// checks the nesting depth and the tags, and stops at the first problem.
type walker struct {
	file  string
	sizes map[string]int64 // anchor name -> expanded size
	total int64
	err   *Error
}

func (w *walker) fail(n ast.Node, msg, fix string) {
	if w.err != nil {
		return
	}
	line := 0
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
	}
	w.err = &Error{File: w.file, Line: line, Msg: msg, Fix: fix}
}

// size returns the expanded node count of n and adds it to the total as
// it goes; aliases add their anchor's size.
func (w *walker) size(n ast.Node, depth int) int64 {
	if w.err != nil || n == nil {
		return 0
	}
	if depth > MaxSpecDepth {
		w.fail(n, fmt.Sprintf("mappings and lists nest deeper than %d levels (spec.MaxSpecDepth)", MaxSpecDepth), "a spec nests a few levels: check the indentation")
		return 0
	}
	var s int64 = 1
	switch x := n.(type) {
	case *ast.DocumentNode:
		return w.size(x.Body, depth)
	case *ast.MappingNode:
		for _, v := range x.Values {
			s += w.size(v, depth+1)
		}
	case *ast.MappingValueNode:
		s += w.size(x.Key, depth) + w.size(x.Value, depth)
	case *ast.MappingKeyNode:
		s += w.size(x.Value, depth)
	case *ast.SequenceNode:
		for _, v := range x.Values {
			s += w.size(v, depth+1)
		}
	case *ast.TagNode:
		tag := ""
		if x.Start != nil {
			tag = x.Start.Value
		}
		if !knownTags[tag] {
			w.fail(n, fmt.Sprintf("the YAML tag %s is not allowed in a spec", tag), "remove the tag: spec keys take plain values (the only tags read are !!str, !!int, !!float, !!bool and !!null)")
			return 0
		}
		s += w.size(x.Value, depth)
	case *ast.AnchorNode:
		v := w.size(x.Value, depth)
		if x.Name != nil {
			w.sizes[x.Name.String()] = v
		}
		return v // the anchor itself adds nothing; its value was counted
	case *ast.AliasNode:
		name := ""
		if x.Value != nil {
			name = x.Value.String()
		}
		v := w.sizes[name] // an unknown alias is the parser's error
		w.total += v
		if w.total > MaxSpecNodes {
			w.fail(n, fmt.Sprintf("with its aliases expanded the spec has more than %d YAML nodes (spec.MaxSpecNodes)", MaxSpecNodes), "use fewer or smaller anchors and aliases (an alias bomb expands to gigabytes)")
			return 0
		}
		return v
	}
	w.total++
	if w.total > MaxSpecNodes {
		w.fail(n, fmt.Sprintf("the spec has more than %d YAML nodes (spec.MaxSpecNodes)", MaxSpecNodes), "split the spec with include")
	}
	return s
}
