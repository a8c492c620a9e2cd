package closure

import (
	"io/fs"
	"testing"
)

func TestModeRoundTrip(t *testing.T) {
	for _, u := range []uint32{0, 0o644, 0o755, 0o4755, 0o2640, 0o1777, 0o7777} {
		if got := UnixMode(ModeFromUnix(u)); got != u {
			t.Errorf("%o -> %v -> %o", u, ModeFromUnix(u), got)
		}
	}
	if ModeFromUnix(0o4755) != 0o755|fs.ModeSetuid {
		t.Errorf("setuid lost: %v", ModeFromUnix(0o4755))
	}
}

func TestPlatformOCIRoundTrip(t *testing.T) {
	p := Platform{OS: "linux", Arch: "arm", Variant: "v7"}
	o := p.OCI()
	if o.OS != "linux" || o.Architecture != "arm" || o.Variant != "v7" || o.String() != p.String() {
		t.Fatalf("OCI() = %+v", o)
	}
	if back := PlatformOf(o); back != p {
		t.Fatalf("PlatformOf(OCI()) = %+v, want %+v", back, p)
	}
}
