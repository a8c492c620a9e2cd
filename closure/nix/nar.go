package nix

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// narWriter serializes a file tree in the Nix ARchive format: a sequence
// of length-prefixed strings, each padded with zero bytes to a multiple of
// eight, describing regular files (with their executable bit), symlinks
// and directories whose entries come in bytewise name order. Owners,
// timestamps and other permission bits are not part of a NAR.
type narWriter struct {
	ctx context.Context
	w   *bufio.Writer
	n   int64
	buf []byte
}

var narPadding [8]byte

func (nw *narWriter) write(b []byte) error {
	k, err := nw.w.Write(b)
	nw.n += int64(k)
	return err
}

func (nw *narWriter) uint64(v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return nw.write(b[:])
}

func (nw *narWriter) pad(n uint64) error {
	if r := n % 8; r != 0 {
		return nw.write(narPadding[:8-r])
	}
	return nil
}

func (nw *narWriter) str(s string) error {
	if err := nw.uint64(uint64(len(s))); err != nil {
		return err
	}
	if _, err := nw.w.WriteString(s); err != nil {
		return err
	}
	nw.n += int64(len(s))
	return nw.pad(uint64(len(s)))
}

func (nw *narWriter) strs(ss ...string) error {
	for _, s := range ss {
		if err := nw.str(s); err != nil {
			return err
		}
	}
	return nil
}

// WriteNAR writes the NAR serialization of the file tree at path to w and
// returns the number of bytes written.
func WriteNAR(w io.Writer, path string) (int64, error) {
	return writeNAR(context.Background(), w, path)
}

func writeNAR(ctx context.Context, w io.Writer, path string) (int64, error) {
	nw := &narWriter{ctx: ctx, w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 256<<10)}
	if err := nw.str("nix-archive-1"); err != nil {
		return nw.n, err
	}
	if err := nw.node(path); err != nil {
		return nw.n, err
	}
	return nw.n, nw.w.Flush()
}

// NARHash returns the sha256 of the NAR serialization of path and the
// NAR's size: the narHash and narSize Nix records for a store path.
func NARHash(path string) (Hash, int64, error) {
	return narHash(context.Background(), path)
}

// narHash is NARHash that stops between files when ctx is done.
func narHash(ctx context.Context, path string) (Hash, int64, error) {
	h := sha256.New()
	n, err := writeNAR(ctx, h, path)
	var sum Hash
	if err != nil {
		return sum, n, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

func (nw *narWriter) node(path string) error {
	if err := nw.ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("serializing %s as NAR: %w", path, err)
	}
	if err := nw.str("("); err != nil {
		return err
	}
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		if err := nw.strs("type", "regular"); err != nil {
			return err
		}
		if mode&0o100 != 0 {
			if err := nw.strs("executable", ""); err != nil {
				return err
			}
		}
		if err := nw.str("contents"); err != nil {
			return err
		}
		if err := nw.contents(path, fi.Size()); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("serializing %s as NAR: %w", path, err)
		}
		if err := nw.strs("type", "symlink", "target", target); err != nil {
			return err
		}
	case mode.IsDir():
		if err := nw.strs("type", "directory"); err != nil {
			return err
		}
		names, err := readDirNames(path)
		if err != nil {
			return fmt.Errorf("serializing %s as NAR: %w", path, err)
		}
		for _, name := range names {
			if err := nw.strs("entry", "(", "name", name, "node"); err != nil {
				return err
			}
			if err := nw.node(filepath.Join(path, name)); err != nil {
				return err
			}
			if err := nw.str(")"); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("serializing %s as NAR: %s is neither a regular file, a symlink nor a folder, which a NAR cannot hold", path, mode.Type())
	}
	return nw.str(")")
}

func (nw *narWriter) contents(path string, size int64) error {
	if err := nw.uint64(uint64(size)); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("serializing %s as NAR: %w", path, err)
	}
	defer f.Close()
	copied, err := io.CopyBuffer(struct{ io.Writer }{nw.w}, io.LimitReader(f, size), nw.buf)
	nw.n += copied
	if err != nil {
		return fmt.Errorf("serializing %s as NAR: %w", path, err)
	}
	if copied != size {
		return fmt.Errorf("serializing %s as NAR: it shrank from %d to %d bytes while being read", path, size, copied)
	}
	return nw.pad(uint64(size))
}

// readDirNames lists a folder's entry names in bytewise order, the order
// NAR requires.
func readDirNames(path string) ([]string, error) {
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}
