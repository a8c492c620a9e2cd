package nix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/nix/nixtest"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func resolve(t *testing.T, src *Source, locked json.RawMessage) *closure.Result {
	t.Helper()
	res, err := src.Resolve(context.Background(), closure.Request{Platform: closure.Platform{OS: "linux", Arch: "amd64"}, Locked: locked})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return res
}

// storeHash asks Nix for a path's recorded narHash.
func storeHash(t *testing.T, p string) string {
	return nixtest.Run(t, "", "nix-store", "--query", "--hash", p)
}

// graphSummary renders the parts of a graph a closure file must reproduce.
func graphSummary(g *closure.Graph) string {
	var b strings.Builder
	for _, id := range g.IDs() {
		n := g.Nodes[id]
		fmt.Fprintf(&b, "%s kind=%s name=%s version=%s size=%d deps=%v narHash=%s key=%s\n",
			id, n.Kind, n.Name, n.Version, n.Size, n.Deps, n.Meta["narHash"], n.Contents.Key())
	}
	roots := append([]string(nil), g.Roots...)
	sort.Strings(roots)
	fmt.Fprintf(&b, "roots=%v\n", roots)
	return b.String()
}

func TestResolveDemoClosure(t *testing.T) {
	app, paths := nixtest.BuildDemoClosure(t)
	busybox, script := paths[0], paths[1]
	for _, via := range []struct {
		name        string
		viaNixStore bool
	}{{"nix path-info", false}, {"nix-store", true}} {
		t.Run(via.name, func(t *testing.T) {
			src := FromPaths([]string{app}, openStore(t))
			src.viaNixStore = via.viaNixStore
			res := resolve(t, src, nil)
			g := res.Graph
			var ids []string
			for _, p := range paths {
				ids = append(ids, "nix:"+p)
			}
			sort.Strings(ids)
			if got := g.IDs(); strings.Join(got, " ") != strings.Join(ids, " ") {
				t.Fatalf("closure nodes = %v, want exactly %v", got, ids)
			}
			if len(g.Roots) != 1 || g.Roots[0] != "nix:"+app {
				t.Errorf("roots = %v, want [nix:%s]", g.Roots, app)
			}
			wantDeps := map[string][]string{app: {"nix:" + script}, script: {"nix:" + busybox}, busybox: nil}
			wantName := map[string][2]string{app: {"demo-app", "2.3"}, script: {"hello-script", "1.0"}, busybox: {"busybox-static", ""}}
			for _, p := range paths {
				n := g.Nodes["nix:"+p]
				if n.Kind != closure.KindNix {
					t.Errorf("%s kind %s", p, n.Kind)
				}
				if fmt.Sprint(n.Deps) != fmt.Sprint(wantDeps[p]) {
					t.Errorf("%s deps = %v, want %v", p, n.Deps, wantDeps[p])
				}
				if n.Name != wantName[p][0] || n.Version != wantName[p][1] {
					t.Errorf("%s name/version = %q/%q, want %q", p, n.Name, n.Version, wantName[p])
				}
				if want := storeHash(t, p); n.Meta["narHash"] != want {
					t.Errorf("%s narHash meta %s, store says %s", p, n.Meta["narHash"], want)
				}
				if n.Meta["storePath"] != p {
					t.Errorf("%s storePath meta %q", p, n.Meta["storePath"])
				}
				wantSize := nixtest.Run(t, "", "nix-store", "--query", "--size", p)
				if fmt.Sprint(n.Size) != wantSize {
					t.Errorf("%s size %d, store narSize %s", p, n.Size, wantSize)
				}
				if want := "nix:" + n.Meta["narHash"] + p; n.Contents.Key() != want {
					t.Errorf("%s contents key %q, want %q", p, n.Contents.Key(), want)
				}
			}
			if d := g.Nodes["nix:"+app].Meta["deriver"]; !strings.HasSuffix(d, "-demo-app-2.3.drv") {
				t.Errorf("app deriver meta %q, want the .drv", d)
			}
			if _, ok := g.Nodes["nix:"+busybox].Meta["deriver"]; ok {
				t.Errorf("busybox (added, not built) has a deriver meta")
			}

			var lock Lock
			if err := json.Unmarshal(res.Lock, &lock); err != nil {
				t.Fatal(err)
			}
			if len(lock.Paths) != 3 || !sort.SliceIsSorted(lock.Paths, func(i, j int) bool { return lock.Paths[i].Path < lock.Paths[j].Path }) {
				t.Errorf("lock paths not 3 sorted entries: %+v", lock.Paths)
			}
			for _, lp := range lock.Paths {
				if want := storeHash(t, lp.Path); lp.NarHash != want {
					t.Errorf("lock narHash of %s = %s, store %s", lp.Path, lp.NarHash, want)
				}
			}
		})
	}
}

