package spec

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDebianExact(t *testing.T) {
	cases := []struct {
		yaml, json, err string
		want            *Exact
	}{
		{yaml: "exact: true", want: &Exact{All: true}, json: `true`},
		{yaml: "exact: [libc6, tzdata]", want: &Exact{Packages: []string{"libc6", "tzdata"}}, json: `["libc6","tzdata"]`},
		{yaml: "exact: [Bad_Name]", err: "debian.exact[0]"},
		{yaml: "exact: {all: true}", err: "debian.exact must be true, false or a list"},
		{yaml: "", want: nil},
	}
	for _, tc := range cases {
		p := writeSpec(t, "name: demo\ndebian:\n  suite: bookworm\n  packages: [hello]\n  "+tc.yaml+"\n")
		s, err := Load(filepath.Dir(p))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if !reflect.DeepEqual(s.Debian.Exact, tc.want) {
			t.Errorf("%s: exact = %+v, want %+v", tc.yaml, s.Debian.Exact, tc.want)
		}
		b, err := json.Marshal(s.Debian)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == nil && strings.Contains(string(b), "exact") {
			t.Errorf("no exact: the inputs key %s must not mention it (existing locks stay valid)", b)
		}
		if tc.want != nil && !strings.Contains(string(b), `"exact":`+tc.json) {
			t.Errorf("%s: inputs key %s lacks \"exact\":%s", tc.yaml, b, tc.json)
		}
	}
}
