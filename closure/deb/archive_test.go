package deb

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"

	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/internal/deb822"
	"github.com/stratabuild/strata/spec"
)

// archivePkg is one package of a test archive: Package, Version,
// Architecture and relationship lines; Filename, Size and SHA256 are added.
type archivePkg struct {
	stanza string
	files  []debtest.File
	// comp is the component, default main. Other components are published
	// as Packages.gz only, to exercise the fallback.
	comp string
	// md5sums is the control archive's md5sums file ("" for none).
	md5sums string
}

// pkgOf is an archivePkg with one file, usr/share/NAME/version (not a
// doc, which strata would prune).
func pkgOf(name, ver, arch string, extra ...string) archivePkg {
	st := "Package: " + name + "\nVersion: " + ver + "\nArchitecture: " + arch + "\n"
	for _, e := range extra {
		st += e + "\n"
	}
	return archivePkg{stanza: st, files: []debtest.File{
		{Name: "./usr/", Mode: 0o755}, {Name: "./usr/share/", Mode: 0o755},
		{Name: "./usr/share/" + name + "/", Mode: 0o755},
		{Name: "./usr/share/" + name + "/version", Body: name + " " + ver + "\n"},
	}}
}

// testArchive is a signed Debian archive served on loopback.
type testArchive struct {
	srv     *httptest.Server
	suite   string
	entity  *openpgp.Entity
	keyring string // binary public keyring file
	armored string // the same key, armored

	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	debs  map[string]string // package name -> sha256 of its latest .deb
	// fail answers this many requests for a path with HTTP 503 first.
	fail map[string]int
	// releaseExtra is added to the Release fields on publish.
	releaseExtra string
	// date is the Release Date field on publish (default Thu, 01 Jan 2026).
	date string
	// signConfig signs the InRelease (nil: the library's defaults, SHA-256).
	signConfig *packet.Config
	// hold keeps requests for paths under a prefix waiting until its
	// channel is closed.
	hold map[string]chan struct{}
}

var testKeyConfig = &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}

