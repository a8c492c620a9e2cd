package spec

import (
	"encoding/json"

	"github.com/invopop/jsonschema"
)

// SchemaPath is where the generated schema is checked in, relative to the
// repository root.
const SchemaPath = "schema/strata.schema.json"

// Schema returns the JSON Schema of strata.yaml generated from the Go
// types (github.com/invopop/jsonschema reads their json tags and
// `jsonschema` tags). It is deterministic: a test compares it with the
// checked-in copy.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		Anonymous:                  true,
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             false,
	}
	s := r.Reflect(&Spec{})
	s.ID = "https://github.com/stratabuild/strata/schema/strata.schema.json"
	s.Title = "strata.yaml"
	s.Description = "A strata image spec: inputs (files, Debian packages, Nix store paths), runtime config and layering."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// JSONSchemaExtend lets files[].mode be a quoted string or an unquoted
// number (read from its digits as octal, see Parse).
func (File) JSONSchemaExtend(s *jsonschema.Schema) {
	m, ok := s.Properties.Get("mode")
	if !ok {
		return
	}
	m.Type = ""
	m.OneOf = []*jsonschema.Schema{
		{Type: "string", Pattern: `^(0|0o|0O)?[0-7]{3,4}$`},
		{Type: "integer", Minimum: "0"},
	}
}
