package e2e

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// contractBCase is one row of issue 13's table for items 5, 6, 7, 14, 15
// and 20: a spec folder, a command line, and what strata must answer.
type contractBCase struct {
	name string
	item int
	// files are the spec folder's contents ("strata.yaml" among them);
	// links are symlinks in it (path -> target).
	files map[string]string
	links map[string]string
	// setup runs after files are written (e.g. to build a base image).
	setup func(t *testing.T, dir, cache string)
	// args, with DIR replaced by the spec folder.
	args []string
	code int
	// first is a substring of stderr's first line ("" checks nothing).
	first string
	// stderr is a substring anywhere in stderr.
	stderr string
	// left are the files the run leaves in DIR besides its inputs.
	left  []string
	check func(t *testing.T, dir string, r Result)
}

const cbApp = "#!/bin/sh\necho hi\n"

func cbSpec(body string) map[string]string {
	return map[string]string{"strata.yaml": body, "app/run": cbApp}
}

// TestContractBTable runs every row against the real binary.
func TestContractBTable(t *testing.T) {
	filesOnly := "files:\n  - src: app\n    dst: /app\n"
	cases := []contractBCase{
		// Item 5: config.user must name an account of the image's /etc/passwd.
		{name: "user not in accounts", item: 5,
			files: cbSpec("name: u1\n" + filesOnly + "accounts:\n  users: [{name: app, uid: 1000, gid: 1000}]\nconfig:\n  user: web\n"),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, code: 1,
			first: `config.user "web" names the user "web", which /etc/passwd of the image for linux/`, stderr: "(it has root, nobody, nonroot, app): add it under accounts.users"},
		{name: "user without any passwd", item: 5,
			files: cbSpec("name: u2\n" + filesOnly + "config:\n  user: nonroot\n"),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, code: 1,
			first: `config.user "nonroot" names the user "nonroot", but the image for linux/`, stderr: "has no /etc/passwd"},
		{name: "user from accounts", item: 5,
			files: cbSpec("name: u3\n" + filesOnly + "accounts:\n  users: [{name: app, uid: 1000, gid: 1000}]\n  groups: [{name: app, gid: 1000}]\nconfig:\n  user: app:app\n"),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"}},
		{name: "user from a files entry's own passwd", item: 5,
			files: map[string]string{"strata.yaml": "name: u4\n" + filesOnly + "  - src: passwd\n    dst: /etc/passwd\nconfig:\n  user: svc\n", "app/run": cbApp, "passwd": "svc:x:100:100::/:/bin/false\n"},
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"}},
		{name: "numeric user needs no account", item: 5,
			files: cbSpec("name: u5\n" + filesOnly + "config:\n  user: \"1000:1000\"\n"),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"}},
		{name: "user from the base image's passwd", item: 5,
			files: cbSpec("name: u6\nbase: oci:base\n" + filesOnly + "config:\n  user: basesvc\n"),
			setup: cbBase, args: []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"}},
		{name: "user missing from the base image's passwd", item: 5,
			files: cbSpec("name: u7\nbase: oci:base\n" + filesOnly + "config:\n  user: ghost\n"),
			setup: cbBase, args: []string{"build", "DIR", "-o", "DIR/out.tar"}, code: 1,
			first: `config.user "ghost" names the user "ghost", which /etc/passwd`, stderr: "(it has root, nobody, nonroot, basesvc)"},

		// Item 6: builds that should not succeed, or should warn.
		{name: "windows platform with debian inputs", item: 6,
			files: cbSpec("name: w1\ndebian:\n  suite: bookworm\n  packages: [hello]\n"),
			args:  []string{"build", "DIR", "--platform", "windows/amd64", "-o", "DIR/out.tar"}, code: 1,
			first: "platform windows/amd64: Debian packages run on Linux only"},
		{name: "darwin platform with nix inputs", item: 6,
			files: cbSpec("name: w2\nnix:\n  paths: [/nix/store/00000000000000000000000000000000-hello]\n"),
			args:  []string{"build", "DIR", "--platform", "darwin/arm64", "-o", "DIR/out.tar"}, code: 1,
			first: "platform darwin/arm64: Nix store paths in an image need a Linux kernel"},
		{name: "windows platform with files only is fine", item: 6,
			files: cbSpec("name: w3\n" + filesOnly),
			args:  []string{"build", "DIR", "--platform", "windows/amd64", "-o", "DIR/out.tar"}, left: []string{"out.tar"}},
		{name: "--platform twice", item: 6,
			files: cbSpec("name: p1\n" + filesOnly),
			args:  []string{"build", "DIR", "--platform", "linux/amd64,linux/arm64", "--platform", "linux/amd64", "--oci", "DIR/oci"}, code: 2,
			first: "--platform linux/amd64 is given twice"},
		{name: "spec platform twice", item: 6,
			files: cbSpec("name: p2\nplatforms: [linux/amd64, linux/amd64]\n" + filesOnly),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, code: 1,
			first: `platforms[1]: "linux/amd64" is listed twice (also platforms[0])`},
		{name: "--budget 0", item: 6,
			files: cbSpec("name: b0\n" + filesOnly),
			args:  []string{"build", "DIR", "--budget", "0", "-o", "DIR/out.tar"}, code: 2,
			first: "--budget 0: use 1 to 127"},
		{name: "two files entries with one dst", item: 6,
			files: map[string]string{"strata.yaml": "name: d1\n" + filesOnly + "  - src: other\n    dst: /app\n", "app/run": cbApp, "other": "x"},
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, code: 1,
			first: `files[1].dst: "/app" is also the dst of files[0]`},
		{name: "two identical files entries", item: 6,
			files: cbSpec("name: d2\n" + filesOnly + filesOnly[len("files:\n"):]),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"}},
		{name: "no input at all", item: 6,
			files: map[string]string{"strata.yaml": "name: nothing\nconfig:\n  entrypoint: [/app]\n"},
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, code: 1,
			first: "the spec has no inputs, so the image would hold nothing to run"},
		{name: "dangling files symlink warns", item: 6,
			files: cbSpec("name: l1\n" + filesOnly),
			links: map[string]string{"app/python": "/usr/bin/python3", "app/ok": "run"},
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"},
			first: "warning: l1: /app/python -> /usr/bin/python3 points at nothing in the image", left: []string{"out.tar"},
			check: func(t *testing.T, _ string, r Result) {
				if strings.Contains(r.Stderr, "/app/ok") {
					t.Errorf("a link to a file in the image warned:\n%s", r.Stderr)
				}
			}},

		// Item 7: lock --update NAME for a name nothing has.
		{name: "lock --update unknown package", item: 7,
			files: cbSpec("name: k1\ndebian:\n  suite: bookworm\n  packages: [hello, libc6]\n"),
			args:  []string{"lock", "DIR", "--update", "libc7"}, code: 2,
			first: "--update libc7: ", stderr: "did you mean `libc6`?"},

		// Item 14: unquoted octal modes.
		{name: "mode 0755 and 0o640 unquoted", item: 14,
			files: map[string]string{"strata.yaml": "name: m1\nfiles:\n  - src: app\n    dst: /app\n    mode: 0755\n  - src: data\n    dst: /data\n    mode: 0o640\n", "app/run": cbApp, "data": "d"},
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"},
			check: func(t *testing.T, dir string, _ Result) {
				modes := cbModes(t, filepath.Join(dir, "out.tar"))
				if modes["app/run"] != 0o755 || modes["data"] != 0o640 {
					t.Errorf("modes app/run %o data %o, want 755 and 640", modes["app/run"], modes["data"])
				}
			}},

		// Item 15: PATH in the config; the spec's env wins.
		{name: "files-only image carries PATH", item: 15,
			files: cbSpec("name: e1\n" + filesOnly + "config:\n  env: {A: \"1\"}\n"),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"},
			check: func(t *testing.T, dir string, _ Result) {
				if got := cbEnv(t, filepath.Join(dir, "out.tar")); got != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin A=1" {
					t.Errorf("env = %s", got)
				}
			}},
		{name: "the spec's PATH wins", item: 15,
			files: cbSpec("name: e2\n" + filesOnly + "config:\n  env: {PATH: /app}\n"),
			args:  []string{"build", "DIR", "-o", "DIR/out.tar"}, left: []string{"out.tar"},
			check: func(t *testing.T, dir string, _ Result) {
				if got := cbEnv(t, filepath.Join(dir, "out.tar")); got != "PATH=/app" {
					t.Errorf("env = %s", got)
				}
			}},

		// Item 20: the short SBOM format names the docs use.
		{name: "sbom --format spdx", item: 20, files: cbSpec("name: s1\n" + filesOnly),
			args: []string{"sbom", "DIR", "--format", "spdx", "-o", "DIR/s.json"}, left: []string{"s.json"},
			check: func(t *testing.T, dir string, _ Result) {
				cbContains(t, filepath.Join(dir, "s.json"), `"spdxVersion": "SPDX-2.3"`)
			}},
		{name: "sbom --format cyclonedx", item: 20, files: cbSpec("name: s2\n" + filesOnly),
			args: []string{"sbom", "DIR", "--format", "cyclonedx", "-o", "DIR/s.json"}, left: []string{"s.json"},
			check: func(t *testing.T, dir string, _ Result) {
				cbContains(t, filepath.Join(dir, "s.json"), `"bomFormat": "CycloneDX"`)
			}},
		{name: "sbom --format cyclonedx-json", item: 20, files: cbSpec("name: s3\n" + filesOnly),
			args: []string{"sbom", "DIR", "--format", "cyclonedx-json", "-o", "DIR/s.json"}, left: []string{"s.json"}},
		{name: "sbom --format xml", item: 20, files: cbSpec("name: s4\n" + filesOnly),
			args: []string{"sbom", "DIR", "--format", "xml", "-o", "DIR/s.json"}, code: 2,
			first: `unknown --format "xml": use spdx (spdx-json) or cyclonedx (cyclonedx-json)`},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("item%d/%s", c.item, c.name), func(t *testing.T) {
			dir, cache := t.TempDir(), t.TempDir()
			for p, content := range c.files {
				writeTestFile(t, filepath.Join(dir, p), content, strings.HasPrefix(p, "app/"))
			}
			for p, target := range c.links {
				if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			if c.setup != nil {
				c.setup(t, dir, cache)
			}
			before := listFiles(t, dir)
			args := []string{"--cache", cache}
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			r := Run(t, []string{"SOURCE_DATE_EPOCH="}, args...)
			if r.Code != c.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.Code, c.code, r.Stderr)
			}
			first, _, _ := strings.Cut(r.Stderr, "\n")
			if c.first != "" && !strings.Contains(first, c.first) {
				t.Errorf("first line of stderr %q lacks %q\nstderr:\n%s", first, c.first, r.Stderr)
			}
			if c.code != 0 && !strings.HasPrefix(first, "strata: ") {
				t.Errorf("error line %q does not start with strata:", first)
			}
			if c.stderr != "" && !strings.Contains(r.Stderr, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, r.Stderr)
			}
			var left []string
			for _, p := range listFiles(t, dir) {
				if !slices.Contains(before, p) {
					left = append(left, p)
				}
			}
			if strings.Join(left, " ") != strings.Join(c.left, " ") {
				t.Errorf("files left behind: %v, want %v", left, c.left)
			}
			if c.check != nil {
				c.check(t, dir, r)
			}
		})
	}
}

// cbBase writes DIR/base, an OCI layout whose passwd has basesvc.
func cbBase(t *testing.T, dir, cache string) {
	t.Helper()
	bdir := filepath.Join(t.TempDir(), "basespec")
	writeTestFile(t, filepath.Join(bdir, "strata.yaml"), "name: cbbase\nfiles:\n  - src: hi\n    dst: /hi\naccounts:\n  users: [{name: basesvc, uid: 2000, gid: 2000}]\n", false)
	writeTestFile(t, filepath.Join(bdir, "hi"), "hi\n", false)
	MustRun(t, nil, "--cache", cache, "build", bdir, "--oci", filepath.Join(dir, "base"))
}

func writeTestFile(t *testing.T, p, content string, exec bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// listFiles lists every file and link under dir (not folders), relative.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && filepath.Base(p) == "base" {
				return filepath.SkipDir // the setup's base layout is an input
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// cbModes maps each path in the docker-archive's image to its mode bits.
func cbModes(t *testing.T, archive string) map[string]int64 {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, l := range ls {
		eachEntry(t, l, func(h *tar.Header, _ io.Reader) bool {
			out[strings.TrimPrefix(h.Name, "./")] = h.Mode & 0o7777
			return true
		})
	}
	return out
}

// cbEnv is the image config's Env, space-separated.
func cbEnv(t *testing.T, archive string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(cf.Config.Env, " ")
}

func cbContains(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), want) {
		t.Errorf("%s lacks %s", p, want)
	}
}

