package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/internal/testutil"
)

// Issue 13, the items of helper contract-a: every case drives the real
// binary and checks the exit code, the first line of stderr and the files
// left behind.

func caFirstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func caWriteFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const caSpec = "name: app\nfiles:\n  - src: a.txt\n    dst: /a.txt\n  - src: b.txt\n    dst: /b.txt\n"

var caFiles = map[string]string{"spec/strata.yaml": caSpec, "spec/a.txt": "a\n", "spec/b.txt": "b\n"}

func TestContractATable(t *testing.T) {
	cache := t.TempDir()
	// A good archive to cut short (item 11).
	good := t.TempDir()
	caWriteFiles(t, good, caFiles)
	MustRun(t, nil, "build", filepath.Join(good, "spec"), "--cache", cache, "-o", filepath.Join(good, "app.tar"))
	tarBytes, err := os.ReadFile(filepath.Join(good, "app.tar"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		item  int
		name  string
		files map[string]string
		setup func(t *testing.T, dir string)
		args  []string
		code  int
		first string   // a substring of stderr's first line
		not   string   // text stderr must not hold
		left  []string // paths that must exist afterwards
		gone  []string // paths that must not exist afterwards
	}{
		{item: 1, name: "oci into a non-layout folder", files: map[string]string{"spec/strata.yaml": caSpec, "spec/a.txt": "a", "spec/b.txt": "b", "keep/mine.txt": "mine"},
			args: []string{"build", "spec", "--oci", "keep"}, code: 1, first: "keep", left: []string{"keep/mine.txt"}, gone: []string{"keep/index.json", "keep/oci-layout"}},
		{item: 3, name: "out-dir with two specs of one name", files: map[string]string{"one/strata.yaml": caSpec, "one/a.txt": "a", "one/b.txt": "b", "two/strata.yaml": caSpec, "two/a.txt": "2", "two/b.txt": "2"},
			args: []string{"build", "one", "two", "--out-dir", "out"}, code: 1, first: "are both named \"app\"", gone: []string{"out/app.tar"}},
		{item: 8, name: "build with a damaged lock", files: map[string]string{"spec/strata.lock": "{\"version\": 1, \"sour"},
			args: []string{"build", "spec", "-o", "x.tar"}, code: 1, first: "strata lock --update", gone: []string{"x.tar"}, left: []string{"spec/strata.lock"}},
		{item: 8, name: "lock --update over a damaged lock", files: map[string]string{"spec/strata.lock": "{\"version\": 1, \"sour"},
			args: []string{"lock", "spec", "--update"}, code: 0, first: "lock: warning: replacing ", left: []string{"spec/strata.lock"}},
		{item: 8, name: "build with a newer lock", files: map[string]string{"spec/strata.lock": `{"version": 99}`},
			args: []string{"build", "spec", "-o", "x.tar"}, code: 1, first: "written by a newer strata", gone: []string{"x.tar"}},
		{item: 8, name: "lock --update over a newer lock", files: map[string]string{"spec/strata.lock": `{"version": 99}`},
			args: []string{"lock", "spec", "--update"}, code: 0, first: "strata.lock: it has lock format version 99, written by a newer strata", left: []string{"spec/strata.lock"}},
		{item: 10, name: "inspect a local text file", files: map[string]string{"notes": "not an image\n"},
			args: []string{"inspect", "notes"}, code: 1, first: "it is not a tar archive", not: "registry"},
		{item: 10, name: "inspect a plain folder", files: map[string]string{"plain/x": "x"},
			args: []string{"inspect", "plain"}, code: 1, first: "a folder that is not an OCI image layout", not: "registry"},
		{item: 11, name: "inspect a truncated tar", setup: func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "cut.tar"), tarBytes[:len(tarBytes)*2/3], 0o644)
		}, args: []string{"inspect", "cut.tar"}, code: 1, first: "truncated or damaged", not: "several images"},
		{item: 12, name: "spec type error", files: map[string]string{"spec/strata.yaml": "name: app\naccounts:\n  users: [{name: a, uid: abc, gid: 1}]\n"},
			args: []string{"build", "spec", "-o", "x.tar"}, code: 1, first: "accounts.users[0].uid: is the text \"abc\", but it must be a whole number", not: "Go struct", gone: []string{"x.tar"}},
		{item: 12, name: "why of a missing package", args: []string{"why", "spec", "qqqqqqqqqqqq"}, code: 1, first: "`strata inspect SPEC --view closure`"},
		{item: 13, name: "quiet silences warnings", files: map[string]string{"spec/strata.yaml": caSpec + "created: now\n"},
			args: []string{"-q", "build", "spec"}, code: 0, first: "", not: "warning"},
		{item: 13, name: "warnings without quiet", files: map[string]string{"spec/strata.yaml": caSpec + "created: now\n"},
			args: []string{"build", "spec"}, code: 0, first: "strata: warning: app uses created: now"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			caWriteFiles(t, dir, caFiles)
			caWriteFiles(t, dir, c.files)
			if c.setup != nil {
				c.setup(t, dir)
			}
			r := runIn(t, dir, append(c.args, "--cache", cache)...)
			if r.Code != c.code {
				t.Errorf("item %d: exit %d, want %d\n%s", c.item, r.Code, c.code, r.Stderr)
			}
			if got := caFirstLine(r.Stderr); !strings.Contains(got, c.first) || (c.first == "" && got != "") {
				t.Errorf("item %d: first line %q, want it to hold %q", c.item, got, c.first)
			}
			if c.not != "" && strings.Contains(r.Stderr, c.not) {
				t.Errorf("item %d: stderr holds %q:\n%s", c.item, c.not, r.Stderr)
			}
			for _, p := range c.left {
				if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
					t.Errorf("item %d: %s is gone: %v", c.item, p, err)
				}
			}
			for _, p := range c.gone {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("item %d: %s was written", c.item, p)
				}
			}
		})
	}
}

