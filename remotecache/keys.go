package remotecache

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/stratabuild/strata/internal/atomicfile"
)

// Keys are written as Nix writes its binary-cache keys: one line
// "NAME:BASE64", the private key's 64 bytes in NAME.key, the public key's
// 32 bytes in NAME.pub. The name travels with each signature so that a
// reader knows which trusted key to check it with.

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// SignKey is a named private key that signs entries written to a remote
// cache.
type SignKey struct {
	Name string
	Key  ed25519.PrivateKey
}

// TrustKey is a named public key whose signatures are accepted.
type TrustKey struct {
	Name string
	Key  ed25519.PublicKey
}

// Keygen writes a new key pair as base.key (mode 0600) and base.pub, named
// after base's file name; it refuses to overwrite either.
func Keygen(base string) (pubPath, keyPath string, err error) {
	name := base[strings.LastIndex(base, "/")+1:]
	if !keyName.MatchString(name) {
		return "", "", fmt.Errorf("key name %q: use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generating a key: %w", err)
	}
	keyPath, pubPath = base+".key", base+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s exists: strata cache keygen never overwrites a key; remove it or choose another name", p)
		}
	}
	write := func(p, line string, mode os.FileMode) error {
		if err := atomicfile.WriteFile(p, []byte(line+"\n"), atomicfile.WithMode(mode)); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		return nil
	}
	if err := write(keyPath, name+":"+base64.StdEncoding.EncodeToString(priv), 0o600); err != nil {
		return "", "", err
	}
	if err := write(pubPath, name+":"+base64.StdEncoding.EncodeToString(pub), 0o644); err != nil {
		return "", "", err
	}
	return pubPath, keyPath, nil
}

func readKeyFile(path string, size int) (string, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("reading key %s: %w", path, err)
	}
	name, enc, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	raw, derr := base64.StdEncoding.DecodeString(enc)
	if !ok || !keyName.MatchString(name) || derr != nil || len(raw) != size {
		return "", nil, fmt.Errorf("reading key %s: not a strata cache key (one line NAME:BASE64 of %d bytes, as `strata cache keygen NAME` writes)", path, size)
	}
	return name, raw, nil
}

// LoadSignKey reads a NAME.key file.
func LoadSignKey(path string) (*SignKey, error) {
	name, raw, err := readKeyFile(path, ed25519.PrivateKeySize)
	if err != nil {
		return nil, fmt.Errorf("%w (--cache-sign-key takes the .key file)", err)
	}
	return &SignKey{Name: name, Key: ed25519.PrivateKey(raw)}, nil
}

// LoadTrustKey reads a NAME.pub file.
func LoadTrustKey(path string) (TrustKey, error) {
	name, raw, err := readKeyFile(path, ed25519.PublicKeySize)
	if err != nil {
		return TrustKey{}, fmt.Errorf("%w (--cache-trust takes the .pub file)", err)
	}
	return TrustKey{Name: name, Key: ed25519.PublicKey(raw)}, nil
}
