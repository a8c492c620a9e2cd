package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// DefaultMode is the mode a written file gets unless WithMode says otherwise.
const DefaultMode os.FileMode = 0o644

// bufSize is the write buffer handed to write callbacks: large enough that
// tar and gzip writers' small writes do not each become a system call.
const bufSize = 1 << 20

type options struct {
	mode os.FileMode
}

// Option changes how a file is written.
type Option func(*options)

// WithMode sets the written file's permission bits (default DefaultMode).
// The mode is set with chmod, so the umask does not apply.
func WithMode(mode os.FileMode) Option {
	return func(o *options) { o.mode = mode }
}

func collect(opts []Option) options {
	o := options{mode: DefaultMode}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WriteFile writes b to path atomically.
func WriteFile(path string, b []byte, opts ...Option) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}, opts...)
}

// Write writes path atomically with the bytes write produces. An error from
// write is returned as it is (the caller knows what it was doing); errors
// from the file system are wrapped with the target path.
//
// The temp file is named .BASE.tmp-PID-RANDOM beside path. Temp files of
// the same target left by a process that died (SIGKILL, power loss) are
// removed first (RemoveStale), so a rerun leaves only the target.
func Write(path string, write func(io.Writer) error, opts ...Option) error {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+"."
	RemoveStale(dir, prefix, StaleOptions{})
	tmp, err := writeTemp(dir, TempPattern(prefix), path, write, opts)
	if err != nil {
		return err
	}
	if err := Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// WriteTemp writes a complete, fsynced and closed temp file in dir (named
// by pattern, as os.CreateTemp does) and returns its path; the caller
// renames it with Rename or removes it. On error nothing is left behind.
func WriteTemp(dir, pattern string, write func(io.Writer) error, opts ...Option) (string, error) {
	return writeTemp(dir, pattern, "", write, opts)
}

// writeTemp names target in its errors, or the temp file when target is "".
func writeTemp(dir, pattern, target string, write func(io.Writer) error, opts []Option) (string, error) {
	o := collect(opts)
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		if target == "" {
			return "", fmt.Errorf("creating a temp file in %s: %w", dir, err)
		}
		return "", fmt.Errorf("creating %s: %w", target, err)
	}
	name := f.Name()
	if target == "" {
		target = name
	}
	fail := func(err error, wrap bool) (string, error) {
		f.Close()
		os.Remove(name)
		if wrap {
			return "", fmt.Errorf("writing %s: %w", target, err)
		}
		return "", err
	}
	bw := bufio.NewWriterSize(f, bufSize)
	if err := write(bw); err != nil {
		return fail(err, false)
	}
	if err := bw.Flush(); err != nil {
		return fail(err, true)
	}
	if err := f.Chmod(o.mode); err != nil {
		return fail(err, true)
	}
	if err := f.Sync(); err != nil {
		return fail(err, true)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", target, err)
	}
	return name, nil
}

// Rename moves the finished temp file tmp to path and fsyncs path's folder.
// tmp and path must be on the same file system. On error tmp is left for
// the caller to remove.
func Rename(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs a folder so that renames into it are durable. File systems
// that cannot fsync a folder (EINVAL) count as done.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
