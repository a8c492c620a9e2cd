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
