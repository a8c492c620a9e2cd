package deb

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stratabuild/strata/spec"
)

// envOf is an environment holding only the given key=value pairs.
func envOf(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// TestValidUntil: a Release past its Valid-Until, or with one that is not
// a date, is refused with the opt-out named; the opt-out accepts it with a
// warning; a Release valid until later passes.
func TestValidUntil(t *testing.T) {
	// The request's clock, not the machine's: mid-2026.
	now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		validUntil string
		want       string // "" for accepted
	}{
		{"Thu, 01 Jan 2026 00:00:00 UTC", "the Release has expired: it was valid until Thu, 01 Jan 2026 00:00:00 UTC"},
		{"next week", `the Release has expired: its Valid-Until "next week" is not a date`},
		{"Sat, 01 Jan 2050 00:00:00 UTC", ""},
		{"Sat, 1 Jan 2050 00:00:00 +0000", ""},
	} {
		a := newTestArchive(t, standardPackages())
		a.releaseExtra = "Valid-Until: " + c.validUntil + "\n"
		a.publish(t, standardPackages(), true)
		req := amd64Request(nil)
		req.Env.Now = now
		_, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), req)
		if c.want == "" {
			if err != nil {
				t.Errorf("Valid-Until %s: %v", c.validUntil, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrExpired) {
			t.Fatalf("Valid-Until %s accepted (%v)", c.validUntil, err)
		}
		for _, w := range []string{a.srv.URL + "/dists/testing/InRelease", c.want, "refusing it", "--allow-expired-release", AllowExpiredReleaseEnv + "=1"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		var log bytes.Buffer
		req = amd64Request(&log)
		req.Env.Getenv, req.Env.Now = envOf(AllowExpiredReleaseEnv, "1"), now
		if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), req); err != nil {
			t.Errorf("Valid-Until %s with the opt-out: %v", c.validUntil, err)
		}
		if !strings.Contains(log.String(), c.want) || !strings.Contains(log.String(), "accepted: --allow-expired-release") {
			t.Errorf("no warning in %q", log.String())
		}
	}
	// The clock is the request's.
	a := newTestArchive(t, standardPackages())
	a.releaseExtra = "Valid-Until: Sat, 01 Jan 2050 00:00:00 UTC\n"
	a.publish(t, standardPackages(), true)
	req := amd64Request(nil)
	req.Env.Now = func() time.Time { return time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC) }
	if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), req); !errors.Is(err, ErrExpired) {
		t.Errorf("a Release valid until 2050 read in 2051: %v", err)
	}
}

// TestReleaseDowngrade: a signed Release dated before the one strata.lock
// records is refused on lock --update (the lock given as Previous) and on
// a re-resolution of a lock that no longer fits, unless allowed; a newer
// one passes.
func TestReleaseDowngrade(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	a.date = "Mon, 01 Jun 2026 00:00:00 UTC"
	a.publish(t, standardPackages(), true)
	l, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := l.Marshal()
	if l.ReleaseDate != a.date || len(l.Releases) != 1 || l.Releases[0].Date != a.date {
		t.Fatalf("the lock records %q %+v, want the Release Date %q", l.ReleaseDate, l.Releases, a.date)
	}

	a.date = "Thu, 01 Jan 2026 00:00:00 UTC" // the older Release, replayed
	a.publish(t, standardPackages(), true)
	update := amd64Request(nil)
	update.Update, update.Previous = true, raw
	refit := amd64Request(nil)
	refit.Locked = raw
	for name, req := range map[string]func() (*Lock, error){
		"lock --update": func() (*Lock, error) {
			return New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), update)
		},
		"a lock that no longer fits": func() (*Lock, error) {
			return New(a.spec("lynx"), testStore(t)).ResolveLock(context.Background(), refit)
		},
	} {
		_, err := req()
		if !errors.Is(err, ErrDowngrade) {
			t.Fatalf("%s: an older Release accepted (%v)", name, err)
		}
		for _, w := range []string{"testing is dated Thu, 01 Jan 2026 00:00:00 UTC, strata.lock records Mon, 01 Jun 2026 00:00:00 UTC", "refusing it", "strata lock --update --allow-downgrade"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", name, err, w)
			}
		}
	}
	var log bytes.Buffer
	allowed := amd64Request(&log)
	allowed.Update, allowed.Previous = true, raw
	allowed.Env.Getenv = envOf(AllowDowngradeEnv, "1")
	l2, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), allowed)
	if err != nil {
		t.Fatalf("the downgrade allowed: %v", err)
	}
	if l2.ReleaseDate != a.date || !strings.Contains(log.String(), "accepting an older signed Release than strata.lock records (--allow-downgrade)") {
		t.Errorf("lock date %q, log %q", l2.ReleaseDate, log.String())
	}

	// A newer Release, and a lock of another suite, pass.
	a.date = "Tue, 01 Dec 2026 00:00:00 UTC"
	a.publish(t, standardPackages(), true)
	if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), update); err != nil {
		t.Errorf("a newer Release: %v", err)
	}
	var other Lock
	json.Unmarshal(raw, &other)
	other.Suite, other.Releases = "elsewhere", nil
	other.ReleaseDate = "Sat, 01 Jan 2050 00:00:00 UTC"
	oraw, _ := other.Marshal()
	update.Previous = oraw
	if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), update); err != nil {
		t.Errorf("a lock of another suite: %v", err)
	}
}

