package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
)

func touch(t *testing.T, p string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestOwnerPID(t *testing.T) {
	for _, c := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{".out.tmp-123-456", 123, true},
		{".out.tmp-123-", 0, false},
		{".out.tmp--456", 0, false},
		{".out.tmp-0123-456", 0, false},
		{".out.tmp-x-456", 0, false},
		{".out.tmp-99999999999-1", 0, false},
		{".out.tar.tmp-123-456", 0, false},
		{"out", 0, false},
	} {
		pid, ok := OwnerPID(c.name, ".out.")
		if pid != c.pid || ok != c.ok {
			t.Errorf("OwnerPID(%q) = %d, %v; want %d, %v", c.name, pid, ok, c.pid, c.ok)
		}
	}
	p := TempPattern(".out.")
	if want := ".out.tmp-" + strconv.Itoa(os.Getpid()) + "-*"; p != want {
		t.Errorf("TempPattern = %q, want %q", p, want)
	}
}

// A killed writer's temp file beside the target is removed by the next
// Write of that target; a live writer's and other files are kept.
func TestWriteRemovesStaleTempsOfTheTarget(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	dead, live := testutil.DeadPID(t), testutil.LivePID(t)
	deadTemp := ".out.tmp-" + strconv.Itoa(dead) + "-1"
	liveTemp := ".out.tmp-" + strconv.Itoa(live) + "-2"
	recycled := ".out.tmp-" + strconv.Itoa(live) + "-3" // written before the live process started
	otherTarget := ".out.tar.tmp-" + strconv.Itoa(dead) + "-4"
	oldStyle := ".out.tmp-5"
	touch(t, filepath.Join(dir, deadTemp), now)
	touch(t, filepath.Join(dir, liveTemp), now)
	touch(t, filepath.Join(dir, recycled), now.Add(-time.Hour))
	touch(t, filepath.Join(dir, otherTarget), now)
	touch(t, filepath.Join(dir, oldStyle), now)
	if err := WriteFile(filepath.Join(dir, "out"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	got := testutil.DirNames(t, dir)
	want := []string{".out.tar.tmp-" + strconv.Itoa(dead) + "-4", oldStyle, liveTemp, "out"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("folder holds %q, want %q", got, want)
	}
}

func TestRemoveStaleAgeGraceAndAll(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	dead := testutil.DeadPID(t)
	young := "put-tmp-" + strconv.Itoa(dead) + "-1"
	touch(t, filepath.Join(dir, young), now)
	// pid 1 is running and started before now: only age makes it stale.
	initTemp := "put-tmp-1-2"
	touch(t, filepath.Join(dir, initTemp), now)
	sub := filepath.Join(dir, "dir-tmp-"+strconv.Itoa(dead)+"-3")
	os.MkdirAll(filepath.Join(sub, "ro", "x"), 0o755)
	os.Chmod(filepath.Join(sub, "ro"), 0o555)

	got, err := RemoveStale(dir, "put-", StaleOptions{Grace: time.Minute})
	if err != nil || len(got) != 0 {
		t.Fatalf("within the grace removed %q, %v; want nothing", got, err)
	}
	got, _ = RemoveStale(dir, "put-", StaleOptions{Grace: time.Minute, Now: now.Add(2 * time.Minute)})
	if !slices.Equal(got, []string{young}) {
		t.Errorf("after the grace removed %q, want %q", got, young)
	}
	got, _ = RemoveStale(dir, "put-", StaleOptions{Now: now.Add(MaxTempAge + time.Minute)})
	if !slices.Equal(got, []string{initTemp}) {
		t.Errorf("after MaxTempAge removed %q, want %q", got, initTemp)
	}
	got, _ = RemoveStale(dir, "dir-", StaleOptions{All: true})
	if len(got) != 1 {
		t.Errorf("All removed %q, want the read-only folder", got)
	}
	if n := testutil.DirNames(t, dir); len(n) != 0 {
		t.Errorf("left %q", n)
	}
	// Our own temps are never stale (short of MaxTempAge).
	own := "put-tmp-" + strconv.Itoa(os.Getpid()) + "-9"
	touch(t, filepath.Join(dir, own), now.Add(-time.Hour))
	if got, _ := RemoveStale(dir, "put-", StaleOptions{}); len(got) != 0 {
		t.Errorf("removed our own temp %q", got)
	}
}
