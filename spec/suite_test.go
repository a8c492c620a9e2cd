package spec

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDefaultSuite: a debian block without a suite gets DefaultSuite, or
// the suite asked for; a spec naming its suite keeps it against a default
// and is an error against a suite demanded explicitly.
func TestDefaultSuite(t *testing.T) {
	dir := t.TempDir()
	neutral := filepath.Join(dir, "neutral", FileName)
	pinned := filepath.Join(dir, "pinned", FileName)
	writeAt(t, neutral, "name: n\ndebian: {packages: [hello]}\n")
	writeAt(t, pinned, "name: p\ndebian: {suite: bookworm, packages: [hello]}\n")
	for _, c := range []struct {
		name, file string
		opts       []LoadOption
		want, err  string
	}{
		{"neutral, no option", neutral, nil, DefaultSuite, ""},
		{"neutral, default", neutral, []LoadOption{WithDefaultSuite("bookworm")}, "bookworm", ""},
		{"neutral, demanded", neutral, []LoadOption{WithSuite("bookworm")}, "bookworm", ""},
		{"pinned, no option", pinned, nil, "bookworm", ""},
		{"pinned, other default", pinned, []LoadOption{WithDefaultSuite("trixie")}, "bookworm", ""},
		{"pinned, same demanded", pinned, []LoadOption{WithSuite("bookworm")}, "bookworm", ""},
		{"pinned, other demanded", pinned, []LoadOption{WithSuite("trixie")}, "", "names suite bookworm, but trixie was asked for"},
		{"bad suite", neutral, []LoadOption{WithSuite("Trixie!")}, "", "not a Debian suite name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Load(c.file, c.opts...)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "debian.suite") {
					t.Fatalf("err %v, want one naming debian.suite and %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Debian.Suite != c.want {
				t.Errorf("suite %q, want %q", s.Debian.Suite, c.want)
			}
		})
	}
	if DefaultSuite != "trixie" {
		t.Errorf("DefaultSuite %q: Debian 13 (trixie) is the current stable release", DefaultSuite)
	}
}

// TestStepSuiteDefault: a build step in a spec without a debian block
// takes the default suite (it was an error before the default existed).
func TestStepSuiteDefault(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	writeAt(t, p, "name: s\nbuilds: {b: {run: 'true', debian: {packages: [gcc]}}}\nfiles: [{build: b, dst: /b}]\n")
	for _, c := range []struct {
		opts []LoadOption
		want string
	}{{nil, DefaultSuite}, {[]LoadOption{WithDefaultSuite("bookworm")}, "bookworm"}} {
		s, err := Load(p, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if d := s.StepDebian("b"); d.Suite != c.want {
			t.Errorf("step suite %q, want %q", d.Suite, c.want)
		}
	}
}

// TestPerSuite: the perSuite entry of the chosen suite is folded into the
// debian block (after includes), the others are dropped.
func TestPerSuite(t *testing.T) {
	dir := t.TempDir()
	writeAt(t, filepath.Join(dir, "py", FileName), `name: py
debian:
  packages: [python3]
  perSuite:
    bookworm: {packages: [python3-distutils], exact: [python3-distutils]}
    trixie: {exclude: [tzdata]}
`)
	writeAt(t, filepath.Join(dir, "app", FileName), `name: app
include: [../py]
debian:
  packages: [libc6]
  perSuite:
    bookworm: {packages: [libssl3]}
`)
	s, err := Load(filepath.Join(dir, "app"), WithSuite("bookworm"))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Debian
	if want := []string{"python3", "libc6", "python3-distutils", "libssl3"}; !reflect.DeepEqual(d.Packages, want) {
		t.Errorf("bookworm packages %v, want %v", d.Packages, want)
	}
	if d.Exact == nil || !reflect.DeepEqual(d.Exact.Packages, []string{"python3-distutils"}) || d.Exclude != nil || d.PerSuite != nil {
		t.Errorf("bookworm: exact %+v exclude %v perSuite %v", d.Exact, d.Exclude, d.PerSuite)
	}
	s, err = Load(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Debian; !reflect.DeepEqual(d.Packages, []string{"python3", "libc6"}) || !reflect.DeepEqual(d.Exclude, []string{"tzdata"}) || d.Exact != nil {
		t.Errorf("trixie: packages %v exclude %v exact %+v", d.Packages, d.Exclude, d.Exact)
	}
	writeAt(t, filepath.Join(dir, "bad", FileName), "name: b\ndebian: {packages: [a], perSuite: {Bookworm: {packages: [b]}}}\n")
	if _, err := Load(filepath.Join(dir, "bad")); err == nil || !strings.Contains(err.Error(), "debian.perSuite.Bookworm") {
		t.Errorf("bad perSuite key: %v", err)
	}
}

// TestPinnedSuiteInputs: a spec naming its suite reads the same with any
// default, and its debian block marshals to the bytes it did before the
// default existed (deb's InputsKey, hashed into strata.lock's inputsHash:
// a changed byte would make every existing lock stale under --frozen).
func TestPinnedSuiteInputs(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	writeAt(t, p, "name: hello\ndebian:\n  suite: bookworm\n  packages: [hello]\n")
	want := `{"suite":"bookworm","components":["main"],"packages":["hello"]}`
	for _, opts := range [][]LoadOption{nil, {WithDefaultSuite("trixie")}, {WithSuite("bookworm")}} {
		s, err := Load(p, opts...)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s.Debian)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("debian block %s, want %s", b, want)
		}
	}
}
