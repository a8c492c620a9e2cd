package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// FileName is the spec's default file name.
const FileName = "strata.yaml"

// Error is one problem in a spec, located at File:Line.
type Error struct {
	File string
	Line int
	// Key is the YAML path of the offending key, e.g. "config.entrypoint".
	Key string
	Msg string
	// Fix tells the user what to do.
	Fix string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString(" (")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every problem found in one spec.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Find locates the spec for a command-line argument: a file, a folder
// holding strata.yaml, or "" for ./strata.yaml.
func Find(arg string) (string, error) {
	if arg == "" {
		arg = "."
	}
	st, err := os.Stat(arg)
	if err != nil {
		return "", fmt.Errorf("no spec at %s: pass a strata.yaml or a folder that holds one", arg)
	}
	if st.IsDir() {
		p := filepath.Join(arg, FileName)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("no %s in %s: pass the spec file or a folder that holds one", FileName, arg)
		}
		arg = p
	}
	return filepath.Abs(arg)
}

// Load finds, parses and validates a spec.
func Load(arg string, opts ...LoadOption) (*Spec, error) {
	p, err := Find(arg)
	if err != nil {
		return nil, err
	}
	b, err := readSpecFile(p, p)
	if se, ok := err.(*Error); ok {
		return nil, se
	}
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	s, err := Parse(p, b, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Parse parses and validates spec bytes read from file (used in messages
// and to resolve relative sources).
func Parse(file string, b []byte, opts ...LoadOption) (*Spec, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	display := file
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
			display = rel
		}
	}
	f, err := parseYAML(display, b)
	if err != nil {
		return nil, err
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, &Error{File: display, Msg: "the spec must be one YAML document (a mapping with at least `name`)", Fix: "see examples/ for a spec"}
	}
	var s Spec
	if err := decodeSpec(display, f, b, &s); err != nil {
		return nil, err
	}
	modeLiterals(f.Docs[0].Body, &s)
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	if err := s.applyIncludes(display, filepath.Dir(abs), []string{abs}, map[string]bool{}); err != nil {
		return nil, err
	}
	s.Path, s.Dir = abs, filepath.Dir(abs)
	errs := s.chooseSuite(o)
	if len(errs) == 0 {
		errs = validate(&s)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			e.File = display
			e.Line = lineOf(f, e.Key)
		}
		return nil, errs
	}
	s.applyDefaults()
	return &s, nil
}

// decodeSpec checks the keys of a parsed spec and decodes it into s; a
// panic inside the YAML decoder becomes an Error for the file.
func decodeSpec(display string, f *ast.File, b []byte, s *Spec) (err error) {
	defer recoverYAML(display, &err)
	if errs := checkKeys(display, f.Docs[0].Body, reflect.TypeOf(Spec{}), ""); len(errs) > 0 {
		return errs
	}
	if err := yaml.UnmarshalWithOptions(b, s, yaml.Strict()); err != nil {
		return yamlError(display, err)
	}
	return nil
}

// modeLiterals puts back the literal of every unquoted files[].mode: the
// decoder reads `mode: 0755` as the integer 493, but the user wrote octal
// digits (as Kubernetes' defaultMode and compose read them), and 0o755 too.
func modeLiterals(body ast.Node, s *Spec) {
	m, ok := body.(*ast.MappingNode)
	if !ok {
		return
	}
	for _, kv := range m.Values {
		if kv.Key.String() != "files" {
			continue
		}
		seq, ok := kv.Value.(*ast.SequenceNode)
		if !ok {
			return
		}
		for i, item := range seq.Values {
			if i >= len(s.Files) {
				return
			}
			fm, ok := item.(*ast.MappingNode)
			if !ok {
				continue
			}
			for _, fkv := range fm.Values {
				if _, isInt := fkv.Value.(*ast.IntegerNode); isInt && fkv.Key.String() == "mode" {
					s.Files[i].Mode = fkv.Value.GetToken().Value
				}
			}
		}
	}
}

// yamlError turns a goccy/go-yaml error into an Error with a line number.
func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tok := ye.GetToken(); tok != nil && tok.Position != nil {
			line = tok.Position.Line
		}
		msg := ye.GetMessage()
		fix := "check the YAML syntax and the field's type in schema/strata.schema.json"
		if strings.Contains(msg, "cannot unmarshal") {
			fix = "give this key a value of the type the schema asks for (schema/strata.schema.json)"
		}
		return &Error{File: file, Line: line, Msg: msg, Fix: fix}
	}
	return &Error{File: file, Msg: err.Error()}
}