// TestContractAOCIKeepsTags: item 1, through the binary: a second build
// into the same layout with another tag keeps the first.
func TestContractAOCIKeepsTags(t *testing.T) {
	dir := t.TempDir()
	caWriteFiles(t, dir, caFiles)
	cache := t.TempDir()
	for _, tag := range []string{"one", "two"} {
		caOK(t, runIn(t, dir, "build", "spec", "--cache", cache, "--oci", "lay", "--tag", tag))
	}
	for _, tag := range []string{"one", "two"} {
		caOK(t, runIn(t, dir, "inspect", "oci:lay:"+tag))
	}
}

func caOK(t *testing.T, r Result) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
}

type caBuildJSON struct {
	Digest  string `json:"digest"`
	ImageID string `json:"imageID"`
	Layers  []struct {
		Digest string `json:"digest"`
		Base   bool   `json:"base"`
	} `json:"layers"`
	Outputs []struct {
		Sink, Digest, ImageID string
	} `json:"outputs"`
}

// TestContractADigests: item 4 (option B): each output states the digest
// it holds, and inspect of each output agrees; --json lists a base
// image's layers too.
func TestContractADigests(t *testing.T) {
	dir := t.TempDir()
	caWriteFiles(t, dir, caFiles)
	cache := t.TempDir()
	r := runIn(t, dir, "build", "spec", "--cache", cache, "-o", "app.tar", "--oci", "lay", "--json")
	caOK(t, r)
	var b caBuildJSON
	if err := json.Unmarshal([]byte(r.Stdout), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Outputs) != 2 {
		t.Fatalf("outputs %+v, want the archive and the layout", b.Outputs)
	}
	for _, o := range b.Outputs {
		if o.ImageID != b.ImageID {
			t.Errorf("%s has image ID %s, the build %s", o.Sink, o.ImageID, b.ImageID)
		}
		switch {
		case strings.HasPrefix(o.Sink, "docker-archive:") && o.Digest != "":
			t.Errorf("the docker-archive claims manifest digest %s, but it stores no manifest", o.Digest)
		case strings.HasPrefix(o.Sink, "oci:") && o.Digest != b.Digest:
			t.Errorf("the layout's digest %s, the build's %s", o.Digest, b.Digest)
		}
	}
	var tarSum, laySum struct{ Digest, ImageID string }
	json.Unmarshal([]byte(runIn(t, dir, "inspect", "app.tar", "--json").Stdout), &tarSum)
	json.Unmarshal([]byte(runIn(t, dir, "inspect", "oci:lay", "--json").Stdout), &laySum)
	if tarSum.ImageID != b.ImageID || laySum.ImageID != b.ImageID {
		t.Errorf("inspect image IDs %s (archive), %s (layout), build %s", tarSum.ImageID, laySum.ImageID, b.ImageID)
	}
	if laySum.Digest != b.Digest {
		t.Errorf("inspect oci:lay digest %s, build %s", laySum.Digest, b.Digest)
	}
	// Text output: one line per output, saying which digest it is.
	text := runIn(t, dir, "build", "spec", "--cache", cache, "-o", "app.tar", "--oci", "lay").Stderr
	for _, w := range []string{"docker-archive:app.tar image ID " + b.ImageID, "oci:lay digest " + b.Digest + " image ID " + b.ImageID} {
		if !strings.Contains(text, w) {
			t.Errorf("build output %q lacks %q", text, w)
		}
	}
	// On a base: every layer is listed, the base's marked.
	caWriteFiles(t, dir, map[string]string{"top/strata.yaml": "name: top\nbase: oci:../lay\nfiles:\n  - src: c.txt\n    dst: /c.txt\n", "top/c.txt": "c\n"})
	r = runIn(t, dir, "build", "top", "--cache", cache, "-o", "top.tar", "--json")
	caOK(t, r)
	var top caBuildJSON
	if err := json.Unmarshal([]byte(r.Stdout), &top); err != nil {
		t.Fatal(err)
	}
	base := 0
	for _, l := range top.Layers {
		if l.Base {
			base++
		}
	}
	if len(top.Layers) != len(b.Layers)+1 || base != len(b.Layers) {
		t.Errorf("--json lists %d layers (%d base), want %d (%d base)", len(top.Layers), base, len(b.Layers)+1, len(b.Layers))
	}
}

