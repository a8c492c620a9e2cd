package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/closure/deb"
)

// The crash test SIGKILLs cold builds of examples/hello (each in its own
// empty cache, writing -o FILE and --oci DIR at once) and checks what a
// kill leaves: `strata cache verify` finds the cache sound right after the
// kill, a rerun gives the reference digest, and after the rerun no temp
// file is left in the cache's tmp folder, beside the -o output or in and
// beside the --oci layout.
//
// The spec is locked once (`strata lock`, as a project in CI is), and
// every build reads the Debian archive through a caching proxy on
// 127.0.0.1 in front of the host's mirrors: the lock and the first build
// download, every later build is a cold one (empty cache: fetch and verify
// the .debs, unpack, make the layers, write both outputs) whose downloads
// come from memory. So a build takes a second or two, its kill moments
// cover the fetching too, and the test's time stays bounded without a
// shared cache, which would make the builds warm.
const (
	// crashKills builds are killed at moments spread over a reference
	// build's duration: one uniform moment in each of crashKills equal
	// slices of it (seeded, so a failure replays).
	crashKills = 30
	crashSeed  = 15
	// writeKills more builds each are killed while the -o temp file or
	// the --oci temp layout exists.
	writeKills = 3
)

// tempName matches the temp names strata's writers use (atomicfile's
// .tmp-PID-RANDOM and the store's tmp folder entries).
var tempName = regexp.MustCompile(`tmp-`)

