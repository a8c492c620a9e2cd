package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeAt(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	writeAt(t, filepath.Join(dir, "static", FileName), `name: static
osRelease: {PRETTY_NAME: Distroless, HOME_URL: "https://example.invalid/"}
debian:
  suite: bookworm
  packages: [base-files, tzdata]
  keep: [man]
accounts:
  groups: [{name: tty, gid: 5}]
config:
  env: {A: "1", B: "1"}
  user: "0"
  workingDir: /
`)
	writeAt(t, filepath.Join(dir, "base", FileName), `name: base
include: [../static]
osRelease: {PRETTY_NAME: Base}
debian:
  packages: [libc6, tzdata]
config:
  env: {B: "2"}
  user: "65532"
`)
	s, err := Load(filepath.Join(dir, "base"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "base" || s.Debian.Suite != "bookworm" {
		t.Errorf("name %q suite %q", s.Name, s.Debian.Suite)
	}
	if want := []string{"base-files", "tzdata", "libc6"}; !reflect.DeepEqual(s.Debian.Packages, want) {
		t.Errorf("packages %v, want %v", s.Debian.Packages, want)
	}
	if !reflect.DeepEqual(s.Debian.Keep, []string{"man"}) || len(s.Accounts.Groups) != 1 {
		t.Errorf("keep %v accounts %+v", s.Debian.Keep, s.Accounts)
	}
	if want := map[string]string{"PRETTY_NAME": "Base", "HOME_URL": "https://example.invalid/"}; !reflect.DeepEqual(s.OSRelease, want) {
		t.Errorf("osRelease %v, want %v", s.OSRelease, want)
	}
	if want := map[string]string{"A": "1", "B": "2"}; !reflect.DeepEqual(s.Config.Env, want) || s.Config.User != "65532" || s.Config.WorkingDir != "/" {
		t.Errorf("config %+v", s.Config)
	}

	writeAt(t, filepath.Join(dir, "a", FileName), "name: a\ninclude: [../b]\n")
	writeAt(t, filepath.Join(dir, "b", FileName), "name: b\ninclude: [../a]\n")
	if _, err := Load(filepath.Join(dir, "a")); err == nil || !strings.Contains(err.Error(), "includes itself") {
		t.Errorf("cycle: %v", err)
	}
	writeAt(t, filepath.Join(dir, "f", FileName), "name: f\nfiles: [{src: x, dst: /x}]\n")
	writeAt(t, filepath.Join(dir, "g", FileName), "name: g\ninclude: [../f]\ndebian: {suite: bookworm, packages: [hello]}\n")
	if _, err := Load(filepath.Join(dir, "g")); err == nil || !strings.Contains(err.Error(), "not local files") {
		t.Errorf("included local files: %v", err)
	}
	writeAt(t, filepath.Join(dir, "srcstep", FileName), "name: s\nbuilds: {x: {src: ., run: 'true', debian: {packages: [gcc]}}}\n")
	writeAt(t, filepath.Join(dir, "i", FileName), "name: i\ninclude: [../srcstep]\n")
	if _, err := Load(filepath.Join(dir, "i")); err == nil || !strings.Contains(err.Error(), "builds.x.src") {
		t.Errorf("included step with src: %v", err)
	}
}

// TestIncludeBuilds: an included spec's build steps and the files taken
// from their outputs carry over (included files first); a step name in
// both specs is an error.
func TestIncludeBuilds(t *testing.T) {
	dir := t.TempDir()
	writeAt(t, filepath.Join(dir, "debug", FileName), `name: debug
builds:
  busybox: {debian: {packages: [busybox-static]}, runtime: none, run: 'cp /usr/bin/busybox $out/'}
files: [{build: busybox, dst: /busybox}]
config: {entrypoint: [/busybox/sh]}
`)
	writeAt(t, filepath.Join(dir, "x", "data"), "x")
	writeAt(t, filepath.Join(dir, "x", FileName), "name: x\ninclude: [../debug]\ndebian: {suite: bookworm, packages: [libc6]}\nfiles: [{src: data, dst: /data}]\n")
	s, err := Load(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if b := s.Builds["busybox"]; b == nil || b.Runtime != "none" || len(s.Builds) != 1 {
		t.Fatalf("builds %+v", s.Builds)
	}
	if len(s.Files) != 2 || s.Files[0].Build != "busybox" || s.Files[1].Dst != "/data" {
		t.Errorf("files %+v", s.Files)
	}
	if d := s.StepDebian("busybox"); d == nil || d.Suite != "bookworm" {
		t.Errorf("the step's closure should take the image's suite: %+v", d)
	}
	if len(s.Config.Entrypoint) != 1 || s.Config.Entrypoint[0] != "/busybox/sh" {
		t.Errorf("entrypoint %v", s.Config.Entrypoint)
	}
	writeAt(t, filepath.Join(dir, "y", FileName), "name: y\ninclude: [../debug]\nbuilds: {busybox: {run: 'true', debian: {packages: [dash]}}}\n")
	if _, err := Load(filepath.Join(dir, "y")); err == nil || !strings.Contains(err.Error(), "same name") {
		t.Errorf("a step in both specs: %v", err)
	}
	writeAt(t, filepath.Join(dir, "h", FileName), "name: h\ninclude: [../nowhere]\n")
	if _, err := Load(filepath.Join(dir, "h")); err == nil || !strings.Contains(err.Error(), "include[0]") {
		t.Errorf("missing include: %v", err)
	}
}

func TestIncludeFiltersAndNsswitch(t *testing.T) {
	dir := t.TempDir()
	writeAt(t, filepath.Join(dir, "lib", FileName), `name: lib
nsswitch: {hosts: files, passwd: files}
debian:
  suite: bookworm
  packages: [tzdata]
  ldCache: true
  paths: {exclude: [/usr/share/zoneinfo/right/**]}
  packagePaths:
    tzdata: {exclude: [/usr/share/zoneinfo/posix/**]}
`)
	writeAt(t, filepath.Join(dir, "app", FileName), `name: app
include: [../lib]
nsswitch: {hosts: files dns}
debian:
  packages: [libc6]
  paths: {exclude: [/usr/share/zoneinfo/right/**, /etc/**], include: [/etc/localtime]}
  packagePaths:
    tzdata: {include: [/usr/share/zoneinfo/posix/UTC]}
    libc6: {exclude: [/usr/lib/*/gconv/**]}
`)
	s, err := Load(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Debian
	if !d.LDCache {
		t.Error("ldCache of the included spec was lost")
	}
	if want := (&PathFilter{Exclude: []string{"/usr/share/zoneinfo/right/**", "/etc/**"}, Include: []string{"/etc/localtime"}}); !reflect.DeepEqual(d.Paths, want) {
		t.Errorf("paths %+v, want %+v", d.Paths, want)
	}
	want := map[string]*PathFilter{
		"tzdata": {Exclude: []string{"/usr/share/zoneinfo/posix/**"}, Include: []string{"/usr/share/zoneinfo/posix/UTC"}},
		"libc6":  {Exclude: []string{"/usr/lib/*/gconv/**"}},
	}
	if !reflect.DeepEqual(d.PackagePaths, want) {
		t.Errorf("packagePaths %+v, want %+v", d.PackagePaths, want)
	}
	if w := map[string]string{"hosts": "files dns", "passwd": "files"}; !reflect.DeepEqual(s.Nsswitch, w) {
		t.Errorf("nsswitch %v, want %v", s.Nsswitch, w)
	}
}

// An included spec's unquoted mode is octal, as in the top spec, and a
// spec reached along two include paths is merged once.
func TestIncludeModesAndDiamonds(t *testing.T) {
	dir := t.TempDir()
	writeAt(t, filepath.Join(dir, "d", FileName), `name: d
builds:
  tool: {debian: {packages: [dash]}, runtime: none, run: 'true'}
files: [{build: tool, dst: /tool, mode: 0644}]
accounts: {users: [{name: app, uid: 1000, gid: 1000}], groups: [{name: app, gid: 1000}]}
`)
	writeAt(t, filepath.Join(dir, "b", FileName), "name: b\ninclude: [../d]\n")
	writeAt(t, filepath.Join(dir, "c", FileName), "name: c\ninclude: [../d]\n")
	writeAt(t, filepath.Join(dir, "a", FileName), "name: a\ninclude: [../b, ../c]\ndebian: {suite: bookworm, packages: [libc6]}\n")
	s, err := Load(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 1 || s.Files[0].Mode != "0644" {
		t.Errorf("files %+v: want one entry with mode 0644", s.Files)
	}
	if len(s.Builds) != 1 || s.Accounts == nil || len(s.Accounts.Users) != 1 || len(s.Accounts.Groups) != 1 {
		t.Errorf("builds %v, accounts %+v: d should be merged once", s.Builds, s.Accounts)
	}
}

// A relative keyring of an included spec (here two levels down) becomes a
// path relative to the top spec's folder, never an absolute one: the same
// tree checked out in two places gives the same debian block, so the same
// lock inputs hash and --frozen works in both.
func TestIncludedKeyringIsRelative(t *testing.T) {
	var blocks []string
	for _, root := range []string{t.TempDir(), filepath.Join(t.TempDir(), "elsewhere", "deeper")} {
		writeAt(t, filepath.Join(root, "lib", "keys", "archive.gpg"), "")
		writeAt(t, filepath.Join(root, "lib", FileName), "name: lib\ndebian: {suite: bookworm, packages: [hello], keyring: keys/archive.gpg}\n")
		writeAt(t, filepath.Join(root, "mid", FileName), "name: mid\ninclude: [../lib]\n")
		writeAt(t, filepath.Join(root, "app", "top", FileName), "name: top\ninclude: [../../mid]\n")
		s, err := Load(filepath.Join(root, "app", "top"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "../../lib/keys/archive.gpg"; s.Debian.Keyring != want {
			t.Fatalf("keyring %q, want %q (relative to %s)", s.Debian.Keyring, want, s.Dir)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, s.Debian.Keyring)); err != nil {
			t.Fatalf("the keyring does not resolve from the spec's folder: %v", err)
		}
		b, err := json.Marshal(s.Debian)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, string(b))
	}
	if blocks[0] != blocks[1] {
		t.Fatalf("two checkouts give two debian blocks:\n%s\n%s", blocks[0], blocks[1])
	}
}
