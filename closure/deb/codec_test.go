package deb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stratabuild/strata/cache"
)

// encodeParts writes the cached form of each part for amd64 and returns
// the catalog over them, read from the bytes.
func encodeParts(t testing.TB, parts ...[]Package) (*diskCatalog, [][]byte) {
	t.Helper()
	var ds []*diskIndex
	var raw [][]byte
	for k, pk := range parts {
		var b bytes.Buffer
		enc := newIndexEncoder(&b, "amd64", "test")
		for i := range pk {
			if err := enc.add(&pk[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.finish(); err != nil {
			t.Fatal(err)
		}
		suite := ""
		if len(pk) > 0 {
			suite = pk[0].Suite
		}
		d, err := openDiskIndex(b.Bytes(), suite)
		if err != nil {
			t.Fatalf("part %d: %v", k, err)
		}
		ds = append(ds, d)
		raw = append(raw, b.Bytes())
	}
	return newDiskCatalog(ds), raw
}

// cachedIndex is idx as LoadIndex returns it: read through the cached
// form instead of held in memory.
func cachedIndex(t testing.TB, idx *Index) *Index {
	t.Helper()
	c, _ := encodeParts(t, idx.Packages)
	return &Index{Label: idx.Label, Suites: idx.Suites, cat: c, catArch: "amd64"}
}

// allNames lists the package and Provides names of pk.
func allNames(t testing.TB, pk []Package) []string {
	var names []string
	for _, p := range pk {
		names = append(names, p.Name)
		rels, err := parseRelations(p.Provides, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rels {
			for _, a := range r {
				names = append(names, a.Name)
			}
		}
	}
	return append(names, "missing", "", "zzz")
}

// sameLookup checks the catalog answers every name as buildLookup over
// all of pk does (ids are positions in pk, the parts laid end to end).
func sameLookup(t *testing.T, c *diskCatalog, pk []Package) {
	t.Helper()
	want, err := buildLookup(&Index{Packages: pk}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range allNames(t, pk) {
		if g, w := c.named(n), want.named(n); len(g)+len(w) > 0 && !reflect.DeepEqual(g, w) {
			t.Errorf("named(%q) = %v, want %v", n, g, w)
		}
		if g, w := c.provided(n), want.provided(n); len(g)+len(w) > 0 && !reflect.DeepEqual(g, w) {
			t.Errorf("provided(%q) = %+v, want %+v", n, g, w)
		}
	}
	for i := range pk {
		if g := c.pkg(i); !reflect.DeepEqual(*g, pk[i]) {
			t.Errorf("package %d = %+v, want %+v", i, *g, pk[i])
		}
	}
	if err := c.err(); err != nil {
		t.Error(err)
	}
}

func TestIndexCodecRoundTrip(t *testing.T) {
	idx := testIndex(t, baseIndex+stanza("lynx", "2.9-1", "amd64", "Provides: www-browser (= 2), http-client:any", "Essential: yes", "Size: 99", "Installed-Size: 7")+
		stanza("skip", "1", "i386", "Provides: www-browser")+stanza("hello", "2.10-3", "amd64")+stanza("hello", "2.9", "all")+stanza("hello", "2.10-3", "all"))
	c, raw := encodeParts(t, idx.Packages)
	sameLookup(t, c, idx.Packages)
	if got := c.named("skip"); len(got) != 0 {
		t.Errorf("an i386 package is in the amd64 lookup")
	}
	if got := c.provided("www-browser"); len(got) != 1 || got[0].version != "2" {
		t.Errorf("provided(www-browser) = %+v", got)
	}
	if got := c.named("hello"); len(got) != 2 {
		t.Errorf("hello: %v, want the first 2.10-3 and 2.9", got)
	}
	b := raw[0]
	for _, n := range []int{0, 5, len(indexMagic) + 3, len(b) / 2, len(b) - trailerSize, len(b) - 1} {
		if _, err := openDiskIndex(b[:n], ""); err == nil {
			t.Errorf("a cache cut at %d bytes opened", n)
		}
	}
	if _, err := openDiskIndex(append(append([]byte(nil), b...), 0), ""); err == nil {
		t.Error("a cache with a trailing byte opened")
	}
	old := append([]byte("strata-deb-index 2\n"), b[len(indexMagic):]...)
	if _, err := openDiskIndex(old, ""); err == nil || !strings.Contains(err.Error(), "not a strata index cache of this version") {
		t.Errorf("a version 2 cache: %v", err)
	}
}

// A record that does not decode is found when the resolver reads it: the
// resolution fails naming the damage instead of resolving garbage.
func TestIndexDamagedRecord(t *testing.T) {
	idx := testIndex(t, baseIndex)
	_, raw := encodeParts(t, idx.Packages)
	b := append([]byte(nil), raw[0]...)
	d, err := openDiskIndex(b, "")
	if err != nil {
		t.Fatal(err)
	}
	// hello's record: its name's length byte made larger than the records
	b[d.u32(d.pkgsOff)] = 0x7f
	_, err = Resolve(&Index{Label: "test", cat: newDiskCatalog([]*diskIndex{d}), catArch: "amd64"}, ResolveOptions{Arch: "amd64", Roots: []string{"hello"}})
	if !errors.Is(err, errIndexDamaged) {
		t.Fatalf("resolving over a damaged record: %v", err)
	}
	if _, err := Resolve(cachedIndex(t, idx), ResolveOptions{Arch: "arm64", Roots: []string{"hello"}}); err == nil || !strings.Contains(err.Error(), "read for architecture amd64, not arm64") {
		t.Errorf("another architecture: %v", err)
	}
}

// TestCatalogParts checks the catalog of several index parts (a suite and
// its update suites) answers as the lookup built over all their packages.
func TestCatalogParts(t *testing.T) {
	parts := [][]Package{
		{{Name: "a", Version: "1.0", Arch: "amd64"}, {Name: "b", Version: "2.0", Arch: "all", Provides: "v"}, {Name: "c", Version: "1", Arch: "amd64"}, {Name: "z", Version: "1", Arch: "arm64"}},
		{{Name: "b", Version: "2.0", Arch: "all", Provides: "v"}, {Name: "a", Version: "1.0+u1", Arch: "amd64", Provides: "v, w"}, {Name: "c", Version: "0.9", Arch: "amd64"}, {Name: "c", Version: "1.0", Arch: "amd64"}},
		{{Name: "a", Version: "1.0+u2", Arch: "amd64"}, {Name: "d", Version: "3", Arch: "amd64", Provides: "a"}, {Name: "b", Version: "1.0", Arch: "all"}, {Name: "c", Version: "1.00", Arch: "amd64"}},
	}
	var all []Package
	for _, p := range parts {
		all = append(all, p...)
	}
	c, _ := encodeParts(t, parts...)
	sameLookup(t, c, all)
	if got := c.named("a"); len(got) != 3 {
		t.Errorf("a: %v", got)
	}
	if got := c.named("b"); len(got) != 2 { // b 2.0 once, b 1.0
		t.Errorf("b: %v", got)
	}
	res, err := Resolve(&Index{cat: c, catArch: "amd64"}, ResolveOptions{Arch: "amd64", Roots: []string{"a", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Packages[0].Pkg.Version + " " + res.Packages[1].Pkg.Version; v != "1.0+u2 1.0" {
		t.Errorf("resolved %s", v)
	}
}

// TestLoadIndexStreams reads an index through a store that keeps files
// (mapped) and through one that does not (read whole): both resolve alike,
// and a damaged entry is fetched anew.
func TestLoadIndexStreams(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	opt := IndexOptions{Suite: "testing", Arch: "amd64", Mirror: a.srv.URL, Keyring: a.keyring, AptRoot: t.TempDir(), Getenv: func(string) string { return "" }}
	resolve := func(st interface {
		Get(string, string) ([]byte, error)
		Put(string, string, []byte) error
		Delete(string, string) error
	}) string {
		t.Helper()
		idx, _, err := LoadIndex(context.Background(), st, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(idx.Packages) != 0 {
			t.Errorf("LoadIndex materialised %d packages", len(idx.Packages))
		}
		res, err := Resolve(idx, ResolveOptions{Arch: "amd64", Roots: []string{"app"}})
		if err != nil {
			t.Fatal(err)
		}
		return summary(res)
	}
	want := resolve(st)
	if !strings.Contains(want, "hello=") {
		t.Fatalf("closure %s", want)
	}
	if got := resolve(st); got != want { // warm: mapped from the store
		t.Errorf("warm %s, want %s", got, want)
	}
	all, _, err := LoadIndex(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := all.Each(func(p *Package) { names = append(names, p.Name+"@"+p.Suite) }); err != nil {
		t.Fatal(err)
	}
	if len(names) != len(standardPackages()) || names[0] != "hello@testing" {
		t.Errorf("Each: %v", names)
	}
	if got := resolve(getOnly{testStore(t)}); got != want {
		t.Errorf("through Get/Put %s, want %s", got, want)
	}
	// damage the cached entry: it is dropped and fetched again
	idx, _, err := LoadIndex(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range idx.keys {
		if err := st.Put(indexCacheKind, k, []byte(indexMagic+"garbage")); err != nil {
			t.Fatal(err)
		}
	}
	if got := resolve(st); got != want {
		t.Errorf("after damage %s, want %s", got, want)
	}

	// An altered download (same size) is refused, not kept, and not
	// fetched again: the checksum is not a transient error.
	a.mu.Lock()
	var altered []string
	for p, b := range a.files {
		if strings.Contains(p, "/by-hash/") {
			c := append([]byte(nil), b...)
			c[len(c)/2] ^= 1
			a.files[p], altered = c, append(altered, p)
		}
	}
	a.hits = map[string]int{}
	a.mu.Unlock()
	fresh := testStore(t)
	_, _, err = LoadIndex(context.Background(), fresh, opt)
	if err == nil || !strings.Contains(err.Error(), "does not match the signed Release") {
		t.Fatalf("altered index: %v", err)
	}
	a.mu.Lock()
	hits := 0
	for _, p := range altered {
		hits += a.hits[p]
	}
	a.mu.Unlock()
	if hits != 1 {
		t.Errorf("the altered index was fetched %d times, want once", hits)
	}
	if _, err := fresh.IndexFile(indexCacheKind, idx.keys[0]); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("the altered index was cached: %v", err)
	}
}

// getOnly hides a store's files: only cache.Index's methods are left.
type getOnly struct {
	st interface {
		Get(string, string) ([]byte, error)
		Put(string, string, []byte) error
		Delete(string, string) error
	}
}

func (g getOnly) Get(kind, key string) ([]byte, error)   { return g.st.Get(kind, key) }
func (g getOnly) Put(kind, key string, rec []byte) error { return g.st.Put(kind, key, rec) }
func (g getOnly) Delete(kind, key string) error          { return g.st.Delete(kind, key) }

func FuzzDecodeIndex(f *testing.F) {
	pk := []Package{{Name: "a", Version: "1", Arch: "amd64", Provides: "v (= 1)"}, {Name: "b", Version: "2", Arch: "all"}}
	_, raw := encodeParts(f, pk)
	good := raw[0]
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte(indexMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := openDiskIndex(b, "")
		if err != nil {
			return
		}
		// whatever opens must be usable by the resolver without panics
		c := newDiskCatalog([]*diskIndex{d})
		for k := 0; k < d.norder; k++ {
			for _, i := range c.named(d.orderName(k)) {
				_ = c.pkg(i).Name
			}
		}
		for k := 0; k < d.nprov; k++ {
			for _, p := range c.provided(d.poolString(d.u32(d.provs + 16*k))) {
				_ = c.pkg(p.pkg)
			}
		}
		_, _ = Resolve(&Index{cat: c, catArch: "amd64"}, ResolveOptions{Arch: "amd64", Roots: []string{"a"}})
	})
}

func FuzzParseRelations(f *testing.F) {
	for _, s := range []string{"a, b (>= 1) | c:any", "a [amd64] <!nocheck>", "(", "a (>= ", "a ] [", "| ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rels, err := parseRelations(s, "amd64")
		if err != nil {
			return
		}
		for _, r := range rels {
			for _, a := range r {
				if a.Name == "" {
					t.Fatalf("%q: empty name", s)
				}
			}
		}
	})
}

// Resolutions sharing one Index read from the cache may run at once (the
// catalog keeps what it decoded; go test -race checks it).
func TestCatalogConcurrent(t *testing.T) {
	idx := cachedIndex(t, testIndex(t, baseIndex))
	want, err := Resolve(idx, ResolveOptions{Arch: "amd64", Roots: []string{"hello"}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			res, err := Resolve(idx, ResolveOptions{Arch: "amd64", Roots: []string{"hello", "bash"}})
			if err == nil && !strings.Contains(summary(res), summary(want)[:20]) {
				err = errors.New(summary(res))
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// An order table entry that leads to another package's record (a flipped
// byte in the cache) is damage, not an answer.
func TestIndexDamagedOrderTable(t *testing.T) {
	idx := testIndex(t, baseIndex)
	_, raw := encodeParts(t, idx.Packages)
	b := append([]byte(nil), raw[0]...)
	d, err := openDiskIndex(b, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.norder < 2 {
		t.Fatalf("the fixture has %d names", d.norder)
	}
	e0, e1 := d.order+4, d.order+8+4 // the package numbers of names 0 and 1
	for i := 0; i < 4; i++ {
		b[e0+i], b[e1+i] = b[e1+i], b[e0+i]
	}
	c := newDiskCatalog([]*diskIndex{d})
	c.named(d.orderName(0))
	if err := c.err(); !errors.Is(err, errIndexDamaged) {
		t.Fatalf("a swapped order table: %v", err)
	}
}

// A cached index file truncated under its mapping (the kernel answers a
// read of the lost pages with SIGBUS) makes resolution fail naming the
// damage, which the source answers by reading the index again, instead of
// killing the process.
func TestIndexTruncatedUnderItsMapping(t *testing.T) {
	idx := testIndex(t, baseIndex)
	_, raw := encodeParts(t, idx.Packages)
	path := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(path, raw[0], 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := openIndexFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(&Index{Label: "test", cat: newDiskCatalog([]*diskIndex{d}), catArch: "amd64"}, ResolveOptions{Arch: "amd64", Roots: []string{"hello"}})
	if !errors.Is(err, errIndexDamaged) || !strings.Contains(err.Error(), "truncated or changed under its mapping") {
		t.Fatalf("resolving over a truncated mapped index: %v", err)
	}
}
