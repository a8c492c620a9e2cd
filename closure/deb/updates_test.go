package deb

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stratabuild/strata/spec"
)

// updatesArchive is the standard archive as suite "testing", plus
// testing-updates on the same mirror (a newer libgcc-s1, an older lynx)
// and testing-security under /security, standing for another mirror (a
// newer hello).
func updatesArchive(t *testing.T) *testArchive {
	t.Helper()
	a := newTestArchive(t, standardPackages())
	a.publishAt(t, "", "testing-updates", []archivePkg{
		pkgOf("libgcc-s1", "12.2.0-14+deb1u1", "amd64", "Multi-Arch: same", "Depends: libc6 (>= 2.35)"),
		pkgOf("lynx", "2.8-1", "amd64", "Provides: www-browser", "Depends: libc6"),
	}, true)
	a.publishAt(t, "security/", "testing-security", []archivePkg{
		pkgOf("hello", "2.10-3+deb1u1", "amd64", "Depends: libc6 (>= 2.34)"),
	}, true)
	return a
}

// updatesSource is a Source for app on a with no host apt sources; edit
// adjusts the debian block.
func updatesSource(t *testing.T, a *testArchive, edit func(d *spec.Debian), opts ...Option) *Source {
	t.Helper()
	s := a.spec("app")
	if edit != nil {
		edit(s.Debian)
	}
	opts = append([]Option{WithAptRoot(t.TempDir())}, opts...)
	return New(s, testStore(t), opts...)
}

func lockSummary(l *Lock) string {
	var s []string
	for _, p := range l.Packages {
		s = append(s, p.Name+"="+p.Version+"@"+p.Suite)
	}
	return strings.Join(s, " ")
}

const wantUpdatesLock = "app=1.0-1@testing hello=2.10-3+deb1u1@testing-security libc6=2.36-9@testing libgcc-s1=12.2.0-14+deb1u1@testing-updates lynx=2.9-1@testing"

func TestUpdateSuitesHighestVersionWins(t *testing.T) {
	a := updatesArchive(t)
	secURL := a.srv.URL + "/security"
	var log bytes.Buffer
	src := updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror = secURL })
	l, err := src.ResolveLock(context.Background(), amd64Request(&log))
	if err != nil {
		t.Fatal(err)
	}
	if got := lockSummary(l); got != wantUpdatesLock {
		t.Errorf("lock %s\nwant %s", got, wantUpdatesLock)
	}
	fp := strings.ToUpper(fmt.Sprintf("%x", a.entity.PrimaryKey.Fingerprint))
	date := "Thu, 01 Jan 2026 00:00:00 UTC"
	wantRel := []LockedRelease{{"testing", date, fp}, {"testing-updates", date, fp}, {"testing-security", date, fp}}
	if !reflect.DeepEqual(l.Releases, wantRel) || l.NoUpdates || l.ReleaseDate != date || l.KeyFingerprint != fp {
		t.Errorf("lock releases %+v noUpdates %v", l.Releases, l.NoUpdates)
	}
	for _, p := range l.Packages {
		if p.Name == "hello" && p.SHA256 != a.debs["hello"] {
			t.Errorf("hello sha256 %s is not the security archive's %s", p.SHA256, a.debs["hello"])
		}
	}
	if strings.Contains(log.String(), "notice") {
		t.Errorf("notices with every suite present: %s", log.String())
	}
	raw1, _ := l.Marshal()
	if !bytes.Contains(raw1, []byte(`"suite":"testing-security"`)) {
		t.Errorf("lock JSON lacks the package suite: %s", raw1)
	}

	// Two more lock runs (a warm and a cold cache) write the same bytes.
	for _, s := range []*Source{src, updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror = secURL })} {
		l2, err := s.ResolveLock(context.Background(), amd64Request(nil))
		if err != nil {
			t.Fatal(err)
		}
		raw2, _ := l2.Marshal()
		if !bytes.Equal(raw1, raw2) {
			t.Errorf("second lock differs:\n%s\n%s", raw1, raw2)
		}
	}

	// The same mirrors found through the environment, and through the
	// host's apt sources in both forms (deb822 lists several suites in
	// one entry).
	env := updatesSource(t, a, nil)
	envReq := amd64Request(nil)
	envReq.Env.Getenv = func(k string) string {
		if k == SecurityMirrorEnv {
			return secURL
		}
		return ""
	}
	deb822 := fmt.Sprintf("Types: deb\nURIs: %s\nSuites: testing testing-updates\nComponents: main\n\nTypes: deb\nURIs: %s/\nSuites: testing-security\nComponents: main\n", a.srv.URL, secURL)
	oneLine := fmt.Sprintf("deb %s testing main\ndeb [arch=amd64] %s testing-security main\n", a.srv.URL, secURL)
	for name, s := range map[string]*Source{
		"env":          env,
		"deb822":       updatesSource(t, a, func(d *spec.Debian) { d.Mirror = "" }, WithAptRoot(aptRoot(t, deb822, ""))),
		"one-line":     updatesSource(t, a, func(d *spec.Debian) { d.Mirror = "" }, WithAptRoot(aptRoot(t, "", oneLine))),
		"explicit-opt": updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror, d.Updates = secURL, ptr(true) }),
	} {
		req := amd64Request(nil)
		if name == "env" {
			req = envReq
		}
		l2, err := s.ResolveLock(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw2, _ := l2.Marshal()
		if !bytes.Equal(raw1, raw2) && name != "explicit-opt" {
			t.Errorf("%s: lock differs:\n%s\n%s", name, raw1, raw2)
		}
		if got := lockSummary(l2); got != wantUpdatesLock {
			t.Errorf("%s: lock %s", name, got)
		}
	}
}

