package rootfs_test

import (
	"strings"
	"testing"

	"github.com/stratabuild/strata/rootfs"
)

// A spec's osRelease value may name the distribution's own fields as
// ${FIELD}: a suite-neutral spec gets the release it is built on.
func TestOSReleaseFieldRefs(t *testing.T) {
	rel := rootfs.OSRelease{Name: "Debian GNU/Linux", VersionID: "13", Version: "13 (trixie)", VersionCodename: "trixie", ID: "debian",
		Fields: map[string]string{"PRETTY_NAME": "Distroless", "VERSION": "Debian GNU/Linux ${VERSION}", "BUILD_ID": "${ID}-${VERSION_ID}${PRETTY_NAME}"}}
	list, err := rootfs.Entries(rootfs.Options{OSRelease: rel})
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, byPath(t, list), rootfs.UsrOSReleasePath)
	for _, want := range []string{"\nVERSION=\"Debian GNU/Linux 13 (trixie)\"\n", "\nPRETTY_NAME=\"Distroless\"\n", "\nBUILD_ID=\"debian-13\"\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("os-release lacks %q:\n%s", want, got)
		}
	}
	rel.Fields = map[string]string{"VERSION": "${HOME_URL}"}
	if _, err := rootfs.Entries(rootfs.Options{OSRelease: rel}); err == nil || !strings.Contains(err.Error(), "${HOME_URL}") {
		t.Errorf("an unknown field reference: %v", err)
	}
}
