package purl

import "testing"

func TestNew(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{New("deb", "debian", "libc6", "2.36-9+deb12u4", Qualifier{"arch", "amd64"}, Qualifier{"distro", "debian-12"}, Qualifier{"upstream", ""}),
			"pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"},
		{New("nix", "", "hello", "2.12.1"), "pkg:nix/hello@2.12.1"},
		{New("nix", "", "tool", ""), "pkg:nix/tool"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
