package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/store"
)

func testStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// amd64Request is a request for linux/amd64 with an empty environment
// (no STRATA_DEBIAN_MIRROR from the machine running the tests), its events
// written to log as text lines.
func amd64Request(log io.Writer) closure.Request {
	if log == nil {
		log = io.Discard
	}
	return closure.Request{
		Env:      closure.Env{Getenv: func(string) string { return "" }, Events: events.New(events.WriterHandler(log))},
		Platform: closure.Platform{OS: "linux", Arch: "amd64"},
	}
}

func TestResolveLockFromSignedArchive(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	for _, keyring := range []string{a.keyring, a.armored} {
		s := a.spec("app")
		s.Debian.Keyring = keyring
		l, err := New(s, st).ResolveLock(context.Background(), amd64Request(nil))
		if err != nil {
			t.Fatalf("keyring %s: %v", keyring, err)
		}
		if want := strings.ToUpper(fmt.Sprintf("%x", a.entity.PrimaryKey.Fingerprint)); l.KeyFingerprint != want {
			t.Errorf("fingerprint %s, want %s", l.KeyFingerprint, want)
		}
		if l.ReleaseDate != "Thu, 01 Jan 2026 00:00:00 UTC" || l.Suite != a.suite || l.Arch != "amd64" {
			t.Errorf("lock header %+v", l)
		}
		var got []string
		for _, p := range l.Packages {
			got = append(got, fmt.Sprintf("%s=%s root=%v deps=%v", p.Name, p.Version, p.Root, p.Depends))
			if p.SHA256 != a.debs[p.Name] || p.Filename == "" || p.Size == 0 {
				t.Errorf("%s: sha256 %s filename %q size %d", p.Name, p.SHA256, p.Filename, p.Size)
			}
		}
		want := []string{
			"app=1.0-1 root=true deps=[hello lynx]",
			"hello=2.10-3 root=false deps=[libc6]",
			"libc6=2.36-9 root=false deps=[libgcc-s1]",
			"libgcc-s1=12.2.0-14 root=false deps=[libc6]",
			"lynx=2.9-1 root=false deps=[libc6]",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("lock packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// The index came by hash, once: the second resolution used the cache.
	if n := a.hitCount("dists/testing/main/binary-amd64/by-hash/"); n != 1 {
		t.Errorf("%d by-hash index downloads, want 1", n)
	}
	if n := a.hitCount("dists/testing/main/binary-amd64/Packages"); n != 0 {
		t.Errorf("%d downloads of the index by name with Acquire-By-Hash, want 0", n)
	}
	if n := a.hitCount("dists/testing/InRelease"); n != 2 {
		t.Errorf("%d InRelease downloads, want 2", n)
	}
}

func TestResolveLockWithoutByHash(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	a.publish(t, standardPackages(), false)
	if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), amd64Request(nil)); err != nil {
		t.Fatal(err)
	}
	if n := a.hitCount("dists/testing/main/binary-amd64/Packages.xz"); n != 1 {
		t.Errorf("%d Packages.xz downloads, want 1", n)
	}
}

// TestChainOfTrustFailures breaks each link of the chain in turn.
func TestChainOfTrustFailures(t *testing.T) {
	inRelease := "dists/testing/InRelease"
	cases := []struct {
		name   string
		breakA func(t *testing.T, a *testArchive) string // returns a keyring path to use ("" keeps)
		want   []string
	}{
		{"tampered InRelease", func(t *testing.T, a *testArchive) string {
			b := a.get(inRelease)
			a.set(inRelease, bytes.Replace(b, []byte("Codename: testing"), []byte("Codename: tasting"), 1))
			return ""
		}, []string{"/dists/testing/InRelease: signature check against", "failed", "do not use this mirror"}},
		{"signed by an unknown key", func(t *testing.T, a *testArchive) string {
			other, _ := writeKeyring(t, newTestKey(t))
			return other
		}, []string{"is signed by a key that is not in", "set debian.keyring"}},
		{"unsigned InRelease", func(t *testing.T, a *testArchive) string {
			b := a.get(inRelease)
			block, _ := clearsignDecode(b)
			a.set(inRelease, block)
			return ""
		}, []string{"is not an OpenPGP clear-signed file", "refusing an unsigned archive"}},
		{"missing InRelease", func(t *testing.T, a *testArchive) string {
			a.mu.Lock()
			delete(a.files, inRelease)
			a.mu.Unlock()
			return ""
		}, []string{"/dists/testing/InRelease: HTTP 404", "check debian.suite"}},
		{"Packages hash mismatch", func(t *testing.T, a *testArchive) string {
			a.mu.Lock()
			defer a.mu.Unlock()
			for p, b := range a.files {
				if strings.Contains(p, "/by-hash/") {
					c := append([]byte(nil), b...)
					c[len(c)/2] ^= 1
					a.files[p] = c
				}
			}
			return ""
		}, []string{"by-hash/SHA256/", "does not match the signed Release", "set debian.mirror to another mirror"}},
		{"InRelease of another suite", func(t *testing.T, a *testArchive) string {
			a.suite = "other"
			a.set("dists/other/InRelease", a.get(inRelease))
			return ""
		}, []string{"is signed for suite testing (codename testing), not other", "refusing it"}},
		{"keyring missing", func(t *testing.T, a *testArchive) string {
			return t.TempDir() + "/none.gpg"
		}, []string{"reading keyring", "install the archive keyring"}},
		{"keyring not a keyring", func(t *testing.T, a *testArchive) string {
			p := t.TempDir() + "/bad.gpg"
			writeFile(t, p, "not a key")
			return p
		}, []string{"reading keyring", "must be an OpenPGP public keyring"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestArchive(t, standardPackages())
			k := tc.breakA(t, a)
			s := a.spec("hello")
			if k != "" {
				s.Debian.Keyring = k
			}
			_, err := New(s, testStore(t)).ResolveLock(context.Background(), amd64Request(nil))
			if err == nil {
				t.Fatal("resolution succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// clearsignDecode returns the signed text without its signature.
func clearsignDecode(b []byte) ([]byte, error) {
	start := bytes.Index(b, []byte("\n\n"))
	end := bytes.Index(b, []byte("-----BEGIN PGP SIGNATURE-----"))
	if start < 0 || end < 0 {
		return nil, fmt.Errorf("not clear-signed")
	}
	return b[start+2 : end], nil
}

func TestDebHashMismatch(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	var libc LockedPackage
	for _, p := range l.Packages {
		if p.Name == "libc6" {
			libc = p
		}
	}
	b := append([]byte(nil), a.get(libc.Filename)...)
	b[len(b)-3] ^= 0xff
	a.set(libc.Filename, b)
	err = src.fetchDebs(context.Background(), amd64Request(nil), l)
	if err == nil {
		t.Fatal("a .deb with the wrong sha256 was accepted")
	}
	for _, w := range []string{"downloading libc6 2.36-9", libc.Filename, "sha256 mismatch", "does not match the signed index"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if st.HasBlob(libc.SHA256) {
		t.Error("the bad .deb is in the store")
	}
	if n := a.hitCount(libc.Filename); n != 1 {
		t.Errorf("%d downloads of the corrupt .deb, want 1 (integrity failures are not retried)", n)
	}
}

func TestDebSizeMismatch(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	l.Packages[0].Size--
	err = src.fetchDebs(context.Background(), amd64Request(nil), l)
	if err == nil || !strings.Contains(err.Error(), "the index says") {
		t.Fatalf("error %v, want a size mismatch", err)
	}
}

func TestRetriesAndExpiry(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	a.releaseExtra = "Valid-Until: Thu, 01 Jan 2026 00:00:00 UTC\n"
	a.publish(t, standardPackages(), true)
	a.fail["dists/testing/InRelease"] = 2
	var log bytes.Buffer
	req := amd64Request(&log)
	req.Env.Getenv = envOf(AllowExpiredReleaseEnv, "1")
	if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), req); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	if n := a.hitCount("dists/testing/InRelease"); n != 3 {
		t.Errorf("%d InRelease requests, want 3", n)
	}
	if !strings.Contains(log.String(), "the Release has expired: it was valid until Thu, 01 Jan 2026 00:00:00 UTC (accepted: --allow-expired-release)") {
		t.Errorf("no expiry warning in %q", log.String())
	}
	a.fail["dists/testing/InRelease"] = 3
	_, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), a.srv.URL+"/dists/testing/InRelease: HTTP 503") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("error %v, want one naming the URL and the attempts", err)
	}
}

func TestKeyringFolder(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	dir := t.TempDir()
	other, _ := writeKeyring(t, newTestKey(t))
	for name, src := range map[string]string{"a-other.gpg": other, "b-archive.asc": a.armored} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), string(b))
	}
	s := a.spec("hello")
	s.Debian.Keyring = dir
	if _, err := New(s, testStore(t)).ResolveLock(context.Background(), amd64Request(nil)); err != nil {
		t.Fatal(err)
	}
	s.Debian.Keyring = t.TempDir()
	if _, err := New(s, testStore(t)).ResolveLock(context.Background(), amd64Request(nil)); err == nil || !strings.Contains(err.Error(), "no *.gpg or *.asc keyrings") {
		t.Fatalf("empty keyring folder: %v", err)
	}
}

