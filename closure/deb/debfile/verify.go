package debfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CacheKind is the cache.Trees kind of unpacked .debs.
const CacheKind = cacheKind

// Verify checks an unpacked .deb cache entry (the folder of
// KIND/SHA256-vN): its manifest is for that .deb and every regular file
// under its root has the size and sha256 the manifest recorded when the
// .deb was unpacked. A key of another unpacker version is skipped (it is
// not read by this strata).
func Verify(dir, key string) (checked bool, err error) {
	sha, ok := strings.CutSuffix(key, cacheVersion)
	if !ok {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return true, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return true, fmt.Errorf("reading %s: %w", manifestName, err)
	}
	if m.Format != manifestForm || m.SHA256 != sha {
		return true, fmt.Errorf("%s has format %q for %s, expected %q for %s", manifestName, m.Format, m.SHA256, manifestForm, sha)
	}
	root := filepath.Join(dir, rootDirName)
	for _, e := range m.Entries {
		if e.Type != "file" || !validPath(e.Path) {
			continue
		}
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(e.Path)))
		if err != nil {
			return true, fmt.Errorf("%s: %w", e.Path, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return true, fmt.Errorf("%s: %w", e.Path, err)
		}
		if n != e.Size {
			return true, fmt.Errorf("%s is %d bytes, the manifest says %d", e.Path, n, e.Size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); e.SHA256 != "" && got != e.SHA256 {
			return true, fmt.Errorf("%s has sha256 %s, the manifest says %s", e.Path, got, e.SHA256)
		}
	}
	return true, nil
}