// TestContractBTestScriptWaitsForDpkgLock: every apt-get that
// scripts/test.sh runs waits for another apt's lock (issue 13 item 19)
// instead of failing at once.
func TestContractBTestScriptWaitsForDpkgLock(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "apt") {
			continue
		}
		if strings.Contains(line, "apt-get ") && !strings.Contains(line, "DPkg::Lock::Timeout=300") {
			t.Errorf("scripts/test.sh runs apt-get without -o DPkg::Lock::Timeout=300: %s", line)
		}
		if strings.Contains(line, `"${apt[@]}"`) {
			calls++
		}
	}
	if calls < 2 {
		t.Errorf("scripts/test.sh runs apt-get update and install through the lock-waiting command %d times, want 2", calls)
	}
}

// docCommands returns every strata command line in README.md and
// docs/*.md: the lines of fenced code blocks and the inline code spans
// that start with strata (or ./strata), split at && ; and pipes.
func docCommands(t *testing.T) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(RepoRoot(), "docs", "*.md"))
	files = append(files, filepath.Join(RepoRoot(), "README.md"))
	inline := regexp.MustCompile("`((?:\\./)?strata [^`]+)`")
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(RepoRoot(), f)
		var lines []string
		fenced := false
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fenced = !fenced
				continue
			}
			if fenced {
				lines = append(lines, strings.TrimPrefix(strings.TrimSpace(line), "$ "))
				continue
			}
			for _, m := range inline.FindAllStringSubmatch(line, -1) {
				lines = append(lines, strings.ReplaceAll(m[1], `\|`, "|"))
			}
		}
		for _, line := range lines {
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			for _, seg := range regexp.MustCompile(`&&|;| \| `).Split(line, -1) {
				seg = strings.TrimSpace(seg)
				if strings.HasPrefix(seg, "strata ") || strings.HasPrefix(seg, "./strata ") {
					out[rel] = append(out[rel], seg)
				}
			}
		}
	}
	return out
}

