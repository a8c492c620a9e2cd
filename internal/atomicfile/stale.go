package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaxTempAge is how old a temp file may grow before it counts as stale
// whatever its owner: a build that writes one file for a day is not
// expected, and a recycled process id must not keep a leftover forever.
const MaxTempAge = 24 * time.Hour

// tempMarker separates a temp name's prefix from its owner's process id:
// PREFIXtmp-PID-RANDOM.
const tempMarker = "tmp-"

// TempPattern is the os.CreateTemp pattern for a temp file or folder of
// this process: prefix, "tmp-", the process id, "-", and the random part.
// RemoveStale recognises such names and reads the owner back from them.
func TempPattern(prefix string) string {
	return prefix + tempMarker + strconv.Itoa(os.Getpid()) + "-*"
}

// OwnerPID returns the process id a temp name made from TempPattern(prefix)
// carries, and false for any other name.
func OwnerPID(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix+tempMarker)
	if !ok {
		return 0, false
	}
	digits, random, ok := strings.Cut(rest, "-")
	if !ok || digits == "" || random == "" || len(digits) > 10 {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != digits {
		return 0, false
	}
	return pid, true
}

// StaleOptions says which temp files RemoveStale may remove.
type StaleOptions struct {
	// All removes every temp name carrying a process id, whatever the
	// owner: for a caller that holds a lock proving no other process
	// writes in the folder (the store does, when it is the cache's only
	// user).
	All bool
	// Grace keeps temp files of owners that are not running but were
	// modified less than Grace ago: a process in another pid namespace
	// (another container sharing the folder) looks dead from here.
	Grace time.Duration
	// Now is the clock (zero: time.Now).
	Now time.Time
}

// RemoveStale removes the temp files and folders in dir named by
// TempPattern(prefix) whose owner is gone: its process id is not running,
// or the process running under that id started after the temp was last
// written (the id was recycled), or the temp is older than MaxTempAge. It
// returns the names it removed. A missing dir is no error; a temp that
// cannot be removed is skipped (another cleaner may have got it first).
func RemoveStale(dir, prefix string, o StaleOptions) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	var removed []string
	for _, e := range ents {
		pid, ok := OwnerPID(e.Name(), prefix)
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if !o.All && !stale(pid, fi.ModTime(), now, o.Grace) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi.IsDir() {
			makeWritable(p)
		}
		if err := os.RemoveAll(p); err == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

// stale reports whether a temp of process pid last modified at mtime has
// no live owner.
func stale(pid int, mtime, now time.Time, grace time.Duration) bool {
	age := now.Sub(mtime)
	if age > MaxTempAge {
		return true
	}
	if pid == os.Getpid() {
		return false
	}
	if Alive(pid, mtime) {
		return false
	}
	return age >= grace
}

// Alive reports whether process pid may be the owner of a temp it last
// wrote at mtime: the process exists and did not start after mtime.
func Alive(pid int, mtime time.Time) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	start, ok := startTime(pid)
	if !ok {
		return true // cannot tell: keep it
	}
	// Start times have clock-tick (10 ms) precision and boot time whole
	// seconds: allow two seconds of slack.
	return !start.After(mtime.Add(2 * time.Second))
}

// startTime reads when process pid started from /proc (Linux).
func startTime(pid int) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after the last ')' start with field 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22: starttime
	if err != nil {
		return time.Time{}, false
	}
	bt, ok := bootTime()
	if !ok {
		return time.Time{}, false
	}
	const hz = 100 // USER_HZ, 100 on every Linux architecture Go supports
	return bt.Add(time.Duration(ticks) * time.Second / hz), true
}

func bootTime() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(s, 0), true
		}
	}
	return time.Time{}, false
}

// makeWritable lets RemoveAll delete trees that hold read-only folders.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
