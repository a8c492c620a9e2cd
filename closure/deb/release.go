package deb

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/stratabuild/strata/internal/deb822"
)

// Release is the verified content of a suite's InRelease file.
type Release struct {
	Suite    string
	Codename string
	// Version is the release number ("12.5"); sid and testing have none.
	Version string
	// Date is the Release "Date" field as written by the archive.
	Date string
	// ValidUntil is the Release "Valid-Until" field ("" when absent).
	ValidUntil    string
	AcquireByHash bool
	Components    []string
	Architectures []string
	// SHA256 maps a path relative to dists/SUITE ("main/binary-amd64/Packages.xz")
	// to its checksum and size.
	SHA256 map[string]FileSum
	// Fingerprint is the upper-case hex fingerprint of the primary key of
	// the keyring entity whose signature was verified.
	Fingerprint string
}

// FileSum is a checksum line of a Release file.
type FileSum struct {
	SHA256 string
	Size   int64
}

// ReadKeyring loads an OpenPGP keyring file: a binary keyring (.gpg) or an
// ASCII-armored one (.asc); several concatenated armored blocks are read too.
// A folder (like /etc/apt/trusted.gpg.d) loads its *.gpg and *.asc files.
func ReadKeyring(path string) (openpgp.EntityList, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		var all openpgp.EntityList
		files, _ := filepath.Glob(filepath.Join(path, "*.gpg"))
		asc, _ := filepath.Glob(filepath.Join(path, "*.asc"))
		files = append(files, asc...)
		sort.Strings(files)
		for _, f := range files {
			el, err := ReadKeyring(f)
			if err != nil {
				return nil, err
			}
			all = append(all, el...)
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("reading keyring folder %s: no *.gpg or *.asc keyrings in it (set debian.keyring to the archive's keyring file)", path)
		}
		return all, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading keyring %s: %w (install the archive keyring, e.g. the debian-archive-keyring package, or set debian.keyring in the spec)", path, err)
	}
	el, err := parseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("reading keyring %s: %w (debian.keyring must be an OpenPGP public keyring, binary .gpg or armored .asc)", path, err)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("reading keyring %s: no keys in it (debian.keyring must be an OpenPGP public keyring)", path)
	}
	return el, nil
}

func parseKeyring(b []byte) (openpgp.EntityList, error) {
	trimmed := bytes.TrimSpace(b)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		return openpgp.ReadKeyRing(bytes.NewReader(b))
	}
	var all openpgp.EntityList
	r := bytes.NewReader(trimmed)
	for {
		block, err := armor.Decode(r)
		if err != nil {
			if len(all) > 0 {
				return all, nil
			}
			return nil, err
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, el...)
	}
}

// VerifyInRelease checks the clear-signed InRelease data against keyring
// and parses the signed text. url and keyringPath only name things in
// errors. Nothing outside the signed part is ever read.
func VerifyInRelease(data []byte, keyring openpgp.EntityList, url, keyringPath string) (*Release, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s is not an OpenPGP clear-signed file: refusing an unsigned archive (check debian.mirror points at a Debian archive; InRelease must be signed)", url)
	}
	sig, signer, err := openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, nil)
	if err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return nil, fmt.Errorf("%s is signed by a key that is not in %s: refusing it (set debian.keyring in the spec to the keyring of this archive, or update the host's archive keyring package)", url, keyringPath)
		}
		return nil, fmt.Errorf("%s: signature check against %s failed: %v (the file was altered or the mirror is broken; do not use this mirror, or set debian.mirror to another)", url, keyringPath, err)
	}
	if name, weak := weakHashes[sig.Hash]; weak {
		return nil, fmt.Errorf("%s is signed with a %s digest, which apt no longer trusts (a collision lets another text carry the same signature): refusing it (the archive must sign its InRelease with SHA-256 or stronger; use another mirror or archive)", url, name)
	}
	rel, err := ParseRelease(block.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	rel.Fingerprint = strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint))
	return rel, nil
}

// ParseRelease parses the text of a Release file.
func ParseRelease(text []byte) (*Release, error) {
	f, err := deb822.ReadFirst(bytes.NewReader(text))
	if errors.Is(err, deb822.ErrEmpty) {
		return nil, fmt.Errorf("empty Release file")
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the Release file: %w", err)
	}
	rel := &Release{
		Suite:         f.Get("Suite"),
		Codename:      f.Get("Codename"),
		Version:       f.Get("Version"),
		Date:          f.Get("Date"),
		ValidUntil:    f.Get("Valid-Until"),
		AcquireByHash: strings.EqualFold(f.Get("Acquire-By-Hash"), "yes"),
		Components:    strings.Fields(f.Get("Components")),
		Architectures: strings.Fields(f.Get("Architectures")),
		SHA256:        map[string]FileSum{},
	}
	sums, ok := f.Lookup("SHA256")
	if !ok {
		return nil, fmt.Errorf("the Release file has no SHA256 field (the archive is too old or not a Debian archive)")
	}
	for _, line := range strings.Split(sums, "\n") {
		fs := strings.Fields(line)
		if len(fs) != 3 {
			continue
		}
		size, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil || size < 0 || !isHexSHA256(strings.ToLower(fs[0])) {
			return nil, fmt.Errorf("bad SHA256 line %q in the Release file", line)
		}
		rel.SHA256[fs[2]] = FileSum{SHA256: strings.ToLower(fs[0]), Size: size}
	}
	return rel, nil
}

// weakHashes are the signature digests refused, as apt (2.x) does: a
// signature over a SHA-1 digest no longer binds the text.
var weakHashes = map[crypto.Hash]string{
	crypto.MD5:       "MD5",
	crypto.SHA1:      "SHA-1",
	crypto.RIPEMD160: "RIPEMD-160",
}

// Expired reports whether the Release's Valid-Until lies before now; a
// Release without the field never expires. An unparsable field counts as
// expired.
func (r *Release) Expired(now time.Time) bool {
	return r.CheckValid(now) != nil
}

// ErrExpired is wrapped by CheckValid's errors.
var ErrExpired = errors.New("the Release has expired")

// CheckValid returns an error wrapping ErrExpired when the Release's
// Valid-Until lies before now or is not a date; a Release without the
// field never expires.
func (r *Release) CheckValid(now time.Time) error {
	if r.ValidUntil == "" {
		return nil
	}
	t, err := ParseReleaseTime(r.ValidUntil)
	if err != nil {
		return fmt.Errorf("%w: its Valid-Until %q is not a date", ErrExpired, r.ValidUntil)
	}
	if t.Before(now) {
		return fmt.Errorf("%w: it was valid until %s", ErrExpired, r.ValidUntil)
	}
	return nil
}

// ParseReleaseTime reads a Release file's Date or Valid-Until: RFC 1123
// with a zone name (UTC, GMT) or a numeric offset, the day of the month in
// one or two digits.
func ParseReleaseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{
		"Mon, _2 Jan 2006 15:04:05 MST",
		"Mon, _2 Jan 2006 15:04:05 -0700",
		"Mon, 02 Jan 2006 15:04:05 MST",
		"Mon, 02 Jan 2006 15:04:05 -0700",
	} {
		if t, err := time.Parse(layout, strings.Replace(s, " UTC", " GMT", 1)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 1123 date like \"Sat, 10 Jun 2023 09:57:13 UTC\"", s)
}
