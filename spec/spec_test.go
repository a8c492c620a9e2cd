package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeSpec(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, FileName)
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValid(t *testing.T) {
	p := writeSpec(t, `name: demo
files:
  - src: app
    dst: /app
config:
  entrypoint: [/app]
  exposedPorts: ["8080", 53/udp]
  env: {A: "1"}
`)
	s, err := Load(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if s.Tag != "latest" || s.Layering.Budget != 100 || len(s.Platforms) != 1 || s.Config.ExposedPorts[0] != "8080/tcp" {
		t.Errorf("defaults not applied: %+v", s)
	}
	if s.Dir != filepath.Dir(p) {
		t.Errorf("Dir %q", s.Dir)
	}
}

// accounts need no debian section: files-only and Nix images get them too.
func TestAccountsWithoutDebian(t *testing.T) {
	p := writeSpec(t, `name: demo
files:
  - src: app
    dst: /app
accounts:
  users: [{name: app, uid: 1000, gid: 1000}]
  groups: [{name: app, gid: 1000}]
config:
  user: app
`)
	s, err := Load(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if s.Debian != nil || s.Accounts == nil || len(s.Accounts.Users) != 1 || s.Accounts.Users[0].Name != "app" || s.Accounts.Groups[0].GID != 1000 {
		t.Errorf("accounts = %+v", s.Accounts)
	}
}

// Each bad spec gives an error naming the line, the key and the fix.
func TestBadSpecs(t *testing.T) {
	cases := []struct {
		name, yaml string
		line       int
		want       []string
	}{
		{"unknown key", "name: x\nconfig:\n  entrypiont: [/app]\n", 3, []string{"config.entrypiont", "unknown key", "did you mean `entrypoint`?"}},
		{"unknown top key", "name: x\nfiels: []\n", 2, []string{"fiels", "did you mean `files`?"}},
		{"wrong type", "name: x\nlayering:\n  budget: many\n", 3, []string{"layering.budget", "a whole number", "budget: 1000"}},
		{"wrong type accounts", "name: x\naccounts:\n  users: [{name: a, uid: abc, gid: 1}]\n", 3, []string{"accounts.users[0].uid", "is the text \"abc\"", "a whole number"}},
		{"string for a list", "name: x\nplatforms: linux/amd64\n", 2, []string{"platforms", "must be a list"}},
		{"mapping for a list", "name: x\nfiles: {src: a, dst: /a}\n", 2, []string{"files", "is a mapping, but it must be a list"}},
		{"list for a string", "name: x\ncreated: [1]\n", 2, []string{"created", "must be a string"}},
		{"word for a bool", "name: x\ndebian:\n  suite: bookworm\n  updates: yes\n  packages: [a]\n", 4, []string{"debian.updates", "true or false"}},
		{"scalar list item", "name: x\nfiles: [3]\n", 2, []string{"files[0]", "each item", "a mapping of keys"}},
		{"relative dst", "name: x\nfiles:\n  - src: app\n    dst: app\n", 4, []string{"files[0].dst", "relative", "/app"}},
		{"src escapes", "name: x\nfiles:\n  - src: ../etc/passwd\n    dst: /p\n", 3, []string{"files[0].src", "leaves the spec's folder"}},
		{"missing src", "name: x\nfiles:\n  - src: nothere\n    dst: /p\n", 3, []string{"files[0].src", "does not exist"}},
		{"bad port", "name: x\nconfig:\n  exposedPorts: [http]\n", 3, []string{"config.exposedPorts[0]", "80/tcp"}},
		{"bad proto", "name: x\nconfig:\n  exposedPorts: [80/icmp]\n", 3, []string{"protocol"}},
		{"missing name", "tag: v1\n", 0, []string{"name", "missing"}},
		{"bad name", "name: Hello World\n", 1, []string{"not a valid image name"}},
		{"bad created", "name: x\ncreated: yesterday\n", 2, []string{"RFC 3339"}},
		{"budget too big", "name: x\nlayering:\n  budget: 500\n", 3, []string{"layering.budget", "127"}},
		{"bad strategy", "name: x\nlayering:\n  strategy: popular\n", 3, []string{"did you mean `popularity`?"}},
		{"bad mode", "name: x\nfiles:\n  - src: app\n    dst: /a\n    mode: rwx\n", 5, []string{"octal"}},
		{"syntax", "name: x\n  bad: [\n", 0, []string{FileName}},
		{"security mirror unused", "name: x\ndebian:\n  suite: bookworm\n  packages: [hello]\n  updates: false\n  securityMirror: http://127.0.0.1:9/sec\n", 6, []string{"debian.securityMirror", "updates: true"}},
		{"updates not a bool", "name: x\ndebian:\n  suite: bookworm\n  packages: [hello]\n  updates: sometimes\n", 5, []string{"updates"}},
		{"hex mode", "name: x\nfiles:\n  - src: app\n    dst: /a\n    mode: 0x1ed\n", 5, []string{"files[0].mode", "not an octal mode"}},
		{"decimal digits in mode", "name: x\nfiles:\n  - src: app\n    dst: /a\n    mode: 0789\n", 5, []string{"files[0].mode", "not an octal mode"}},
		{"platform twice", "name: x\nplatforms: [linux/amd64, linux/arm64, linux/amd64]\n", 2, []string{"platforms[2]", "listed twice", "platforms[0]"}},
		{"relative path glob", "name: x\ndebian:\n  suite: bookworm\n  packages: [a]\n  paths:\n    exclude: [usr/share/**]\n", 6, []string{"debian.paths.exclude[0]", "not an absolute image path", "start the glob with /"}},
		{"unmerged glob", "name: x\ndebian:\n  suite: bookworm\n  packages: [a]\n  paths: {include: [/lib/x86_64-linux-gnu/libz*]}\n", 0, []string{"debian.paths.include[0]", "merged /usr", "write /usr/lib/x86_64-linux-gnu/libz*"}},
		{"bad glob", "name: x\ndebian:\n  suite: bookworm\n  packages: [a]\n  packagePaths:\n    tzdata: {include: [\"/usr/[ab\"]}\n", 6, []string{"debian.packagePaths.tzdata.include[0]", "not a valid glob"}},
		{"bad package in packagePaths", "name: x\ndebian:\n  suite: bookworm\n  packages: [a]\n  packagePaths:\n    Tzdata: {exclude: [/x]}\n", 0, []string{"debian.packagePaths.Tzdata", "not a Debian package name"}},
		{"unknown keep", "name: x\ndebian:\n  suite: bookworm\n  packages: [a]\n  keep: [cert]\n", 0, []string{"debian.keep[0]", "docs, man, locales and certs"}},
		{"nsswitch newline", "name: x\nnsswitch:\n  hosts: \"files\\ndns\"\n", 3, []string{"nsswitch.hosts", "on one line"}},
		{"nsswitch database", "name: x\nnsswitch:\n  Hosts: files\n", 0, []string{"nsswitch.Hosts", "not an nsswitch database name"}},
		{"same dst twice", "name: x\nfiles:\n  - src: app\n    dst: /a\n  - src: app\n    dst: /a/\n    mode: \"0600\"\n", 6, []string{"files[1].dst", "also the dst of files[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeSpec(t, c.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if c.line > 0 {
				var se *Error
				var es Errors
				switch {
				case errors.As(err, &es):
					se = es[0]
				case errors.As(err, &se):
				}
				if se == nil || se.Line != c.line {
					t.Errorf("error %q: want line %d", msg, c.line)
				}
				if !strings.Contains(msg, FileName+":") {
					t.Errorf("error %q does not name the file", msg)
				}
			}
		})
	}
}

func TestCreated(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	now := func() time.Time { return time.Unix(1700000000, 5) }
	s := &Spec{}
	if tm, repro, _ := s.CreatedTime(env(""), now); tm.Unix() != 1 || !repro {
		t.Errorf("default created %v %v", tm, repro)
	}
	if tm, _, _ := s.CreatedTime(env("1234"), now); tm.Unix() != 1234 {
		t.Errorf("SOURCE_DATE_EPOCH ignored: %v", tm)
	}
	s.Created = "now"
	if tm, repro, _ := s.CreatedTime(env("1234"), now); repro || tm.Unix() != 1700000000 {
		t.Errorf("now: %v %v", tm, repro)
	}
	s.Created = "2024-01-31T12:00:00Z"
	if tm, _, _ := s.CreatedTime(env("1234"), now); tm.Year() != 2024 {
		t.Errorf("explicit created lost to SOURCE_DATE_EPOCH: %v", tm)
	}
}

// The checked-in schema must match the Go types. Regenerate with
// `go run ./cmd/strata schema > schema/strata.schema.json`.
// An unquoted mode is read from its digits as octal (0755, 0o755, even
// 755), not as the decimal value YAML gives it; identical entries with the
// same dst are accepted.
func TestModeLiterals(t *testing.T) {
	cases := []struct{ lit, want string }{
		{"0755", "0755"},
		{"0o755", "0755"},
		{"0O700", "0700"},
		{"755", "0755"},
		{"\"0644\"", "0644"},
		{"\"0o640\"", "0640"},
		{"04755", "04755"},
	}
	for _, c := range cases {
		t.Run(c.lit, func(t *testing.T) {
			s, err := Load(writeSpec(t, "name: x\nfiles:\n  - src: app\n    dst: /a\n    mode: "+c.lit+"\n  - src: ./app\n    dst: /a\n    mode: "+c.lit+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Files[0].Mode != c.want || s.Files[1].Mode != c.want {
				t.Errorf("mode %s read as %q, %q; want %q", c.lit, s.Files[0].Mode, s.Files[1].Mode, c.want)
			}
		})
	}
}

func TestSchemaIsFresh(t *testing.T) {
	want, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", SchemaPath))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is stale: run `go run ./cmd/strata schema > %s`", SchemaPath, SchemaPath)
	}
}