// TestLoadIndexUpdates reads the suites through the public LoadIndex:
// each package knows its suite, each suite its mirror, and the default
// (no Updates) stays the main suite alone.
func TestLoadIndexUpdates(t *testing.T) {
	a := updatesArchive(t)
	st := testStore(t)
	opt := IndexOptions{Suite: "testing", Arch: "amd64", Mirror: a.srv.URL, Keyring: a.keyring, AptRoot: t.TempDir(),
		Getenv: func(string) string { return "" }, Updates: true, SecurityMirror: a.srv.URL + "/security"}
	idx, rel, err := LoadIndex(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Suite != "testing" || len(idx.Suites) != 3 || idx.Mirror("testing-security") != a.srv.URL+"/security" || idx.Mirror("testing-updates") != a.srv.URL {
		t.Errorf("release %s, suites %+v", rel.Suite, idx.Suites)
	}
	if idx.Label != "testing,testing-updates,testing-security/main amd64" {
		t.Errorf("label %q", idx.Label)
	}
	var hellos []string
	for _, i := range idx.cat.named("hello") {
		p := idx.cat.pkg(i)
		hellos = append(hellos, p.Version+"@"+p.Suite)
	}
	if strings.Join(hellos, " ") != "2.10-3+deb1u1@testing-security 2.10-3@testing" {
		t.Errorf("hello in the index: %v", hellos)
	}
	opt.Updates = false
	idx, _, err = LoadIndex(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Suites) != 1 || idx.Label != "testing/main amd64" {
		t.Errorf("without updates: suites %+v label %q", idx.Suites, idx.Label)
	}
}

func ptr[T any](v T) *T { return &v }

func TestUpdateSuitesBuildFromLock(t *testing.T) {
	a := updatesArchive(t)
	secURL := a.srv.URL + "/security"
	l, err := updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror = secURL }).ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := l.Marshal()
	req := amd64Request(nil)
	req.Locked = raw
	// A build on another machine: the security mirror comes from its
	// apt sources, not from the lock.
	apt := aptRoot(t, fmt.Sprintf("Types: deb\nURIs: %s\nSuites: testing-security\nComponents: main\n", secURL), "")
	secBefore, mainBefore, distsBefore := a.hitCount("security/pool/"), a.hitCount("pool/"), a.hitCount("dists/")+a.hitCount("security/dists/")
	res, err := updatesSource(t, a, nil, WithAptRoot(apt)).Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.hitCount("security/pool/") - secBefore; n != 1 {
		t.Errorf("%d .debs from the security mirror, want 1 (hello)", n)
	}
	if n := a.hitCount("pool/") - mainBefore; n != 4 {
		t.Errorf("%d .debs from the main mirror, want 4", n)
	}
	if n := a.hitCount("dists/") + a.hitCount("security/dists/") - distsBefore; n != 0 {
		t.Errorf("%d metadata requests with a lock, want 0", n)
	}
	hello := res.Graph.Nodes["deb:hello:amd64"]
	if hello == nil || hello.Version != "2.10-3+deb1u1" {
		t.Fatalf("hello node %+v", hello)
	}
	if !bytes.Equal(res.Lock, raw) {
		t.Errorf("building changed the lock:\n%s\n%s", raw, res.Lock)
	}

	// Without a security mirror on the building machine: an error naming
	// the fix.
	_, err = updatesSource(t, a, nil).Resolve(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "debian.securityMirror") || !strings.Contains(err.Error(), "testing-security") {
		t.Errorf("build without a security mirror: %v", err)
	}

	// An older lock (no package suites, no releases, no noUpdates) fits
	// the default and reads as the main suite throughout.
	l0, err := updatesSource(t, a, func(d *spec.Debian) { d.Updates = ptr(false) }).ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	l0.NoUpdates, l0.Releases = false, nil
	for i := range l0.Packages {
		l0.Packages[i].Suite = ""
	}
	oldRaw, _ := l0.Marshal()
	if bytes.Contains(oldRaw, []byte(`"arch":"amd64","suite"`)) || bytes.Contains(oldRaw, []byte("releases")) {
		t.Fatalf("not an old-format lock: %s", oldRaw)
	}
	oldReq := amd64Request(nil)
	oldReq.Locked = oldRaw
	poolBefore := a.hitCount("pool/")
	res2, err := updatesSource(t, a, nil).Resolve(context.Background(), oldReq)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res2.Lock, oldRaw) {
		t.Errorf("old lock not kept as it is:\n%s\n%s", oldRaw, res2.Lock)
	}
	if n := a.hitCount("pool/") - poolBefore; n != 5 {
		t.Errorf("%d .debs from the main mirror for an old lock, want 5", n)
	}
	if h := res2.Graph.Nodes["deb:hello:amd64"]; h == nil || h.Version != "2.10-3" {
		t.Errorf("old lock's hello %+v", h)
	}

	// A package suite that is no update suite of the lock's suite is refused.
	bad := bytes.Replace(raw, []byte(`"arch":"amd64","suite":"testing-security"`), []byte(`"arch":"amd64","suite":"elsewhere"`), 1)
	if _, err := ParseLock(bad); err == nil || !strings.Contains(err.Error(), `"elsewhere"`) {
		t.Errorf("lock with a foreign suite: %v", err)
	}
}