// TestContractADockerLayerLabels: item 2: inspect docker:NAME labels each
// layer as the archive does.
func TestContractADockerLayerLabels(t *testing.T) {
	testutil.RequireDocker(t)
	dir := t.TempDir()
	caWriteFiles(t, dir, map[string]string{"spec/strata.yaml": "name: app\nfiles:\n  - src: a.txt\n    dst: /a.txt\n  - src: b.txt\n    dst: /b.txt\n  - src: c.txt\n    dst: /c.txt\n", "spec/a.txt": "a\n", "spec/b.txt": "bb\n", "spec/c.txt": "ccc\n"})
	tag := UniqueTag(t, "labels")
	caOK(t, runIn(t, dir, "build", "spec", "--cache", t.TempDir(), "-o", "app.tar", "--load", "--tag", tag))
	holds := func(ref string) []string {
		r := runIn(t, dir, "inspect", ref, "--view", "layers", "--json")
		caOK(t, r)
		var ls []struct{ Holds, DiffID string }
		if err := json.Unmarshal([]byte(r.Stdout), &ls); err != nil {
			t.Fatalf("%v\n%s", err, r.Stdout)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.DiffID+" "+l.Holds)
		}
		return out
	}
	want, got := holds("app.tar"), holds("docker:"+tag)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docker: layers\n%s\nwant, as in the archive,\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