func TestCrashKillsLeaveNoDamage(t *testing.T) {
	started := time.Now()
	bin := Strata(t)
	proxy := newMirrorProxy(t)
	spec := t.TempDir()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "examples", "hello", "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec, "strata.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	lock := exec.Command(bin, "lock", spec, "-q", "--cache", filepath.Join(base, "cache-lock"))
	lock.Env = append(os.Environ(), proxy.env...)
	if r := RunCmd(t, lock); r.Code != 0 {
		t.Fatalf("strata lock: exit %d\n%s", r.Code, r.Stderr)
	}
	run := func(name string) (cache, out string, args []string) {
		cache, out = filepath.Join(base, "cache-"+name), filepath.Join(base, "out-"+name)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		return cache, out, []string{"build", spec, "-q", "--json", "--cache", cache, "-o", filepath.Join(out, "image.tar"), "--oci", filepath.Join(out, "oci")}
	}
	build := func(args []string) buildOut {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), proxy.env...)
		r := RunCmd(t, cmd)
		if r.Code != 0 {
			t.Fatalf("strata %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		var o buildOut
		if err := json.Unmarshal([]byte(r.Stdout), &o); err != nil {
			t.Fatalf("--json output: %v\n%s", err, r.Stdout)
		}
		return o
	}

	// The first build fills the proxy; the second is the reference cold
	// build whose duration the kill moments are spread over.
	_, _, args := run("warm")
	warm := build(args)
	_, _, args = run("ref")
	t0 := time.Now()
	ref := build(args)
	dur := time.Since(t0)
	if ref.Digest != warm.Digest || ref.Digest == "" {
		t.Fatalf("two cold builds: digests %q and %q", warm.Digest, ref.Digest)
	}
	t.Logf("reference cold build: %v, digest %s (proxy: %d upstream fetches)", dur.Round(time.Millisecond), ref.Digest, proxy.fetches())

	rng := rand.New(rand.NewPCG(crashSeed, crashSeed))
	type plan struct {
		name  string
		at    time.Duration // kill at this moment after the start, or
		watch string        // kill once a temp name with this prefix shows in out
	}
	var plans []plan
	for i := 0; i < crashKills; i++ {
		at := time.Duration((float64(i) + rng.Float64()) / crashKills * float64(dur))
		plans = append(plans, plan{name: fmt.Sprintf("t%02d", i), at: at})
	}
	for i := 0; i < writeKills; i++ {
		plans = append(plans, plan{name: fmt.Sprintf("o%d", i), watch: ".image.tar."}, plan{name: fmt.Sprintf("oci%d", i), watch: ".oci."})
	}

	killed, finished, leftovers := 0, 0, 0
	writeHits := map[string]int{}
	for _, p := range plans {
		cache, out, args := run(p.name)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), proxy.env...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done, seen := make(chan struct{}), make(chan bool, 1)
		delay := time.Duration(rng.Int64N(int64(5 * time.Millisecond)))
		go func() {
			if p.watch == "" {
				select {
				case <-time.After(p.at):
					cmd.Process.Signal(syscall.SIGKILL)
				case <-done:
				}
				seen <- false
				return
			}
			for {
				select {
				case <-done:
					seen <- false
					return
				default:
				}
				if hasTemp(out, p.watch) {
					time.Sleep(delay)
					cmd.Process.Signal(syscall.SIGKILL)
					seen <- true
					return
				}
				time.Sleep(500 * time.Microsecond)
			}
		}()
		err := cmd.Wait()
		close(done)
		sawTemp := <-seen
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		wasKilled := err != nil && ws.Signaled() && ws.Signal() == syscall.SIGKILL
		switch {
		case wasKilled:
			killed++
			if sawTemp {
				writeHits[p.watch]++
			}
		case err == nil:
			finished++
		default:
			t.Fatalf("%s: the build failed on its own: %v", p.name, err)
		}
		left := temps(t, filepath.Join(cache, "tmp")) + temps(t, out)
		if left > 0 {
			leftovers++
		}
		what := "killed"
		if !wasKilled {
			what = "finished first"
		}
		if p.watch != "" {
			t.Logf("%s: kill on a %s temp (seen: %v): %s, %d temp entries left", p.name, p.watch, sawTemp, what, left)
		} else {
			t.Logf("%s: kill at %v: %s, %d temp entries left", p.name, p.at.Round(time.Millisecond), what, left)
		}

		// Right after the kill: nothing corrupt under a final name.
		cmd = exec.Command(bin, "cache", "verify", "--cache", cache)
		cmd.Env = append(os.Environ(), proxy.env...)
		if r := RunCmd(t, cmd); r.Code != 0 || !strings.Contains(r.Stdout, "all sound") {
			t.Fatalf("%s (killed at %v, watch %q): cache verify: exit %d\n%s%s", p.name, p.at, p.watch, r.Code, r.Stdout, r.Stderr)
		}
		// The rerun recovers: the reference digest, sound outputs, no temps.
		got := build(args)
		if got.Digest != ref.Digest {
			t.Fatalf("%s (killed at %v): rerun digest %s, reference %s", p.name, p.at, got.Digest, ref.Digest)
		}
		checkOutputs(t, p.name, out, ref)
		if n := temps(t, filepath.Join(cache, "tmp")); n > 0 {
			t.Errorf("%s (killed at %v, watch %q): %d temp entries left in the cache's tmp folder after the rerun", p.name, p.at, p.watch, n)
		}
		os.RemoveAll(cache)
		os.RemoveAll(out)
	}
	t.Logf("%d builds: %d killed and recovered (%d during the -o write, %d during the --oci write), %d finished before their kill moment; %d kills left temp files (all gone after the rerun); total %v",
		len(plans), killed, writeHits[".image.tar."], writeHits[".oci."], finished, leftovers, time.Since(started).Round(time.Second))
	if killed < crashKills*2/3 {
		t.Errorf("only %d of %d builds were killed before they finished", killed, len(plans))
	}
	if writeHits[".image.tar."] == 0 || writeHits[".oci."] == 0 {
		t.Errorf("no kill landed during a write: -o %d, --oci %d of %d each", writeHits[".image.tar."], writeHits[".oci."], writeKills)
	}
}

type buildOut struct {
	Digest  string `json:"digest"`
	ImageID string `json:"imageID"`
}

// hasTemp reports whether dir holds an entry named prefix...tmp-....
func hasTemp(dir, prefix string) bool {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && tempName.MatchString(e.Name()) {
			return true
		}
	}
	return false
}