func TestDemoEntries(t *testing.T) {
	app, paths := nixtest.BuildDemoClosure(t)
	script := paths[1]
	res := resolve(t, FromPaths([]string{app}, openStore(t)), nil)
	type want struct {
		typ  closure.EntryType
		mode os.FileMode
		link string
	}
	appRel, scriptRel := strings.TrimPrefix(app, "/"), strings.TrimPrefix(script, "/")
	cases := map[string]map[string]want{
		app: {
			"nix":                        {closure.Dir, 0o755, ""},
			"nix/store":                  {closure.Dir, 0o755, ""},
			appRel:                       {closure.Dir, 0o555, ""},
			appRel + "/bin":              {closure.Dir, 0o555, ""},
			appRel + "/bin/app":          {closure.Symlink, 0o777, script + "/bin/hello"},
			appRel + "/share":            {closure.Dir, 0o555, ""},
			appRel + "/share/doc":        {closure.Dir, 0o555, ""},
			appRel + "/share/doc/README": {closure.Regular, 0o444, ""},
		},
		script: {
			"nix":                    {closure.Dir, 0o755, ""},
			"nix/store":              {closure.Dir, 0o755, ""},
			scriptRel:                {closure.Dir, 0o555, ""},
			scriptRel + "/bin":       {closure.Dir, 0o555, ""},
			scriptRel + "/bin/hello": {closure.Regular, 0o555, ""},
		},
	}
	for p, wants := range cases {
		entries, err := res.Graph.Nodes["nix:"+p].Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(wants) {
			t.Errorf("%s has %d entries, want %d: %+v", p, len(entries), len(wants), entries)
		}
		for _, e := range entries {
			w, ok := wants[e.Path]
			if !ok {
				t.Errorf("%s: unexpected entry %s", p, e.Path)
				continue
			}
			if e.Type != w.typ || e.Mode != w.mode || e.Link != w.link || e.UID != 0 || e.GID != 0 {
				t.Errorf("%s: entry %s = %s %o %q uid %d gid %d; want %s %o %q, root", p, e.Path, e.Type, e.Mode, e.Link, e.UID, e.GID, w.typ, w.mode, w.link)
			}
			if e.Type == closure.Regular {
				rc, err := e.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if int64(len(b)) != e.Size {
					t.Errorf("%s: read %d bytes, Size %d", e.Path, len(b), e.Size)
				}
				if e.Path == appRel+"/share/doc/README" && string(b) != "demo app\n" {
					t.Errorf("README content %q", b)
				}
			}
		}
	}
}

func TestNARHashMatchesStore(t *testing.T) {
	_, paths := nixtest.BuildDemoClosure(t)
	for _, p := range paths {
		h, n, err := NARHash(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := storeHash(t, p); h.String() != want {
			t.Errorf("NARHash(%s) = %s, nix-store --query --hash says %s", p, h, want)
		}
		var ours bytes.Buffer
		if _, err := WriteNAR(&ours, p); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("nix-store", "--dump", p)
		cmd.Env = nixtest.Env()
		theirs, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.Bytes(), theirs) || int64(len(theirs)) != n {
			t.Errorf("WriteNAR(%s) differs from nix-store --dump (%d vs %d bytes)", p, ours.Len(), len(theirs))
		}
	}
}

// addThrowaway adds a fresh folder to the store and removes it again when
// the test ends.
func addThrowaway(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "throwaway")
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sp := nixtest.Run(t, "", "nix-store", "--add", dir)
	t.Cleanup(func() {
		cmd := exec.Command("nix-store", "--delete", sp)
		cmd.Env = nixtest.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("removing %s from the store: %v: %s", sp, err, out)
		}
	})
	return sp
}