func TestSeveralComponents(t *testing.T) {
	pkgs := append(standardPackages(),
		archivePkg{stanza: "Package: extra\nVersion: 1\nArchitecture: all\nDepends: hello, www-browser\n", comp: "contrib"},
		archivePkg{stanza: "Package: w3m\nVersion: 0.5\nArchitecture: amd64\nProvides: www-browser\n", comp: "contrib"})
	a := newTestArchive(t, pkgs)
	s := a.spec("extra")
	s.Debian.Components = []string{"main", "contrib"}
	var log bytes.Buffer
	l, err := New(s, testStore(t)).ResolveLock(context.Background(), amd64Request(&log))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range l.Packages {
		names = append(names, p.Name+"@"+p.Filename[:strings.IndexByte(p.Filename[5:], '/')+5])
	}
	if got := strings.Join(names, " "); got != "extra@pool/contrib hello@pool/main libc6@pool/main libgcc-s1@pool/main lynx@pool/main" {
		t.Errorf("closure %s", got)
	}
	if !strings.Contains(log.String(), "provided by lynx, w3m; chose lynx") {
		t.Errorf("log %q", log.String())
	}
	if n := a.hitCount("dists/testing/contrib/binary-amd64/by-hash/"); n != 1 {
		t.Errorf("%d contrib index downloads, want 1 (the .gz by hash)", n)
	}
	// Only main asked for: contrib's package is unknown.
	s.Debian.Components = nil
	_, err = New(s, testStore(t)).ResolveLock(context.Background(), amd64Request(nil))
	if err == nil || !strings.Contains(err.Error(), "no package named extra in testing/main amd64") {
		t.Fatalf("error %v", err)
	}
}