// temps counts the entries of dir (recursively for the output folder)
// that are temp files; under a cache's tmp folder every entry is one.
func temps(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	all := filepath.Base(dir) == "tmp"
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		if all || tempName.MatchString(d.Name()) {
			n++
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	return n
}

// checkOutputs fails unless out holds exactly image.tar and oci, the
// layout holds only its own files and names the reference digest, and
// image.tar is the reference image.
func checkOutputs(t *testing.T, name, out string, ref buildOut) {
	t.Helper()
	list := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var s []string
		for _, e := range ents {
			s = append(s, e.Name())
		}
		return s
	}
	if got := strings.Join(list(out), " "); got != "image.tar oci" {
		t.Errorf("%s: beside the outputs after the rerun: %s", name, got)
	}
	oci := filepath.Join(out, "oci")
	if got := strings.Join(list(oci), " "); got != "blobs index.json oci-layout" {
		t.Errorf("%s: in the OCI layout after the rerun: %s", name, got)
	}
	blob := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, b := range list(filepath.Join(oci, "blobs", "sha256")) {
		if !blob.MatchString(b) {
			t.Errorf("%s: the OCI layout's blobs hold %s", name, b)
		}
	}
	idx, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil || !strings.Contains(string(idx), ref.Digest) {
		t.Errorf("%s: index.json does not name %s: %v\n%s", name, ref.Digest, err, idx)
	}
	img, err := tarball.ImageFromPath(filepath.Join(out, "image.tar"), nil)
	if err != nil {
		t.Fatalf("%s: reading image.tar: %v", name, err)
	}
	if cn, err := img.ConfigName(); err != nil || cn.String() != ref.ImageID {
		t.Errorf("%s: image.tar holds config %v (%v), the reference image is %s", name, cn, err, ref.ImageID)
	}
}

// mirrorProxy serves the host's Debian mirrors (main and security) from
// 127.0.0.1, keeping every complete GET answer in memory.
type mirrorProxy struct {
	env      []string
	upstream map[string]string
	mu       sync.Mutex
	entries  map[string]*proxyEntry
	n        int
}

type proxyEntry struct {
	once   sync.Once
	status int
	ctype  string
	body   []byte
	err    error
}

func newMirrorProxy(t *testing.T) *mirrorProxy {
	t.Helper()
	main, err := deb.FindMirror("bookworm", deb.MirrorOptions{Env: os.Getenv(deb.MirrorEnv)})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := deb.FindSecurityMirror("bookworm-security", deb.MirrorOptions{Env: os.Getenv(deb.SecurityMirrorEnv), AnySecuritySuite: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &mirrorProxy{upstream: map[string]string{"main": main}, entries: map[string]*proxyEntry{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.env = []string{deb.MirrorEnv + "=" + srv.URL + "/main"}
	if sec != "" {
		p.upstream["security"] = sec
		p.env = append(p.env, deb.SecurityMirrorEnv+"="+srv.URL+"/security")
	}
	return p
}

func (p *mirrorProxy) fetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *mirrorProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	which, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	up, ok := p.upstream[which]
	if !ok || r.Method != http.MethodGet || r.Header.Get("Range") != "" {
		http.Error(w, "the test proxy serves whole GETs of /main/... and /security/... only", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	e := p.entries[r.URL.Path]
	if e == nil {
		e = &proxyEntry{}
		p.entries[r.URL.Path] = e
	}
	p.mu.Unlock()
	e.once.Do(func() {
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
		resp, err := http.Get(up + "/" + rest)
		if err != nil {
			e.err = err
			return
		}
		defer resp.Body.Close()
		e.status, e.ctype = resp.StatusCode, resp.Header.Get("Content-Type")
		e.body, e.err = io.ReadAll(resp.Body)
	})
	if e.err != nil {
		p.mu.Lock()
		delete(p.entries, r.URL.Path) // a failed download is tried again
		p.mu.Unlock()
		http.Error(w, e.err.Error(), http.StatusBadGateway)
		return
	}
	if e.ctype != "" {
		w.Header().Set("Content-Type", e.ctype)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(e.body)))
	w.WriteHeader(e.status)
	w.Write(e.body)
}