func TestModifiedStorePathIsDetected(t *testing.T) {
	nixtest.RequireNix(t)
	// Unique content so the path is this test's alone.
	sp := addThrowaway(t, map[string]string{"data/file": fmt.Sprintf("%s %d\n", t.Name(), os.Getpid())})
	res := resolve(t, FromPaths([]string{sp}, openStore(t)), nil)
	n := res.Graph.Nodes["nix:"+sp]
	if _, err := n.Contents.Entries(context.Background()); err != nil {
		t.Fatalf("intact path rejected: %v", err)
	}
	f := filepath.Join(sp, "data", "file")
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o444); err != nil {
		t.Fatal(err)
	}
	_, err := n.Contents.Entries(context.Background())
	if err == nil {
		t.Fatal("a store path changed behind Nix's back was accepted")
	}
	for _, want := range []string{sp, "nix-store --verify --check-contents --repair"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// exportReferencesGraph writes the closure of root in exportReferencesGraph
// form (path, deriver, reference count, references) from nix-store queries.
func exportReferencesGraph(t *testing.T, root string) string {
	var b strings.Builder
	for _, p := range strings.Fields(nixtest.Run(t, "", "nix-store", "--query", "--requisites", root)) {
		deriver := nixtest.Run(t, "", "nix-store", "--query", "--deriver", p)
		if deriver == "unknown-deriver" {
			deriver = ""
		}
		refs := strings.Fields(nixtest.Run(t, "", "nix-store", "--query", "--references", p))
		fmt.Fprintf(&b, "%s\n%s\n%d\n", p, deriver, len(refs))
		for _, r := range refs {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

// closureInfo writes a closureInfo-style folder: registration in the
// --hash-given form with "sha256:" Nix base32 hashes, and store-paths.
func closureInfo(t *testing.T, root string) string {
	var infos []pathInfoJSON
	if err := json.Unmarshal([]byte(nixtest.Run(t, "", "nix", "path-info", "--json", "--recursive", root)), &infos); err != nil {
		t.Fatal(err)
	}
	var reg, paths strings.Builder
	for _, in := range infos {
		h, err := ParseHash(in.NarHash)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&reg, "%s\n%s\n%d\n\n%d\n", in.Path, h, in.NarSize, len(in.References))
		for _, r := range in.References {
			reg.WriteString(r + "\n")
		}
		paths.WriteString(in.Path + "\n")
	}
	dir := filepath.Join(t.TempDir(), "closure-info")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "registration"), []byte(reg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store-paths"), []byte(paths.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestClosureFileGivesStoreGraph(t *testing.T) {
	app, _ := nixtest.BuildDemoClosure(t)
	want := graphSummary(resolve(t, FromPaths([]string{app}, openStore(t)), nil).Graph)

	t.Run("exportReferencesGraph", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "graph")
		if err := os.WriteFile(f, []byte(exportReferencesGraph(t, app)), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &spec.Spec{Dir: filepath.Dir(f), Nix: &spec.Nix{ClosureFile: "graph"}}
		res := resolve(t, New(s, openStore(t)), nil)
		if got := graphSummary(res.Graph); got != want {
			t.Errorf("graph from the exportReferencesGraph file:\n%s\nwant (from the store):\n%s", got, want)
		}
		// Derivers come from the file.
		if d := res.Graph.Nodes["nix:"+app].Meta["deriver"]; !strings.HasSuffix(d, ".drv") {
			t.Errorf("deriver meta %q", d)
		}
	})
	t.Run("closureInfo", func(t *testing.T) {
		dir := closureInfo(t, app)
		res := resolve(t, FromPaths(nil, openStore(t), WithClosureFile(dir)), nil)
		if got := graphSummary(res.Graph); got != want {
			t.Errorf("graph from closureInfo:\n%s\nwant (from the store):\n%s", got, want)
		}
	})
	t.Run("registration with an explicit root cuts the closure", func(t *testing.T) {
		dir := closureInfo(t, app)
		_, paths := nixtest.BuildDemoClosure(t)
		res := resolve(t, FromPaths([]string{paths[1]}, openStore(t), WithClosureFile(filepath.Join(dir, "registration"))), nil)
		want := []string{"nix:" + paths[0], "nix:" + paths[1]}
		sort.Strings(want)
		if got := res.Graph.IDs(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("closure of the script from the file = %v, want the script and busybox", got)
		}
	})
}

func TestParseRegistrationRejects(t *testing.T) {
	p := "/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo-app-2.3"
	for name, in := range map[string]string{
		"truncated":     p + "\n\n2\n" + p + "\n",
		"bad count":     p + "\n\nmany\n",
		"bad path":      "/usr/bin/env\n\n0\n",
		"bad reference": p + "\n\n1\n/tmp/x\n",
		"duplicate":     p + "\n\n0\n" + p + "\n\n0\n",
		"bad nar size":  p + "\nsha256:0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29\n-1\n\n0\n",
		"bad hash":      p + "\nsha256:nothash\n10\n\n0\n",
	} {
		if _, err := ParseRegistration(strings.NewReader(in)); err == nil {
			t.Errorf("%s: ParseRegistration accepted %q", name, in)
		}
	}
}

func TestRegistrationRoundTrip(t *testing.T) {
	h, _ := ParseHash("sha256:0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29")
	in := []PathInfo{
		{Path: "/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-busybox-static", NarHash: h, HasHash: true, NarSize: 10},
		{Path: "/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo-app-2.3", NarHash: h, HasHash: true, NarSize: 20,
			Deriver:    "/nix/store/i9231k63aqb00kcyzsyhbk47zhwb1l16-demo-app-2.3.drv",
			References: []string{"/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-busybox-static", "/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo-app-2.3"}},
	}
	b, err := FormatRegistration(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseRegistration(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Errorf("round trip:\n%v\nwant\n%v", out, in)
	}
}

func TestSymlinkAndFileStorePaths(t *testing.T) {
	_, paths := nixtest.BuildDemoClosure(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "demo-link")
	if err := os.Symlink(paths[0]+"/bin/busybox", link); err != nil {
		t.Fatal(err)
	}
	linkPath := nixtest.Run(t, "", "nix-store", "--add", link)
	filePath := nixtest.Run(t, "", "nix-store", "--add", "/bin/busybox")
	if fi, err := os.Lstat(linkPath); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is not a symlink store path: %v", linkPath, err)
	}
	res := resolve(t, FromPaths([]string{linkPath, filePath}, openStore(t)), nil)
	if len(res.Graph.Nodes) != 2 || len(res.Graph.Roots) != 2 {
		t.Fatalf("graph %v roots %v, want the two paths", res.Graph.IDs(), res.Graph.Roots)
	}
	for _, c := range []struct {
		p    string
		typ  closure.EntryType
		mode os.FileMode
		link string
	}{
		{linkPath, closure.Symlink, 0o777, paths[0] + "/bin/busybox"},
		{filePath, closure.Regular, 0o555, ""},
	} {
		entries, err := res.Graph.Nodes["nix:"+c.p].Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 3 {
			t.Fatalf("%s: %d entries, want nix, nix/store and the path: %+v", c.p, len(entries), entries)
		}
		e := entries[2]
		if e.Path != strings.TrimPrefix(c.p, "/") || e.Type != c.typ || e.Mode != c.mode || e.Link != c.link {
			t.Errorf("%s: entry %+v, want %s %o %q", c.p, e, c.typ, c.mode, c.link)
		}
	}
}

func TestResultSymlinkRoot(t *testing.T) {
	app, _ := nixtest.BuildDemoClosure(t)
	dir := t.TempDir()
	if err := os.Symlink(app, filepath.Join(dir, "result")); err != nil {
		t.Fatal(err)
	}
	s := &spec.Spec{Dir: dir, Nix: &spec.Nix{Paths: []string{"./result", app + "/bin"}}}
	res := resolve(t, New(s, openStore(t)), nil)
	if len(res.Graph.Roots) != 1 || res.Graph.Roots[0] != "nix:"+app {
		t.Errorf("roots %v, want [nix:%s]", res.Graph.Roots, app)
	}
	s.Nix.Paths = []string{"/usr/bin"}
	if _, err := New(s, openStore(t)).Resolve(context.Background(), closure.Request{}); err == nil || !strings.Contains(err.Error(), "not in the Nix store") {
		t.Errorf("a path outside the store: error %v", err)
	}
}

func TestLockChecks(t *testing.T) {
	app, paths := nixtest.BuildDemoClosure(t)
	st := openStore(t)
	res := resolve(t, FromPaths([]string{app}, st), nil)
	resolve(t, FromPaths([]string{app}, st), res.Lock) // same closure: accepted

	var lock Lock
	if err := json.Unmarshal(res.Lock, &lock); err != nil {
		t.Fatal(err)
	}
	for i := range lock.Paths {
		if lock.Paths[i].Path == paths[1] {
			lock.Paths[i].NarHash = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
		}
	}
	tampered, _ := json.Marshal(lock)
	_, err := FromPaths([]string{app}, st).Resolve(context.Background(), closure.Request{Locked: tampered})
	if err == nil || !strings.Contains(err.Error(), paths[1]) || !strings.Contains(err.Error(), "strata lock --update") {
		t.Errorf("narHash differing from the lock: error %v, want one naming %s and the fix", err, paths[1])
	}
	if _, err := FromPaths([]string{app}, st).Resolve(context.Background(), closure.Request{Locked: tampered, Update: true}); err != nil {
		t.Errorf("lock --update still checked the lock: %v", err)
	}
	if _, err := FromPaths([]string{paths[1]}, st).Resolve(context.Background(), closure.Request{Locked: res.Lock}); err == nil {
		t.Errorf("different roots than the lock were accepted")
	}
}

func TestRegisterClosure(t *testing.T) {
	app, paths := nixtest.BuildDemoClosure(t)
	var dbs [][]byte
	for i := 0; i < 2; i++ {
		s := &spec.Spec{Nix: &spec.Nix{Paths: []string{app}, RegisterClosure: true}}
		res := resolve(t, New(s, openStore(t)), nil)
		n := res.Graph.Nodes[NixDBNodeID]
		if n == nil || n.Kind != closure.KindGenerated {
			t.Fatalf("no %s node of kind generated: %v", NixDBNodeID, res.Graph.IDs())
		}
		entries, err := n.Contents.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Lay the entries out under a fake root and ask Nix about it.
		root := t.TempDir()
		var db []byte
		for _, e := range entries {
			p := filepath.Join(root, filepath.FromSlash(e.Path))
			switch e.Type {
			case closure.Dir:
				err = os.MkdirAll(p, 0o755)
			case closure.Symlink:
				err = os.Symlink(e.Link, p)
			case closure.Regular:
				var rc io.ReadCloser
				if rc, err = e.Open(); err == nil {
					b, _ := io.ReadAll(rc)
					rc.Close()
					err = os.WriteFile(p, b, 0o644)
					if path.Base(e.Path) == "db.sqlite" {
						db = b
					}
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if db == nil {
			t.Fatalf("no db.sqlite entry in %+v", entries)
		}
		dbs = append(dbs, db)
		cmd := exec.Command("nix-store", "--query", "--requisites", app)
		cmd.Env = append(nixtest.Env(), "NIX_REMOTE=local?root="+root)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("nix-store -qR against the generated database: %v", err)
		}
		got := strings.Fields(string(out))
		sort.Strings(got)
		want := append([]string(nil), paths...)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("nix-store -qR in the image = %v, want %v", got, want)
		}
		cmd = exec.Command("nix-store", "--query", "--hash", paths[1])
		cmd.Env = append(nixtest.Env(), "NIX_REMOTE=local?root="+root)
		out, err = cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != storeHash(t, paths[1]) {
			t.Errorf("registered narHash of %s = %q (%v), want the store's", paths[1], out, err)
		}
	}
	if !bytes.Equal(dbs[0], dbs[1]) {
		t.Errorf("db.sqlite differs between two generations (sha256 %x vs %x): not reproducible", sha256.Sum256(dbs[0]), sha256.Sum256(dbs[1]))
	}
}

func TestMissingNixSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := FromPaths([]string{"/nix/store/00000000000000000000000000000000-any-1.0"}, nil).Resolve(context.Background(), closure.Request{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install nix-bin") {
		t.Errorf("error %v, want one saying how to install Nix", err)
	}
	s := &spec.Spec{Nix: &spec.Nix{Installables: []string{".#app"}}}
	_, err = New(s, nil).Resolve(context.Background(), closure.Request{SpecDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "apt-get install nix-bin") {
		t.Errorf("installables without nix: error %v, want one saying how to install Nix", err)
	}
}

func TestNoNixSectionIsEmpty(t *testing.T) {
	res, err := New(&spec.Spec{}, nil).Resolve(context.Background(), closure.Request{})
	if err != nil || len(res.Graph.Nodes) != 0 || res.Lock != nil {
		t.Errorf("spec without nix: %v %v", res, err)
	}
}

func TestInstallables(t *testing.T) {
	app, _ := nixtest.BuildDemoClosure(t)
	drv := nixtest.Run(t, "", "nix-store", "--query", "--deriver", app)
	// A .drv installable goes through nix build; a store path one too.
	s := &spec.Spec{Dir: t.TempDir(), Nix: &spec.Nix{Installables: []string{drv, app}}}
	res := resolve(t, New(s, openStore(t)), nil)
	if len(res.Graph.Roots) != 1 || res.Graph.Roots[0] != "nix:"+app || len(res.Graph.Nodes) != 3 {
		t.Errorf("installables %s, %s: roots %v nodes %v, want root %s of 3 nodes", drv, app, res.Graph.Roots, res.Graph.IDs(), app)
	}
	s.Nix.Installables = []string{"/nix/store/00000000000000000000000000000000-missing.drv"}
	if _, err := New(s, openStore(t)).Resolve(context.Background(), closure.Request{}); err == nil || !strings.Contains(err.Error(), "building nix installables") {
		t.Errorf("a missing installable: error %v", err)
	}
}

func TestParseBuildJSON(t *testing.T) {
	out := `[{"drvPath":"/nix/store/i9231k63aqb00kcyzsyhbk47zhwb1l16-x.drv","outputs":{"out":"/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-x","dev":"/nix/store/7b638r5s1xa1946m2kkvs6w0ixw1q0pg-x-dev"}},{"path":"/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-y"}]`
	got, err := parseBuildJSON([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := "/nix/store/7b638r5s1xa1946m2kkvs6w0ixw1q0pg-x-dev /nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-x /nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-y"
	if strings.Join(got, " ") != want {
		t.Errorf("parseBuildJSON = %v, want %s", got, want)
	}
	if _, err := parseBuildJSON([]byte(`[]`)); err == nil {
		t.Errorf("no outputs accepted")
	}
}

func TestMissingStorePath(t *testing.T) {
	missing := "/nix/store/00000000000000000000000000000000-missing-1.0"
	_, err := FromPaths([]string{missing}, nil).Resolve(context.Background(), closure.Request{})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "build or fetch it first") {
		t.Errorf("a missing store path: error %v", err)
	}
}

// flakeExpr is a flake without inputs whose app is built by the busybox
// copied into the flake's own source.
const flakeExpr = `{
  outputs = { self }: {
    packages.SYSTEM.app = derivation {
      name = "flake-app-0.1";
      system = "SYSTEM";
      builder = "${self}/bb/busybox";
      args = [ "sh" "-c" "${self}/bb/busybox mkdir -p $out/bin && echo ${self} > $out/source && ${self}/bb/busybox cp ${self}/bb/busybox $out/bin/" ];
    };
  };
}
`

func TestFlakeInstallable(t *testing.T) {
	nixtest.RequireNix(t)
	system := map[string]string{"amd64": "x86_64-linux", "arm64": "aarch64-linux"}[runtime.GOARCH]
	if system == "" {
		t.Skipf("no Nix system name known for %s", runtime.GOARCH)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bb"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bb", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(strings.ReplaceAll(flakeExpr, "SYSTEM", system)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &spec.Spec{Dir: dir, Nix: &spec.Nix{Installables: []string{".#app"}}}
	res := resolve(t, New(s, openStore(t)), nil)
	if len(res.Graph.Roots) != 1 {
		t.Fatalf("roots %v, want the flake's app", res.Graph.Roots)
	}
	root := res.Graph.Nodes[res.Graph.Roots[0]]
	if root.Name != "flake-app" || root.Version != "0.1" {
		t.Errorf("root %s is %s %s, want flake-app 0.1", root.ID, root.Name, root.Version)
	}
	// The app refers to the flake's source, which holds flake.nix.
	if len(root.Deps) != 1 || len(res.Graph.Nodes) != 2 {
		t.Errorf("flake app deps %v, graph %v: want the app and the flake source", root.Deps, res.Graph.IDs())
	}
	out, err := exec.Command(root.Meta["storePath"]+"/bin/busybox", "echo", "ok").Output()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("the built app does not run: %q %v", out, err)
	}
}
