package deb

import (
	"bytes"
	"crypto"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Fuzz targets for the parsers of what a mirror or the host hands strata:
// Release/InRelease, Packages, keyrings, apt sources and the lock's debian
// section. Run one with `go test -run NONE -fuzz FuzzParseRelease
// ./closure/deb`, all with scripts/fuzz.sh.

const fuzzRelease = "Origin: Debian\nSuite: stable\nCodename: bookworm\nVersion: 12.5\n" +
	"Date: Sat, 10 Feb 2024 10:00:00 UTC\nValid-Until: Sat, 17 Feb 2024 10:00:00 UTC\n" +
	"Acquire-By-Hash: yes\nArchitectures: amd64 arm64\nComponents: main contrib\n" +
	"SHA256:\n 2a5d1b0d4c0b6f1e9b0c2f5e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a4 1234 main/binary-amd64/Packages.xz\n" +
	" e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n"

// ParseRelease never panics; what it accepts has well-formed checksum
// lines (64 lowercase hex digits, a size that is not negative).
func FuzzParseRelease(f *testing.F) {
	f.Add([]byte(fuzzRelease))
	f.Add([]byte("Suite: x\nSHA256:\n"))
	f.Add([]byte("Suite: x\nSHA256:\n zz 1 a\n"))
	f.Add([]byte("Suite: x\nSHA256:\n 2a5d1b0d4c0b6f1e9b0c2f5e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a4 -1 main/binary-amd64/Packages\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		rel, err := ParseRelease(b)
		if err != nil {
			return
		}
		for p, s := range rel.SHA256 {
			if !isHexSHA256(s.SHA256) {
				t.Errorf("file %q: checksum %q accepted", p, s.SHA256)
			}
			if s.Size < 0 {
				t.Errorf("file %q: size %d accepted", p, s.Size)
			}
			if p == "" || strings.ContainsAny(p, " \t\n") {
				t.Errorf("file name %q accepted", p)
			}
		}
		_ = rel.Expired(time.Unix(0, 0))
	})
}

// fuzzEntity is a signing key made once per process (ed25519: quick).
func fuzzEntity(f *testing.F) *openpgp.Entity {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256, Time: func() time.Time { return time.Unix(1.7e9, 0) }}
	e, err := openpgp.NewEntity("fuzz", "", "fuzz@example.invalid", cfg)
	if err != nil {
		f.Fatal(err)
	}
	return e
}

func clearsigned(f *testing.F, e *openpgp.Entity, text string) []byte {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, e.PrivateKey, &packet.Config{DefaultHash: crypto.SHA256, Time: func() time.Time { return time.Unix(1.7e9, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := w.Write([]byte(text)); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

// VerifyInRelease never panics, refuses what is not clear-signed by the
// keyring, names the key it verified, and reads nothing outside the signed
// part: text put before the armor header or after the signature does not
// change what it returns.
func FuzzVerifyInRelease(f *testing.F) {
	e := fuzzEntity(f)
	keyring := openpgp.EntityList{e}
	fpr := strings.ToUpper(bytesHex(e.PrimaryKey.Fingerprint))
	signed := clearsigned(f, e, fuzzRelease)
	f.Add(signed)
	f.Add(clearsigned(f, e, "Suite: x\n"))
	f.Add([]byte(fuzzRelease))
	f.Add(bytes.Replace(signed, []byte("bookworm"), []byte("bookwurm"), 1))
	f.Add(append([]byte("Suite: evil\n\n"), signed...))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := VerifyInRelease(data, keyring, "fuzz/InRelease", "fuzz.gpg")
		if !bytes.Contains(data, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) && err == nil {
			t.Fatal("an input without a clear-signed message verified")
		}
		if err != nil {
			return
		}
		if rel.Fingerprint != fpr {
			t.Fatalf("fingerprint %s, the keyring's key is %s", rel.Fingerprint, fpr)
		}
		wrapped := append(append([]byte("Suite: evil\nSHA256:\n\n"), data...), "\nSuite: evil\n"...)
		again, err := VerifyInRelease(wrapped, keyring, "fuzz/InRelease", "fuzz.gpg")
		if err != nil {
			t.Fatalf("the same signed message with text around it: %v", err)
		}
		if !reflect.DeepEqual(rel, again) {
			t.Fatalf("text outside the signed part changed the Release: %+v, then %+v", rel, again)
		}
	})
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// ParsePackages never panics, and every package it returns has a name and
// a version.
func FuzzParsePackages(f *testing.F) {
	f.Add([]byte("Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nFilename: pool/main/h/hello/hello_2.10-3_amd64.deb\nSize: 53084\nSHA256: 5c5bb2b4a5a0f1a3b1f0f1e2d3c4b5a6978877665544332211aabbccddeeff00\nDescription: example\n more\n\nPackage: libc6\nVersion: 2.36-9\nArchitecture: amd64\nMulti-Arch: same\nProvides: libc6-x (= 1),\n libc6-y\nEssential: yes\n"))
	f.Add([]byte("Package: a\n\n"))
	f.Add([]byte("Version: 1\nSize: -1\nInstalled-Size: 99999999999999999999\n"))
	f.Add([]byte("Package: a\nVersion: 1\n bad continuation\n"))
	f.Add([]byte(" leading\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := ParsePackages(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, p := range pk {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package %+v has no name or version", p)
			}
			if strings.Contains(p.Name, "\n") || strings.Contains(p.Version, "\n") || strings.Contains(p.Filename, "\n") {
				t.Fatalf("package %+v keeps a newline in a one-line field", p)
			}
		}
	})
}