// TestReleaseDowngradeWithheldSuite: a mirror answering 404 for an update
// suite strata.lock records (here testing-security, which gave hello its
// fix) is refused like an older Release, unless allowed; turning
// debian.updates off on purpose is not a downgrade.
func TestReleaseDowngradeWithheldSuite(t *testing.T) {
	a := updatesArchive(t)
	secURL := a.srv.URL + "/security"
	sec := func(d *spec.Debian) { d.SecurityMirror = secURL }
	l, err := updatesSource(t, a, sec).ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := l.Marshal()
	a.mu.Lock()
	delete(a.files, "security/dists/testing-security/InRelease")
	a.mu.Unlock()
	update := amd64Request(nil)
	update.Update, update.Previous = true, raw
	_, err = updatesSource(t, a, sec).ResolveLock(context.Background(), update)
	if !errors.Is(err, ErrDowngrade) {
		t.Fatalf("a withheld security suite accepted (%v)", err)
	}
	for _, w := range []string{"testing-security was not read", "strata lock --update --allow-downgrade"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	// A lock that no longer fits (another package asked for) is held to
	// it too, and so is lock --verify.
	refit := amd64Request(nil)
	refit.Locked = raw
	if _, err := updatesSource(t, a, func(d *spec.Debian) { sec(d); d.Packages = []string{"hello"} }).ResolveLock(context.Background(), refit); !errors.Is(err, ErrDowngrade) {
		t.Errorf("re-resolution with a withheld security suite: %v", err)
	}
	if _, err := updatesSource(t, a, sec).VerifyLock(context.Background(), refit); !errors.Is(err, ErrDowngrade) {
		t.Errorf("lock --verify with a withheld security suite: %v", err)
	}
	allowed := update
	allowed.Env.Getenv = envOf(AllowDowngradeEnv, "1")
	l2, err := updatesSource(t, a, sec).ResolveLock(context.Background(), allowed)
	if err != nil {
		t.Fatalf("the downgrade allowed: %v", err)
	}
	if got := lockSummary(l2); !strings.Contains(got, "hello=2.10-3@testing ") {
		t.Errorf("allowed lock %s", got)
	}
	if _, err := updatesSource(t, a, func(d *spec.Debian) { sec(d); d.Updates = ptr(false) }).ResolveLock(context.Background(), refit); err != nil {
		t.Errorf("debian.updates: false on purpose: %v", err)
	}
}

// TestWeakSignatureHash: an InRelease signed over a SHA-1 digest by a
// trusted key is refused, as apt does.
func TestWeakSignatureHash(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	a.signConfig = &packet.Config{DefaultHash: crypto.SHA1}
	a.publish(t, standardPackages(), true)
	if !bytes.Contains(a.get("dists/testing/InRelease"), []byte("Hash: SHA1")) {
		t.Fatalf("the test InRelease is not signed with SHA-1:\n%s", a.get("dists/testing/InRelease"))
	}
	_, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), amd64Request(nil))
	if err == nil {
		t.Fatal("a SHA-1 signature was accepted")
	}
	for _, w := range []string{a.srv.URL + "/dists/testing/InRelease is signed with a SHA-1 digest", "refusing it", "SHA-256 or stronger"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	a.signConfig = &packet.Config{DefaultHash: crypto.SHA512}
	a.publish(t, standardPackages(), true)
	if _, err := New(a.spec("hello"), testStore(t)).ResolveLock(context.Background(), amd64Request(nil)); err != nil {
		t.Errorf("a SHA-512 signature: %v", err)
	}
}