func newTestKey(t testing.TB) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("strata test archive", "", "archive@example.invalid", testKeyConfig)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// writeKeyring writes e's public key as a binary and an armored keyring.
func writeKeyring(t testing.TB, e *openpgp.Entity) (bin, asc string) {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "archive.gpg")
	if err := os.WriteFile(bin, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var a bytes.Buffer
	w, err := armor.Encode(&a, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b.Bytes())
	w.Close()
	asc = filepath.Join(dir, "archive.asc")
	if err := os.WriteFile(asc, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, asc
}

func newTestArchive(t testing.TB, pkgs []archivePkg) *testArchive {
	t.Helper()
	a := &testArchive{suite: "testing", entity: newTestKey(t), files: map[string][]byte{}, hits: map[string]int{}, debs: map[string]string{}, fail: map[string]int{}}
	a.keyring, a.armored = writeKeyring(t, a.entity)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		a.mu.Lock()
		a.hits[p]++
		b, ok := a.files[p]
		failing := a.fail[p] > 0
		if failing {
			a.fail[p]--
		}
		var held chan struct{}
		for prefix, ch := range a.hold {
			if strings.HasPrefix(p, prefix) {
				held = ch
			}
		}
		a.mu.Unlock()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		if failing {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	a.publish(t, pkgs, true)
	return a
}

// publish (re)writes the pool, Packages and a signed InRelease.
func (a *testArchive) publish(t testing.TB, pkgs []archivePkg, byHash bool) {
	t.Helper()
	a.publishAt(t, "", a.suite, pkgs, byHash)
}

// publishAt publishes suite under the URL path prefix ("" or "NAME/"),
// which stands for another mirror when not empty.
func (a *testArchive) publishAt(t testing.TB, prefix, suite string, pkgs []archivePkg, byHash bool) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	indexes := map[string]*bytes.Buffer{}
	for _, p := range pkgs {
		f, err := deb822.ReadFirst(strings.NewReader(p.stanza))
		if err != nil {
			t.Fatalf("test stanza %q: %v", p.stanza, err)
		}
		name, ver, arch := f.Get("Package"), f.Get("Version"), f.Get("Architecture")
		comp := p.comp
		if comp == "" {
			comp = "main"
		}
		if indexes[comp] == nil {
			indexes[comp] = &bytes.Buffer{}
		}
		ctl := p.stanza + "Maintainer: Test Maintainer <m@example.invalid>\nSection: misc\nHomepage: https://example.invalid/" + name + "\nInstalled-Size: 1\nDescription: the " + name + " package\n longer text\n"
		deb, err := debtest.Bytes(debtest.Deb{Control: ctl, Files: p.files, MD5Sums: p.md5sums})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(deb)
		hexSum := hex.EncodeToString(sum[:])
		fn := fmt.Sprintf("pool/%s/%s/%s_%s_%s.deb", comp, name, name, ver, arch)
		a.files[prefix+fn] = deb
		a.debs[name] = hexSum
		fmt.Fprintf(indexes[comp], "%sMaintainer: Test Maintainer <m@example.invalid>\nInstalled-Size: 1\nFilename: %s\nSize: %d\nSHA256: %s\nSection: misc\nDescription: the %s package\n\n",
			p.stanza, fn, len(deb), hexSum, name)
	}
	comps := slices.Sorted(maps.Keys(indexes))
	date := a.date
	if date == "" {
		date = "Thu, 01 Jan 2026 00:00:00 UTC"
	}
	rel := "Origin: Test\nSuite: " + suite + "\nCodename: " + suite + "\nDate: " + date + "\nArchitectures: amd64\nComponents: " + strings.Join(comps, " ") + "\n"
	if byHash {
		rel += "Acquire-By-Hash: yes\n"
	}
	rel += a.releaseExtra
	rel += "SHA256:\n"
	for _, comp := range comps {
		index := indexes[comp].Bytes()
		var zb bytes.Buffer
		var w io.WriteCloser
		ext := ".xz"
		if comp == "main" {
			xw, err := xz.NewWriter(&zb)
			if err != nil {
				t.Fatal(err)
			}
			w = xw
		} else {
			w, ext = gzip.NewWriter(&zb), ".gz"
		}
		w.Write(index)
		w.Close()
		dir := prefix + "dists/" + suite + "/" + comp + "/binary-amd64/"
		for _, f := range []struct {
			name string
			b    []byte
		}{{"Packages", index}, {"Packages" + ext, zb.Bytes()}} {
			sum := sha256.Sum256(f.b)
			h := hex.EncodeToString(sum[:])
			rel += fmt.Sprintf(" %s %d %s/binary-amd64/%s\n", h, len(f.b), comp, f.name)
			a.files[dir+f.name] = f.b
			if byHash {
				a.files[dir+"by-hash/SHA256/"+h] = f.b
			}
		}
	}
	a.files[prefix+"dists/"+suite+"/InRelease"] = clearSignWith(t, a.entity, rel, a.signConfig)
}

func clearSign(t testing.TB, e *openpgp.Entity, text string) []byte {
	t.Helper()
	return clearSignWith(t, e, text, nil)
}

func clearSignWith(t testing.TB, e *openpgp.Entity, text string, config *packet.Config) []byte {
	t.Helper()
	if config != nil && config.DefaultHash == crypto.SHA1 {
		return clearSignSHA1(t, e, text)
	}
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, e.PrivateKey, config)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (a *testArchive) set(path string, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = b
}

func (a *testArchive) get(path string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[path]
}

// hitCount is the number of requests for paths starting with prefix.
func (a *testArchive) hitCount(prefix string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for p, c := range a.hits {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

func (a *testArchive) spec(pkgs ...string) *spec.Spec {
	return &spec.Spec{Name: "test", Debian: &spec.Debian{Suite: a.suite, Packages: pkgs, Mirror: a.srv.URL, Keyring: a.keyring}}
}

// standardPackages is a small archive: hello -> libc6 <-> libgcc-s1, and
// a virtual package.
func standardPackages() []archivePkg {
	return []archivePkg{
		pkgOf("hello", "2.10-3", "amd64", "Depends: libc6 (>= 2.34)"),
		pkgOf("libc6", "2.36-9", "amd64", "Multi-Arch: same", "Depends: libgcc-s1"),
		pkgOf("libgcc-s1", "12.2.0-14", "amd64", "Multi-Arch: same", "Depends: libc6 (>= 2.35)"),
		pkgOf("app", "1.0-1", "amd64", "Depends: hello, www-browser"),
		pkgOf("lynx", "2.9-1", "amd64", "Provides: www-browser", "Depends: libc6"),
		pkgOf("bash", "5.2-15", "amd64", "Essential: yes", "Priority: required"),
	}
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// clearSignSHA1 clear-signs text over a SHA-1 digest, which the library's
// writers refuse: a v4 text signature made by hand over the lines joined
// by CRLF, without the last line ending, as clear-signing defines.
func clearSignSHA1(t testing.TB, e *openpgp.Entity, text string) []byte {
	t.Helper()
	priv := e.PrivateKey
	sig := &packet.Signature{
		Version: 4, SigType: packet.SigTypeText, PubKeyAlgo: priv.PubKeyAlgo,
		Hash: crypto.SHA1, CreationTime: time.Now(), IssuerKeyId: &priv.KeyId,
	}
	h := sha1.New()
	h.Write([]byte(strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\r\n")))
	if err := sig.Sign(h, priv, &packet.Config{NonDeterministicSignaturesViaNotation: new(bool)}); err != nil {
		t.Fatal(err)
	}
	var armored bytes.Buffer
	w, err := armor.Encode(&armored, "PGP SIGNATURE", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\n" + text + armored.String() + "\n")
}
