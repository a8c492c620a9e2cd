package spec

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"
)

// Exact is debian.exact: `true` takes every package without its
// dependencies, a list of names takes those packages without theirs
// (their dependencies still come in when another package needs them).
type Exact struct {
	All      bool
	Packages []string
}

// UnmarshalYAML reads true, false or a list of package names.
func (e *Exact) UnmarshalYAML(unmarshal func(any) error) error {
	var all bool
	if err := unmarshal(&all); err == nil {
		*e = Exact{All: all}
		return nil
	}
	var names []string
	if err := unmarshal(&names); err != nil {
		return fmt.Errorf("debian.exact must be true, false or a list of package names like [libc6]")
	}
	*e = Exact{Packages: names}
	return nil
}

// MarshalJSON writes true, false or the list, as the spec says it (the
// debian block's JSON is the Debian source's inputs key).
func (e Exact) MarshalJSON() ([]byte, error) {
	if e.Packages != nil {
		return json.Marshal(e.Packages)
	}
	return json.Marshal(e.All)
}

// JSONSchema describes debian.exact's two shapes.
func (Exact) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: "Take packages without their dependencies: true for every package, or a list of package names.",
		OneOf: []*jsonschema.Schema{
			{Type: "boolean"},
			{Type: "array", Items: &jsonschema.Schema{Type: "string"}},
		},
	}
}
