package nix

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Hash is a SHA-256 digest, the only NAR hash type strata accepts.
type Hash [sha256.Size]byte

// String renders h as Nix prints narHashes in registrations and in
// `nix-store --query --hash`: "sha256:" + Nix base32.
func (h Hash) String() string { return "sha256:" + EncodeBase32(h[:]) }

// SRI renders h in SRI form, "sha256-" + standard base64, as `nix hash
// path` and newer `nix path-info --json` print it.
func (h Hash) SRI() string { return "sha256-" + base64.StdEncoding.EncodeToString(h[:]) }

// ParseHash reads a SHA-256 hash in any form Nix prints: SRI
// ("sha256-BASE64"), "sha256:" followed by Nix base32, hex or base64, or
// one of those bare.
func ParseHash(s string) (Hash, error) {
	var h Hash
	body := s
	switch {
	case strings.HasPrefix(s, "sha256-"):
		b, err := base64.StdEncoding.DecodeString(s[len("sha256-"):])
		if err != nil || len(b) != len(h) {
			return h, fmt.Errorf("hash %q is not valid SRI sha256", s)
		}
		copy(h[:], b)
		return h, nil
	case strings.HasPrefix(s, "sha256:"):
		body = s[len("sha256:"):]
	case strings.Contains(s, ":") || strings.Contains(s, "-") && !strings.HasPrefix(s, "sha256"):
		return h, fmt.Errorf("hash %q is not sha256: strata checks only sha256 NAR hashes", s)
	}
	var b []byte
	var err error
	switch len(body) {
	case Base32Len(len(h)):
		b, err = DecodeBase32(body, len(h))
	case hex.EncodedLen(len(h)):
		b, err = hex.DecodeString(body)
	case base64.StdEncoding.EncodedLen(len(h)):
		b, err = base64.StdEncoding.DecodeString(body)
	default:
		err = fmt.Errorf("it has %d characters, which fits no sha256 encoding", len(body))
	}
	if err != nil {
		return h, fmt.Errorf("parsing hash %q: %w", s, err)
	}
	copy(h[:], b)
	return h, nil
}
