package nix

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// makeTinyTree writes a small tree exercising every NAR node type: files
// with and without the executable bit, an empty file, a symlink, an empty
// folder, and names whose bytewise order differs from a case-folded one.
func makeTinyTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "tree")
	files := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{"a.txt", "hello\n", 0o644},
		{"B.txt", "upper case sorts first\n", 0o600},
		{"bin/run", "#!/bin/sh\necho run\n", 0o755},
		{"empty", "", 0o444},
		{"nested/deeper/seven", "1234567", 0o644},
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a.txt", filepath.Join(root, "bin", "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

// The golden values were computed with Nix 2.8: `nix hash path --base32
// tree`, `nix-store --dump tree | wc -c` and `nix-store --dump tree | sha256sum`.
const (
	tinyTreeNarHash = "sha256:05ffi9ddkrdxgzg86xq45a451zrzfwd32y81r4zlrnn3w4pbvv7z"
	tinyTreeNarSize = 1976
)

func TestNARHashTinyTreeGolden(t *testing.T) {
	root := makeTinyTree(t)
	h, n, err := NARHash(root)
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != tinyTreeNarHash || n != tinyTreeNarSize {
		t.Errorf("NARHash(tiny tree) = %s, %d bytes; want %s, %d bytes", h, n, tinyTreeNarHash, tinyTreeNarSize)
	}
	var buf bytes.Buffer
	w, err := WriteNAR(&buf, root)
	if err != nil {
		t.Fatal(err)
	}
	if w != int64(buf.Len()) || w != n {
		t.Errorf("WriteNAR reported %d bytes, wrote %d, NARHash counted %d", w, buf.Len(), n)
	}
	if sum := sha256.Sum256(buf.Bytes()); hex.EncodeToString(sum[:]) != hex.EncodeToString(h[:]) {
		t.Errorf("sha256 of WriteNAR output %x differs from NARHash %x", sum, h[:])
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\x0d\x00\x00\x00\x00\x00\x00\x00nix-archive-1\x00\x00\x00")) {
		t.Errorf("NAR does not start with the padded magic string: %q", buf.Bytes()[:24])
	}
	if buf.Len()%8 != 0 {
		t.Errorf("NAR length %d is not a multiple of 8", buf.Len())
	}
}

func TestNARIgnoresNonExecPermissionsAndTimes(t *testing.T) {
	root := makeTinyTree(t)
	h1, _, err := NARHash(root)
	if err != nil {
		t.Fatal(err)
	}
	// Group/other bits and the write bit are not part of a NAR.
	if err := os.Chmod(filepath.Join(root, "a.txt"), 0o400); err != nil {
		t.Fatal(err)
	}
	h2, _, err := NARHash(root)
	if err != nil {
		t.Fatal(err)
	}
	if h1 != h2 {
		t.Errorf("changing non-executable permission bits changed the NAR hash")
	}
	// The owner's executable bit is.
	if err := os.Chmod(filepath.Join(root, "a.txt"), 0o500); err != nil {
		t.Fatal(err)
	}
	h3, _, err := NARHash(root)
	if err != nil {
		t.Fatal(err)
	}
	if h3 == h1 {
		t.Errorf("setting the executable bit did not change the NAR hash")
	}
}

func TestNARRejectsSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := mkfifo(filepath.Join(root, "fifo")); err != nil {
		t.Skipf("cannot make a fifo here: %v", err)
	}
	if _, _, err := NARHash(root); err == nil {
		t.Fatal("NARHash accepted a fifo")
	}
}