// parseKeyring never panics; what it reads serializes and reads back to
// the same keys.
func FuzzParseKeyring(f *testing.F) {
	e := fuzzEntity(f)
	var bin bytes.Buffer
	if err := e.Serialize(&bin); err != nil {
		f.Fatal(err)
	}
	var asc bytes.Buffer
	w, err := armor.Encode(&asc, openpgp.PublicKeyType, nil)
	if err != nil {
		f.Fatal(err)
	}
	w.Write(bin.Bytes())
	w.Close()
	f.Add(bin.Bytes())
	f.Add(asc.Bytes())
	f.Add(append(append([]byte{}, asc.Bytes()...), asc.Bytes()...))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte{0x99, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		el, err := parseKeyring(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		for _, e := range el {
			if e.PrimaryKey == nil {
				t.Fatal("an entity without a primary key")
			}
			if err := e.Serialize(&out); err != nil {
				return // not every key read can be written back (unsigned user IDs, ...)
			}
		}
		again, err := parseKeyring(out.Bytes())
		if err != nil && len(el) > 0 {
			t.Fatalf("re-reading %d serialized keys: %v", len(el), err)
		}
		if len(again) != len(el) {
			t.Fatalf("%d keys, then %d after a round trip", len(el), len(again))
		}
		for i := range el {
			if !bytes.Equal(el[i].PrimaryKey.Fingerprint, again[i].PrimaryKey.Fingerprint) {
				t.Fatalf("key %d: fingerprint %x, then %x", i, el[i].PrimaryKey.Fingerprint, again[i].PrimaryKey.Fingerprint)
			}
		}
	})
}

// The apt sources parsers never panic and return only entries with a URI
// (and, in the one-line form, a suite) free of blanks and comments.
func FuzzParseAptSources(f *testing.F) {
	f.Add("deb http://mirror.example.invalid/debian bookworm main contrib\n# deb-src x y z\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example.invalid/d bookworm-updates main\n")
	f.Add("deb [ trusted=yes ] file:/srv/repo ./\ndeb [unclosed x y\ndeb x\n")
	f.Add("Types: deb deb-src\nURIs: http://a.example.invalid/debian http://b.example.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nEnabled: no\nURIs: http://c.example.invalid/\n")
	f.Add("Types: deb\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n xx\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range parseOneLineSources(text) {
			if s.URI == "" || strings.ContainsAny(s.URI, " \t\n#") || len(s.Suites) != 1 || s.Suites[0] == "" {
				t.Fatalf("one-line source %+v", s)
			}
			if strings.HasPrefix(s.URI, "[") {
				t.Fatalf("one-line source %+v: its options were taken for the URI", s)
			}
		}
		srcs, err := parseDeb822Sources(text)
		if err != nil {
			return
		}
		for _, s := range srcs {
			if s.URI == "" || strings.ContainsAny(s.URI, " \t\n") {
				t.Fatalf("deb822 source %+v", s)
			}
		}
	})
}

// ParseLock never panics; what it accepts has safe file names and
// survives Marshal.
func FuzzParseLock(f *testing.F) {
	l := &Lock{Suite: "bookworm", Components: []string{"main"}, Arch: "amd64", Request: []string{"hello"}, ReleaseDate: "Sat, 10 Feb 2024 10:00:00 UTC", KeyFingerprint: "ABCD",
		Packages: []LockedPackage{{Name: "hello", Version: "2.10-3", Arch: "amd64", Filename: "pool/main/h/hello/hello_2.10-3_amd64.deb", Size: 1, SHA256: strings.Repeat("ab", 32), Root: true}}}
	b, err := l.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b))
	f.Add(bytes.Replace(b, []byte("pool/"), []byte("../"), 1))
	f.Add([]byte(`{"suite":"bookworm","arch":"amd64","packages":[{"name":"a","suite":"sid"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := ParseLock(json.RawMessage(raw))
		if err != nil {
			return
		}
		for _, p := range l.Packages {
			if strings.HasPrefix(p.Filename, "/") || strings.Contains("/"+p.Filename+"/", "/../") {
				t.Fatalf("file name %q accepted", p.Filename)
			}
		}
		b, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseLock(b)
		if err != nil {
			t.Fatalf("re-reading the marshalled lock %s: %v", b, err)
		}
		b2, _ := again.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("marshal round trip differs:\n%s\n%s", b, b2)
		}
	})
}