// TestVerifyLock: a lock as resolved passes; a hand-edited one (a changed
// sha256, a made-up package, a version the index does not have) fails
// naming each edited entry and no other.
func TestVerifyLock(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	src := New(a.spec("app"), testStore(t))
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := l.Marshal()
	req := amd64Request(nil)
	req.Locked = raw
	n, err := src.VerifyLock(context.Background(), req)
	if err != nil || n != len(l.Packages) {
		t.Fatalf("the lock as resolved: %d entries, %v", n, err)
	}
	older := *l // written before installed sizes were recorded
	older.Packages = append([]LockedPackage(nil), l.Packages...)
	for i := range older.Packages {
		older.Packages[i].InstalledSize = nil
	}
	raw, _ = older.Marshal()
	req.Locked = raw
	if _, err := src.VerifyLock(context.Background(), req); err != nil {
		t.Fatalf("a lock without installed sizes: %v", err)
	}

	edited := *l
	edited.Packages = append([]LockedPackage(nil), l.Packages...)
	for i := range edited.Packages {
		p := &edited.Packages[i]
		switch p.Name {
		case "libc6":
			p.SHA256 = strings.Repeat("ab", 32)
		case "lynx":
			p.Version = "2.9-1+evil"
		case "hello":
			big := int64(99999)
			p.InstalledSize = &big
		}
	}
	edited.Packages = append(edited.Packages, LockedPackage{Name: "backdoor", Version: "1.0", Arch: "amd64", Filename: "pool/main/b/backdoor_1.0_amd64.deb", Size: 10, SHA256: strings.Repeat("cd", 32)})
	raw, _ = edited.Marshal()
	req.Locked = raw
	_, err = src.VerifyLock(context.Background(), req)
	if !errors.Is(err, ErrLockNotSigned) {
		t.Fatalf("a hand-edited lock passed (%v)", err)
	}
	for _, w := range []string{
		"4 of 6 debian entries for linux/amd64 are not in a signed index of testing",
		"(installed size: the lock says 99999 KiB, the index 1 KiB)",
		"libc6 2.36-9 (amd64): the lock says pool/main/libc6/libc6_2.36-9_amd64.deb", "sha256 " + strings.Repeat("ab", 32) + "; the signed index of testing says", "sha256 " + a.debs["libc6"],
		"lynx 2.9-1+evil (amd64): no such package version in the signed index of testing",
		"backdoor 1.0 (amd64): no such package version in the signed index of testing",
		"strata lock --update",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	for _, name := range []string{"libgcc-s1", "app "} {
		if strings.Contains(err.Error(), "\n  "+name) {
			t.Errorf("the error names %s, which the lock pins correctly: %v", name, err)
		}
	}
}

// TestVerifyLockResolution: a lock whose every entry is in a signed index
// still fails lock --verify when it is not what the spec resolves to: the
// security fix of hello swapped for the older signed hello of the main
// suite, an unrequested signed package added, a needed one removed, or
// the spec asking for other packages.
func TestVerifyLockResolution(t *testing.T) {
	a := updatesArchive(t)
	sec := func(d *spec.Debian) { d.SecurityMirror = a.srv.URL + "/security" }
	src := updatesSource(t, a, sec)
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	// The main suite's own entries for hello and bash, as signed.
	main, err := updatesSource(t, a, func(d *spec.Debian) { d.Updates = ptr(false); d.Packages = []string{"app", "bash"} }).ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	entry := func(name string) LockedPackage {
		for _, p := range main.Packages {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no %s in %s", name, lockSummary(main))
		return LockedPackage{}
	}
	verify := func(l *Lock, s *Source) error {
		raw, _ := l.Marshal()
		req := amd64Request(nil)
		req.Locked = raw
		_, err := s.VerifyLock(context.Background(), req)
		return err
	}
	if err := verify(l, src); err != nil {
		t.Fatalf("the lock as resolved: %v", err)
	}
	edit := func(f func(ps []LockedPackage) []LockedPackage) *Lock {
		e := *l
		e.Packages = f(append([]LockedPackage(nil), l.Packages...))
		return &e
	}
	for _, c := range []struct {
		name string
		lock *Lock
		src  *Source
		want []string
	}{
		{"security fix rolled back", edit(func(ps []LockedPackage) []LockedPackage {
			for i := range ps {
				if ps[i].Name == "hello" {
					ps[i] = entry("hello")
					ps[i].Root = false
				}
			}
			return ps
		}), src, []string{"hello 2.10-3 (amd64): older than 2.10-3+deb1u1 in testing-security"}},
		{"unrequested signed package added", edit(func(ps []LockedPackage) []LockedPackage {
			return append(ps, entry("bash"))
		}), src, []string{"bash 5.2-15 (amd64): the spec's packages do not need it"}},
		{"needed package removed", edit(func(ps []LockedPackage) []LockedPackage {
			return slices.DeleteFunc(ps, func(p LockedPackage) bool { return p.Name == "lynx" })
		}), src, []string{"lynx 2.9-1 (amd64): the spec's packages need it and the lock lacks it"}},
		{"spec asks for other packages", l, updatesSource(t, a, func(d *spec.Debian) { sec(d); d.Packages = []string{"hello"} }), []string{"strata.lock has packages [app], the spec asks for [hello]"}},
	} {
		err := verify(c.lock, c.src)
		if !errors.Is(err, ErrLockNotSigned) {
			t.Errorf("%s: lock --verify passed (%v)", c.name, err)
			continue
		}
		for _, w := range append(c.want, "strata lock") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
	}
}

// TestVerifyLockDamagedIndex: a cached index whose package records no
// longer decode does not make lock --verify call a good lock unsigned (the
// damage is the cache's, not the lock's): the index is read again from the
// archive, the lock passes, and a warning names the damage.
func TestVerifyLockDamagedIndex(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	dir := t.TempDir()
	src := New(a.spec("app"), testStoreAt(t, dir))
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Base(filepath.Dir(p)) != indexCacheKind {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		d, err := openDiskIndex(b, "")
		if err != nil {
			return err
		}
		for k := range d.npkg {
			// the first field's length, a uvarint: now about 2 MB
			off, _ := d.recordBounds(k)
			b[off], b[off+1], b[off+2] = 0xff, 0xff, 0x7f
		}
		damaged++
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o444)
	})
	if err != nil || damaged == 0 {
		t.Fatalf("damaging the cached index: %d entries, %v", damaged, err)
	}
	raw, _ := l.Marshal()
	var log bytes.Buffer
	req := amd64Request(&log)
	req.Locked = raw
	n, err := src.VerifyLock(context.Background(), req)
	if err != nil || n != len(l.Packages) {
		t.Fatalf("a good lock over a damaged cached index: %d entries, %v", n, err)
	}
	if !strings.Contains(log.String(), "the cached package index is damaged") || !strings.Contains(log.String(), "reading the index again") {
		t.Errorf("no warning names the damage:\n%s", log.String())
	}
}
