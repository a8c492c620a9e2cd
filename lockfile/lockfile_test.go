package lockfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReadStable(t *testing.T) {
	p := filepath.Join(t.TempDir(), Name)
	f := &File{InputsHash: "sha256:x"}
	f.Set("debian", "linux/arm64", json.RawMessage(`{"b":1,"a":[1,2]}`))
	f.Set("debian", "linux/amd64", json.RawMessage(`{"z":true}`))
	f.Set("base", "linux/amd64", json.RawMessage(`{"ref":"r"}`))
	if err := Write(p, f); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(p)
	if err := Write(p, f); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(p)
	if string(first) != string(second) || !strings.HasSuffix(string(first), "\n") {
		t.Fatalf("not stable:\n%s\n%s", first, second)
	}
	// Map keys are sorted: base before debian, amd64 before arm64.
	s := string(first)
	deb := s[strings.Index(s, `"debian"`):]
	if strings.Index(s, `"base"`) > strings.Index(s, `"debian"`) || strings.Index(deb, `"linux/amd64"`) > strings.Index(deb, `"linux/arm64"`) {
		t.Errorf("unsorted:\n%s", s)
	}
	got, err := Read(p)
	if err != nil || string(got.Section("debian", "linux/amd64")) == "" || got.Section("nix", "linux/amd64") != nil {
		t.Fatalf("read back: %v %+v", err, got)
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if f, err := Read(filepath.Join(dir, "none")); f != nil || err != nil {
		t.Errorf("missing lock: %v %v", f, err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("{"), 0o644)
	if _, err := Read(bad); err == nil || !strings.Contains(err.Error(), "strata lock") {
		t.Errorf("corrupt lock: %v", err)
	}
	old := filepath.Join(dir, "old")
	os.WriteFile(old, []byte(`{"version": 0}`), 0o644)
	if _, err := Read(old); err == nil || !strings.Contains(err.Error(), "--update") {
		t.Errorf("old version: %v", err)
	}
	newer := filepath.Join(dir, "newer")
	os.WriteFile(newer, []byte(`{"version": 7}`), 0o644)
	_, err := Read(newer)
	var ue *UnreadableError
	if !errors.As(err, &ue) || ue.Version != 7 || !strings.Contains(err.Error(), "newer strata") || !strings.Contains(err.Error(), "strata lock --update") {
		t.Errorf("newer version: %v", err)
	}
	if _, err := Read(bad); !errors.As(err, &ue) || ue.Err == nil {
		t.Errorf("corrupt lock: %v is not an UnreadableError", err)
	}
}