// docArgs turns a documented command into argument lists: optional parts
// ([--json]) are included, "..." dropped, and A|B alternatives each give
// their own list.
func docArgs(cmd string) [][]string {
	cmd = strings.NewReplacer("[", " ", "]", " ", "...", "").Replace(cmd)
	fields := strings.Fields(cmd)[1:] // drop "strata"
	lists := [][]string{nil}
	for _, f := range fields {
		alts := strings.Split(f, "|")
		var next [][]string
		for _, l := range lists {
			for _, a := range alts {
				if a == "" {
					continue
				}
				next = append(next, append(append([]string(nil), l...), a))
			}
		}
		lists = next
	}
	return lists
}

// TestContractBDocsCommandsParse runs every strata command line of the
// README and docs/ with --help, so a renamed command or flag, or a flag
// given to the wrong command, fails here (issue 13 item 20). Flag values
// (like --format spdx) are checked for real in TestContractBTable.
func TestContractBDocsCommandsParse(t *testing.T) {
	cmds := docCommands(t)
	n := 0
	for file, list := range cmds {
		for _, cmd := range list {
			for _, args := range docArgs(cmd) {
				n++
				// --help before the first flag (after the command and its
				// subcommands, like cache gc): cobra parses every flag,
				// then prints help instead of running.
				at := 1
				for at < len(args) && !strings.HasPrefix(args[at], "-") {
					at++
				}
				run := append(append(append([]string(nil), args[:at]...), "--help"), args[at:]...)
				r := Run(t, nil, run...)
				if r.Code != 0 && strings.Contains(r.Stderr, "flag needs an argument") {
					// A fragment in prose, like `strata build -o`: the flag exists.
					r = Run(t, nil, append(run, "VALUE")...)
				}
				if r.Code != 0 {
					t.Errorf("%s: `%s` does not parse (as strata %s): exit %d\n%s", file, cmd, strings.Join(run, " "), r.Code, r.Stderr)
				}
			}
		}
	}
	if n < 15 {
		t.Fatalf("found only %d documented command lines; the extraction is broken: %v", n, cmds)
	}
}
