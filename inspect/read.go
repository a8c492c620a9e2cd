package inspect

import (
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/imagefs"
)

// Entry types as shown in reports (imagefs owns them).
const (
	TypeFile     = imagefs.TypeFile
	TypeDir      = imagefs.TypeDir
	TypeSymlink  = imagefs.TypeSymlink
	TypeHardlink = imagefs.TypeHardlink
	TypeWhiteout = imagefs.TypeWhiteout
	TypeOpaque   = imagefs.TypeOpaque
	TypeOther    = imagefs.TypeOther
)

// FileEntry is one entry of a layer tar (or of a merged filesystem).
type FileEntry = imagefs.Entry

func readLayer(l v1.Layer, withHash bool) ([]FileEntry, error) {
	return imagefs.ReadLayer(l, withHash)
}

func applyLayer(fs map[string]FileEntry, entries []FileEntry) { imagefs.Apply(fs, entries) }

// merge is the image's final filesystem by path.
func merge(img v1.Image, withHash bool) (map[string]FileEntry, error) {
	fs, err := imagefs.Flatten(img, withHash)
	if err != nil {
		return nil, err
	}
	return fs.Entries, nil
}

func sortedPaths[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
