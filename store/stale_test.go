package store

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
)

func plant(t *testing.T, p string, dir bool, age time.Duration) {
	t.Helper()
	if dir {
		if err := os.MkdirAll(filepath.Join(p, "usr", "ro"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(p, "usr"), 0o555)
	} else if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := time.Now().Add(-age)
	os.Chtimes(p, m, m)
}

func tmpNames(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// A build killed mid-write leaves temp files and folders in cache/tmp; the
// next Open of a cache nobody else uses removes them all.
func TestOpenAloneRemovesEveryLeftover(t *testing.T) {
	root := t.TempDir()
	st, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(testutil.DeadPID(t))
	tmp := filepath.Join(root, "tmp")
	plant(t, filepath.Join(tmp, "put-tmp-"+dead+"-1"), false, 0)
	plant(t, filepath.Join(tmp, "dir-tmp-"+dead+"-2"), true, 0)
	plant(t, filepath.Join(tmp, "blob-123"), false, 0) // an older strata's name
	st.Close()
	st, err = Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n := tmpNames(t, root); len(n) != 0 {
		t.Errorf("cache/tmp holds %q after Open", n)
	}
}

// While another process uses the cache, Open removes only the leftovers of
// dead owners older than TempGrace and keeps what a live process writes.
func TestOpenSharedRemovesOnlyDeadOwners(t *testing.T) {
	root := t.TempDir()
	other, err := Open(root) // holds the cache like a concurrent build
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	dead := strconv.Itoa(testutil.DeadPID(t))
	live := strconv.Itoa(os.Getpid())
	tmp := filepath.Join(root, "tmp")
	plant(t, filepath.Join(tmp, "put-tmp-"+dead+"-1"), false, TempGrace+time.Minute)
	plant(t, filepath.Join(tmp, "dir-tmp-"+dead+"-2"), true, TempGrace+time.Minute)
	plant(t, filepath.Join(tmp, "blob-tmp-"+dead+"-3"), false, 0)
	plant(t, filepath.Join(tmp, "blob-tmp-"+live+"-4"), false, time.Hour)
	st, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := []string{"blob-tmp-" + dead + "-3", "blob-tmp-" + live + "-4"}
	slices.Sort(want)
	if n := tmpNames(t, root); !slices.Equal(n, want) {
		t.Errorf("cache/tmp holds %q, want %q", n, want)
	}
}

// The store's own temp names carry its process id.
func TestTempNamesCarryThePID(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.CreateBlob()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	n := tmpNames(t, st.Root())
	if want := "blob-tmp-" + strconv.Itoa(os.Getpid()) + "-"; len(n) != 1 || len(n[0]) <= len(want) || n[0][:len(want)] != want {
		t.Errorf("temp names %q, want one starting %q", n, want)
	}
	var seen []string
	st.PutDir("k", "x", func(tmp string) error {
		seen = append(seen, filepath.Base(tmp))
		return nil
	})
	if want := "dir-tmp-" + strconv.Itoa(os.Getpid()) + "-"; len(seen) != 1 || len(seen[0]) <= len(want) || seen[0][:len(want)] != want {
		t.Errorf("PutDir temp %q, want one starting %q", seen, want)
	}
}