func TestUpdateSuitesOff(t *testing.T) {
	a := updatesArchive(t)
	var log bytes.Buffer
	src := updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror, d.Updates = "", ptr(false) })
	l, err := src.ResolveLock(context.Background(), amd64Request(&log))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lockSummary(l), "app=1.0-1@testing hello=2.10-3@testing libc6=2.36-9@testing libgcc-s1=12.2.0-14@testing lynx=2.9-1@testing"; got != want {
		t.Errorf("lock %s, want %s", got, want)
	}
	if n := a.hitCount("dists/testing-updates/") + a.hitCount("security/"); n != 0 {
		t.Errorf("%d requests to the update suites with updates: false", n)
	}
	if !l.NoUpdates || len(l.Releases) != 1 || l.Releases[0].Suite != "testing" {
		t.Errorf("lock noUpdates %v releases %+v", l.NoUpdates, l.Releases)
	}
	if log.Len() != 0 && strings.Contains(log.String(), "notice") {
		t.Errorf("notices with updates: false: %s", log.String())
	}
	// The lock made with updates no longer fits when they are asked for:
	// resolved again, keeping the locked versions.
	raw, _ := l.Marshal()
	req := amd64Request(&log)
	req.Locked = raw
	l2, err := updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror = a.srv.URL + "/security" }).ResolveLock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "debian.updates false, the spec asks for true") || l2.NoUpdates {
		t.Errorf("log %q noUpdates %v", log.String(), l2.NoUpdates)
	}
}

