package ocilayout

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// placeFile puts the read-only cache blob src at final (in folder dir),
// cheapest first, each through a temp name renamed into place:
//
//  1. a reflink (FICLONE: btrfs, xfs, bcachefs): a copy-on-write clone,
//     a file of its own;
//  2. a hard link: the same read-only file as the cache's (mode 0444,
//     owned by strata's cache; a layout's blobs are content-addressed
//     and never edited in place, and the cache checks a blob's sha256
//     whenever a build reads it, so an edit made anyway is caught and
//     the blob rebuilt);
//  3. a copy (io.Copy between two *os.File: copy_file_range), fsynced,
//     when the layout is on another file system.
func placeFile(src, dir, final, hex string) error {
	tmp := filepath.Join(dir, fmt.Sprintf(".tmp-%s-%d-%d", hex[:12], os.Getpid(), tmpSeq.Add(1)))
	if err := reflink(src, tmp); err == nil {
		return rename(tmp, final)
	}
	if err := os.Link(src, tmp); err == nil {
		return rename(tmp, final)
	}
	return copyFile(src, tmp, final)
}

var tmpSeq atomic.Int64

func rename(tmp, final string) error {
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// reflink clones src into a new file dst, or fails without leaving dst.
func reflink(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return err
	}
	err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// copyFile copies src to tmp (copy_file_range where the kernel can),
// fsyncs it and renames it to final.
func copyFile(src, tmp, final string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