// TestDebMirrorUnreachable: a refused connection is a network error naming
// the mirror, never "does not match the signed index".
func TestDebMirrorUnreachable(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	mirror := a.srv.URL
	a.srv.Close()
	err = src.fetchDebs(context.Background(), amd64Request(nil), l)
	if err == nil {
		t.Fatal("downloads from a closed mirror succeeded")
	}
	for _, w := range []string{"could not reach the mirror " + mirror, "connection refused", "debian.mirror"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "does not match") || errors.Is(err, errIntegrity) {
		t.Errorf("a refused connection is reported as an integrity failure: %v", err)
	}
}

// TestDebDownloadCutShort: a connection that drops mid-download is retried
// and, if it keeps dropping, reported as a network failure.
func TestDebDownloadCutShort(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := a.get(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b[:len(b)/2])
		// Returning with fewer bytes than announced drops the connection.
	}))
	defer srv.Close()
	fc := &fetcher{client: http.DefaultClient, base: srv.URL}
	err = src.fetchDeb(context.Background(), fc, l.Packages[0], nil)
	if err == nil {
		t.Fatal("a cut-short download was accepted")
	}
	if !strings.Contains(err.Error(), "lost the connection to the mirror "+srv.URL) || errors.Is(err, errIntegrity) {
		t.Errorf("a dropped connection is reported as %v", err)
	}
	if st.HasBlob(l.Packages[0].SHA256) {
		t.Error("the partial .deb is in the store")
	}
}

// TestDebCacheUnwritable: a cache that cannot store the .deb (its tmp
// folder replaced by a file, as a full or read-only disk would fail it) is
// reported as the cache's failure, tried once, never as a dropped
// connection.
func TestDebCacheUnwritable(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	dir := t.TempDir()
	st := testStoreAt(t, dir)
	src := New(a.spec("hello"), st)
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "tmp"), "not a folder")
	p := l.Packages[0]
	err = src.fetchDebs(context.Background(), amd64Request(nil), &Lock{Suite: l.Suite, Arch: l.Arch, Packages: []LockedPackage{p}})
	if err == nil {
		t.Fatal("a .deb was stored in an unwritable cache")
	}
	for _, w := range []string{"downloading " + p.Name, "writing to cache", filepath.Join(dir, "tmp"), "STRATA_CACHE"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	for _, w := range []string{"lost the connection", "check the network", "does not match"} {
		if strings.Contains(err.Error(), w) {
			t.Errorf("a local cache failure is reported as %q: %v", w, err)
		}
	}
	if n := a.hitCount(p.Filename); n != 1 {
		t.Errorf("%d downloads, want 1 (a local failure is not retried)", n)
	}
}
