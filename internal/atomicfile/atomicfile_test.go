package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesWithMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), WithMode(0o640)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "new" {
		t.Fatalf("read %q %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if err := WriteFile(p, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != DefaultMode {
		t.Errorf("default mode %v, want %v", fi.Mode().Perm(), DefaultMode)
	}
	assertOnly(t, dir, "out")
}

func TestWriteErrorLeavesTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	os.WriteFile(p, []byte("keep"), 0o644)
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom unwrapped", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "keep" {
		t.Errorf("target changed to %q", b)
	}
	assertOnly(t, dir, "out")
}

func TestRenameFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty folder, so the rename fails.
	p := filepath.Join(dir, "out")
	os.MkdirAll(filepath.Join(p, "x"), 0o755)
	err := WriteFile(p, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "writing "+p) {
		t.Fatalf("error %v, want one naming %s", err, p)
	}
	assertOnly(t, dir, "out")
}

func TestMissingFolderNamesTarget(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "out")
	err := WriteFile(p, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

func TestWriteTempThenRename(t *testing.T) {
	tmpDir, dstDir := t.TempDir(), t.TempDir()
	tmp, err := WriteTemp(tmpDir, "put-*", func(w io.Writer) error {
		_, err := io.WriteString(w, "blob")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(tmp) != tmpDir {
		t.Fatalf("temp %s not in %s", tmp, tmpDir)
	}
	dst := filepath.Join(dstDir, "digest")
	if err := Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "blob" {
		t.Errorf("read %q", b)
	}
	assertOnly(t, tmpDir)

	_, err = WriteTemp(tmpDir, "put-*", func(io.Writer) error { return errors.New("short read") })
	if err == nil {
		t.Fatal("error lost")
	}
	assertOnly(t, tmpDir)
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