func TestUpdateSuitesMissing(t *testing.T) {
	a := updatesArchive(t)
	// No security mirror anywhere: skipped with a notice by default...
	var log bytes.Buffer
	l, err := updatesSource(t, a, nil).ResolveLock(context.Background(), amd64Request(&log))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lockSummary(l), "app=1.0-1@testing hello=2.10-3@testing libc6=2.36-9@testing libgcc-s1=12.2.0-14+deb1u1@testing-updates lynx=2.9-1@testing"; got != want {
		t.Errorf("lock %s, want %s", got, want)
	}
	if !strings.Contains(log.String(), "debian: notice: no mirror for testing-security") || !strings.Contains(log.String(), "debian.securityMirror") {
		t.Errorf("log %q", log.String())
	}
	if len(l.Releases) != 2 {
		t.Errorf("releases %+v, want testing and testing-updates", l.Releases)
	}
	// ...and an error naming debian.securityMirror when updates are asked for.
	_, err = updatesSource(t, a, func(d *spec.Debian) { d.Updates = ptr(true) }).ResolveLock(context.Background(), amd64Request(nil))
	if err == nil || !strings.Contains(err.Error(), "debian.securityMirror") || !strings.Contains(err.Error(), SecurityMirrorEnv) {
		t.Errorf("explicit updates without a security mirror: %v", err)
	}

	// A mirror without the suite (InRelease 404): a notice by default, an
	// error when asked for.
	b := newTestArchive(t, standardPackages())
	log.Reset()
	l, err = updatesSource(t, b, func(d *spec.Debian) { d.SecurityMirror = b.srv.URL + "/nothing" }).ResolveLock(context.Background(), amd64Request(&log))
	if err != nil {
		t.Fatal(err)
	}
	for _, su := range []string{"testing-updates", "testing-security"} {
		if !strings.Contains(log.String(), "debian: notice: ") || !strings.Contains(log.String(), "has no "+su+" suite") {
			t.Errorf("log lacks the notice for %s: %q", su, log.String())
		}
	}
	if len(l.Releases) != 1 {
		t.Errorf("releases %+v", l.Releases)
	}
	_, err = updatesSource(t, b, func(d *spec.Debian) { d.SecurityMirror, d.Updates = b.srv.URL+"/nothing", ptr(true) }).ResolveLock(context.Background(), amd64Request(nil))
	if err == nil || !strings.Contains(err.Error(), "testing-updates") || !strings.Contains(err.Error(), "404") {
		t.Errorf("explicit updates, suite missing: %v", err)
	}
}

func TestUpdateSuitesTamperedSecurity(t *testing.T) {
	a := updatesArchive(t)
	p := "security/dists/testing-security/InRelease"
	a.set(p, bytes.Replace(a.get(p), []byte("Codename: testing-security"), []byte("Codename: testing-securitx"), 1))
	_, err := updatesSource(t, a, func(d *spec.Debian) { d.SecurityMirror = a.srv.URL + "/security" }).ResolveLock(context.Background(), amd64Request(nil))
	if err == nil || !strings.Contains(err.Error(), "signature check") || !strings.Contains(err.Error(), "testing-security") {
		t.Errorf("tampered security InRelease: %v", err)
	}
	// Signed, but for another suite: refused too.
	b := updatesArchive(t)
	b.set("security/dists/testing-security/InRelease", b.get("dists/testing-updates/InRelease"))
	_, err = updatesSource(t, b, func(d *spec.Debian) { d.SecurityMirror = b.srv.URL + "/security" }).ResolveLock(context.Background(), amd64Request(nil))
	if err == nil || !strings.Contains(err.Error(), "is signed for suite testing-updates") {
		t.Errorf("security InRelease of another suite: %v", err)
	}
}

