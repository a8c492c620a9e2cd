package deb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
)

func TestArch(t *testing.T) {
	cases := map[string]string{
		"amd64": "amd64", "arm64": "arm64", "arm/v7": "armhf", "386": "i386",
		"ppc64le": "ppc64el", "s390x": "s390x", "riscv64": "riscv64", "arm/v5": "armel",
	}
	for in, want := range cases {
		arch, variant, _ := strings.Cut(in, "/")
		got, err := Arch(closure.Platform{OS: "linux", Arch: arch, Variant: variant})
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Arch(closure.Platform{OS: "linux", Arch: "wasm"}); err == nil || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("wasm: %v", err)
	}
	// Debian packages are Linux binaries: another OS is an error even
	// when the architecture exists (issue 13 item 6).
	for _, os := range []string{"windows", "darwin"} {
		if _, err := Arch(closure.Platform{OS: os, Arch: "amd64"}); err == nil || !strings.Contains(err.Error(), "Linux only") {
			t.Errorf("%s/amd64: %v", os, err)
		}
	}
}

// aptRoot writes an apt configuration folder. Loopback URLs only: the
// test needs no real host names.
func aptRoot(t *testing.T, sources, list string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if sources != "" {
		writeFile(t, filepath.Join(root, "sources.list.d", "debian.sources"), sources)
	}
	if list != "" {
		writeFile(t, filepath.Join(root, "sources.list"), list)
	}
	return root
}

const deb822Sources = `# the security archive first, to check the choice is by suite
Types: deb
URIs: http://127.0.0.1:9/security
Suites: stable-security
Components: main

Types: deb-src
URIs: http://127.0.0.1:9/source-only
Suites: stable
Components: main

Types: deb
URIs: http://127.0.0.1:9/disabled
Suites: stable
Enabled: no

Types: deb
# a comment inside a paragraph
URIs: http://127.0.0.1:9/main/
Suites: stable stable-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`

func TestFindMirror(t *testing.T) {
	cases := []struct {
		name, suite, sources, list string
		opt                        MirrorOptions
		want, err                  string
	}{
		{name: "deb822Sources entry serving the suite", suite: "stable", sources: deb822Sources, want: "http://127.0.0.1:9/main"},
		{name: "deb822Sources security suite", suite: "stable-security", sources: deb822Sources, want: "http://127.0.0.1:9/security"},
		{name: "deb822Sources other release: the main archive entry", suite: "oldstable", sources: deb822Sources, want: "http://127.0.0.1:9/main"},
		{name: "one-line form with options", suite: "stable",
			list: "# comment\ndeb-src http://127.0.0.1:9/src stable main\ndeb [signed-by=/k.gpg arch=amd64] http://127.0.0.1:9/one stable main\n",
			want: "http://127.0.0.1:9/one"},
		{name: "env wins over the host", suite: "stable", sources: deb822Sources, opt: MirrorOptions{Env: "http://127.0.0.1:9/env/"}, want: "http://127.0.0.1:9/env"},
		{name: "spec wins over env", suite: "stable", sources: deb822Sources, opt: MirrorOptions{Spec: "http://127.0.0.1:9/spec", Env: "http://127.0.0.1:9/env"}, want: "http://127.0.0.1:9/spec"},
		{name: "nothing configured", suite: "stable", err: "set debian.mirror in the spec or the STRATA_DEBIAN_MIRROR environment variable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.opt
			opt.AptRoot = aptRoot(t, tc.sources, tc.list)
			got, err := FindMirror(tc.suite, opt)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseRelease(t *testing.T) {
	rel, err := ParseRelease([]byte("Suite: stable\nCodename: bookworm\nDate: Sat, 10 Jun 2023 08:55:06 UTC\nAcquire-By-Hash: yes\nComponents: main contrib\nArchitectures: amd64 arm64\nMD5Sum:\n 0123 12 main/binary-amd64/Packages\nSHA256:\n " +
		strings.Repeat("ab", 32) + " 1234 main/binary-amd64/Packages.xz\n " + strings.Repeat("cd", 32) + " 99 main/binary-amd64/Packages\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rel.Codename != "bookworm" || !rel.AcquireByHash || rel.Date != "Sat, 10 Jun 2023 08:55:06 UTC" || len(rel.SHA256) != 2 {
		t.Fatalf("%+v", rel)
	}
	f, err := pickIndex(rel, "main", "amd64")
	if err != nil || f.path != "main/binary-amd64/Packages.xz" || f.sum.Size != 1234 {
		t.Fatalf("pickIndex: %+v %v", f, err)
	}
	if _, err := pickIndex(rel, "non-free", "amd64"); err == nil || !strings.Contains(err.Error(), "components [main contrib]") {
		t.Fatalf("missing component: %v", err)
	}
	if _, err := ParseRelease([]byte("Suite: x\n")); err == nil {
		t.Fatal("a Release without SHA256 parsed")
	}
}
