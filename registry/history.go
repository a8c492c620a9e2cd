package registry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stratabuild/strata/internal/atomicfile"
)

// maxHistoryRepos bounds the repositories remembered per registry.
const maxHistoryRepos = 16

// history records, per registry host, the repositories strata pushed to on
// this machine, most recent first. It is only a hint for blob mounts: a
// missing or unreadable record is an empty one.
type history struct {
	Version    int                 `json:"version"`
	Registries map[string][]string `json:"registries"`
}

func (h history) repos(registry string) []string { return h.Registries[registry] }

func loadHistory(path string) history {
	h := history{Version: 1, Registries: map[string][]string{}}
	if path == "" {
		return h
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	var got history
	if json.Unmarshal(b, &got) != nil || got.Version != 1 || got.Registries == nil {
		return h
	}
	return got
}

// recordPush moves repo to the front of its registry's list and writes the
// record atomically, under an exclusive lock (path + ".lock") so that
// concurrent pushes do not lose each other's entries.
func recordPush(path string, repo name.Repository) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too

	h := loadHistory(path)
	reg := repo.RegistryStr()
	list := slices.DeleteFunc(slices.Clone(h.Registries[reg]), func(s string) bool { return s == repo.RepositoryStr() })
	list = append([]string{repo.RepositoryStr()}, list...)
	if len(list) > maxHistoryRepos {
		list = list[:maxHistoryRepos]
	}
	h.Registries[reg] = list
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
