package deb

import (
	"bytes"
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
	signer, err := block.VerifySignature(keyring, nil)
	if err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return nil, fmt.Errorf("%s is signed by a key that is not in %s: refusing it (set debian.keyring in the spec to the keyring of this archive, or update the host's archive keyring package)", url, keyringPath)
		}
		return nil, fmt.Errorf("%s: signature check against %s failed: %v (the file was altered or the mirror is broken; do not use this mirror, or set debian.mirror to another)", url, keyringPath, err)
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

// Expired reports whether the Release's Valid-Until lies before now; a
// Release without the field never expires. An unparsable field counts as
// expired.
func (r *Release) Expired(now time.Time) bool {
	if r.ValidUntil == "" {
		return false
	}
	t, err := time.Parse(time.RFC1123, strings.Replace(r.ValidUntil, "UTC", "GMT", 1))
	if err != nil {
		t, err = time.Parse(time.RFC1123Z, r.ValidUntil)
	}
	return err != nil || t.Before(now)
}