func TestFindSecurityMirror(t *testing.T) {
	deb822 := "Types: deb\nURIs: http://127.0.0.1:9/main\nSuites: stable stable-updates\nComponents: main\n\nTypes: deb\nURIs: http://127.0.0.1:9/sec/\nSuites: stable-security\nComponents: main\n"
	root := aptRoot(t, deb822, "")
	for _, c := range []struct {
		o    MirrorOptions
		want string
	}{
		{MirrorOptions{AptRoot: root}, "http://127.0.0.1:9/sec"},
		{MirrorOptions{AptRoot: root, Env: "http://127.0.0.1:9/env/"}, "http://127.0.0.1:9/env"},
		{MirrorOptions{AptRoot: root, Env: "http://127.0.0.1:9/env", Spec: "http://127.0.0.1:9/spec"}, "http://127.0.0.1:9/spec"},
		{MirrorOptions{AptRoot: aptRoot(t, "", "deb http://127.0.0.1:9/main stable main\n")}, ""},
	} {
		got, err := FindSecurityMirror("stable-security", c.o)
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.o, got, err, c.want)
		}
	}
	// Another suite's security source serves this suite too (issue 13
	// item 17): one security archive holds every release. An entry that
	// names the suite itself still wins.
	other := aptRoot(t, "Types: deb\nURIs: http://127.0.0.1:9/main\nSuites: bookworm\nComponents: main\n\nTypes: deb\nURIs: http://127.0.0.1:9/sec/\nSuites: bookworm-security\nComponents: main\n",
		"deb http://127.0.0.1:9/sec-trixie trixie-security main\n")
	for suite, want := range map[string]string{"bookworm-security": "http://127.0.0.1:9/sec", "trixie-security": "http://127.0.0.1:9/sec-trixie", "forky-security": "http://127.0.0.1:9/sec"} {
		if got, err := FindSecurityMirror(suite, MirrorOptions{AptRoot: other, AnySecuritySuite: true}); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", suite, got, err, want)
		}
	}
	// With a main mirror of the spec's or the environment's, only an
	// entry naming the suite counts: the host's security archive belongs
	// with the host's main archive.
	if got, _ := FindSecurityMirror("forky-security", MirrorOptions{AptRoot: other}); got != "" {
		t.Errorf("another suite's security source without AnySecuritySuite: %q", got)
	}
	oldStyle := aptRoot(t, "", "deb http://127.0.0.1:9/main buster main\ndeb http://127.0.0.1:9/old-sec buster/updates main\n")
	if got, _ := FindSecurityMirror("bookworm-security", MirrorOptions{AptRoot: oldStyle, AnySecuritySuite: true}); got != "http://127.0.0.1:9/old-sec" {
		t.Errorf("old-style security source: %q", got)
	}
	// The updates suite: the entry naming it, else the main mirror.
	if m, _ := updatesMirror("stable-updates", "http://127.0.0.1:9/x", MirrorOptions{AptRoot: root}); m != "http://127.0.0.1:9/main" {
		t.Errorf("updates mirror %q", m)
	}
	if m, _ := updatesMirror("stable-updates", "http://127.0.0.1:9/x", MirrorOptions{AptRoot: filepath.Join(t.TempDir(), "none")}); m != "http://127.0.0.1:9/x" {
		t.Errorf("updates mirror without an entry %q", m)
	}
	if m, _ := updatesMirror("stable-updates", "http://127.0.0.1:9/spec", MirrorOptions{AptRoot: root, Spec: "http://127.0.0.1:9/spec"}); m != "http://127.0.0.1:9/spec" {
		t.Errorf("updates mirror with debian.mirror %q", m)
	}
}
