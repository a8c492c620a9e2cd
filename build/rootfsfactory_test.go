package build

import (
	"testing"

	"github.com/stratabuild/strata/spec"
)

// A spec without Debian inputs gets the generated rootfs layer when it
// sets accounts, osRelease or nsswitch, and only then; a Debian image
// writes those files in its own generated layer.
func TestRootfsFactory(t *testing.T) {
	for _, c := range []struct {
		name string
		s    spec.Spec
		want bool
	}{
		{"nothing", spec.Spec{}, false},
		{"accounts", spec.Spec{Accounts: &spec.Accounts{}}, true},
		{"osRelease", spec.Spec{OSRelease: map[string]string{"NAME": "x"}}, true},
		{"nsswitch", spec.Spec{Nsswitch: map[string]string{"hosts": "files"}}, true},
		{"debian", spec.Spec{Nsswitch: map[string]string{"hosts": "files"}, Debian: &spec.Debian{}}, false},
	} {
		if got := len(rootfsFactory(&c.s, nil)) == 1; got != c.want {
			t.Errorf("%s: rootfs source = %v, want %v", c.name, got, c.want)
		}
	}
}