// checkKeys walks the YAML tree beside the Go type and reports every key
// the type does not have, with the closest known key as a suggestion.
func checkKeys(file string, n ast.Node, t reflect.Type, prefix string) Errors {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs Errors
	switch node := n.(type) {
	case *ast.MappingNode:
		if t.Kind() == reflect.Map {
			et := t.Elem()
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() != reflect.Struct {
				return nil
			}
			for _, kv := range node.Values { // map values of a struct type: check their keys
				errs = append(errs, checkKeys(file, kv.Value, et, joinKey(prefix, kv.Key.String()))...)
			}
			return errs
		}
		if t.Kind() != reflect.Struct {
			return nil // a type error; the decoder reports it
		}
		fields := yamlFields(t)
		for _, kv := range node.Values {
			key := kv.Key.String()
			path := joinKey(prefix, key)
			ft, ok := fields[key]
			if !ok {
				e := &Error{File: file, Line: kv.Key.GetToken().Position.Line, Key: path, Msg: "unknown key"}
				if s := closest(key, keysOf(fields)); s != "" {
					e.Fix = fmt.Sprintf("did you mean `%s`?", s)
				} else {
					e.Fix = "known keys here: " + strings.Join(keysOf(fields), ", ")
				}
				errs = append(errs, e)
				continue
			}
			if e := typeMismatch(file, path, kv.Value, ft); e != nil {
				errs = append(errs, e)
				continue
			}
			errs = append(errs, checkKeys(file, kv.Value, ft, path)...)
		}
	case *ast.MappingValueNode:
		return checkKeys(file, &ast.MappingNode{Values: []*ast.MappingValueNode{node}}, t, prefix)
	case *ast.SequenceNode:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, v := range node.Values {
			path := fmt.Sprintf("%s[%d]", prefix, i)
			if e := typeMismatch(file, path, v, t.Elem()); e != nil {
				errs = append(errs, e)
				continue
			}
			errs = append(errs, checkKeys(file, v, t.Elem(), path)...)
		}
	}
	return errs
}

// typeMismatch reports a value whose YAML shape the key's type cannot
// take, in the spec's words ("a whole number", "a list"), so the decoder's
// Go type names never reach the user. Any scalar may stand for a string
// (YAML reads 0755 or true unquoted as other types).
func typeMismatch(file, key string, n ast.Node, t reflect.Type) *Error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.InterfaceUnmarshaler]()) {
		return nil // a type with its own decoder checks its own shapes
	}
	if n == nil || n.Type() == ast.NullType {
		return nil
	}
	if a, ok := n.(*ast.AnchorNode); ok {
		n = a.Value
	}
	if _, ok := n.(*ast.AliasNode); ok {
		return nil
	}
	if tn, ok := n.(*ast.TagNode); ok {
		n = tn.Value
	}
	var want, example string
	ok := true
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		ok = t.Kind() == reflect.Struct || t.Kind() == reflect.Map || t.Kind() == reflect.Interface
	case *ast.SequenceNode:
		ok = t.Kind() == reflect.Slice || t.Kind() == reflect.Interface
	case *ast.IntegerNode:
		ok = t.Kind() != reflect.Bool && t.Kind() != reflect.Slice && t.Kind() != reflect.Struct && t.Kind() != reflect.Map
	case *ast.BoolNode:
		ok = t.Kind() == reflect.Bool || t.Kind() == reflect.String || t.Kind() == reflect.Interface
	default: // strings, floats and other scalars
		ok = t.Kind() == reflect.String || t.Kind() == reflect.Interface
	}
	if ok {
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		want, example = "a string", `key: "text"`
	case reflect.Bool:
		want, example = "true or false", "key: true"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want, example = "a whole number", "key: 1000"
	case reflect.Slice:
		want, example = "a list", "key: [a, b], or one `- item` per line"
	case reflect.Map:
		want, example = "a mapping", "key: {NAME: value}"
	case reflect.Struct:
		want, example = "a mapping of keys", "key: followed by indented `subkey: value` lines"
	default:
		return nil
	}
	line := 0
	if tok := n.GetToken(); tok != nil && tok.Position != nil {
		line = tok.Position.Line
	}
	e := &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf("is %s, but it must be %s", shapeOf(n), want)}
	if strings.HasSuffix(key, "]") {
		e.Fix = "each item of this list must be " + want
	} else {
		last := key
		if i := strings.LastIndex(key, "."); i >= 0 {
			last = key[i+1:]
		}
		e.Fix = "write it as " + strings.Replace(example, "key", last, 1)
	}
	return e
}

// shapeOf names a YAML value's shape in the spec's words.
func shapeOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode:
		return "a number"
	case *ast.FloatNode:
		return "a decimal number"
	case *ast.BoolNode:
		return "true or false"
	}
	if sn, ok := n.(*ast.StringNode); ok {
		return fmt.Sprintf("the text %q", sn.Value)
	}
	return fmt.Sprintf("the text %q", n.String())
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

func keysOf(m map[string]reflect.Type) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// closest returns the known key within a small edit distance of key.
func closest(key string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= 2 || (bestD <= 3 && len(key) > 6) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev[j-1]) // transposition, approximated
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lineOf finds the line of a key path like "files[0].dst" in the YAML AST.
func lineOf(f *ast.File, key string) int {
	if key == "" {
		return 0
	}
	p, err := yaml.PathString("$." + key)
	if err != nil {
		return 0
	}
	for k := key; k != ""; {
		if n, err := p.FilterFile(f); err == nil && n != nil {
			return n.GetToken().Position.Line
		}
		// Fall back to the parent key.
		i := strings.LastIndexAny(k, ".[")
		if i <= 0 {
			break
		}
		k = k[:i]
		if p, err = yaml.PathString("$." + k); err != nil {
			break
		}
	}
	return 0
}
