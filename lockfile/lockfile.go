package lockfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/stratabuild/strata/internal/atomicfile"
)

// Version is the current lock format version.
const Version = 1

// Name is the lock file's name, next to the spec.
const Name = "strata.lock"

// File is the content of strata.lock.
type File struct {
	Version int `json:"version"`
	// InputsHash is the hash of the spec's inputs at lock time
	// (see build.InputsHash); --frozen fails when it differs.
	InputsHash string `json:"inputsHash"`
	// Sources maps a source name ("debian", "nix", "base") to its sections
	// by platform ("linux/amd64"). Go's encoding/json sorts map keys, so the
	// output order is stable.
	Sources map[string]map[string]json.RawMessage `json:"sources"`
}

// Section returns the raw section for a source and platform (nil if none).
func (f *File) Section(source, platform string) json.RawMessage {
	if f == nil || f.Sources == nil {
		return nil
	}
	return f.Sources[source][platform]
}

// Set stores a section.
func (f *File) Set(source, platform string, raw json.RawMessage) {
	if f.Sources == nil {
		f.Sources = map[string]map[string]json.RawMessage{}
	}
	if f.Sources[source] == nil {
		f.Sources[source] = map[string]json.RawMessage{}
	}
	f.Sources[source][platform] = raw
}

// Read loads a lock; a missing file returns (nil, nil).
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, &UnreadableError{Path: path, Err: err}
	}
	if f.Version != Version {
		return nil, &UnreadableError{Path: path, Version: f.Version}
	}
	return &f, nil
}

// UnreadableError is a lock this strata cannot use: damaged (Err set) or
// written in another format version. `strata lock --update` replaces it
// (build.Resolve branches on it with errors.As).
type UnreadableError struct {
	Path string
	// Version is the lock's format version when it parsed.
	Version int
	// Err is why it did not parse.
	Err error
}

// What says what is wrong with the lock, without its path: "it is not a
// readable lock (…)", "it has lock format version 2, …".
func (e *UnreadableError) What() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("it is not a readable lock (%v)", e.Err)
	case e.Version > Version:
		return fmt.Sprintf("it has lock format version %d, written by a newer strata (this one reads version %d)", e.Version, Version)
	}
	return fmt.Sprintf("it has lock format version %d, this strata reads version %d", e.Version, Version)
}

func (e *UnreadableError) Error() string {
	if e.Version > Version {
		return fmt.Sprintf("%s: %s: use the newer strata, or run `strata lock --update` to replace it with a version %d lock (every input is resolved again)", e.Path, e.What(), Version)
	}
	return fmt.Sprintf("%s: %s: run `strata lock --update` to replace it (every input is resolved again)", e.Path, e.What())
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// Marshal renders the lock as indented JSON with a final newline; each
// section is re-indented so the file is diff-friendly.
func Marshal(f *File) ([]byte, error) {
	f.Version = Version
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Write saves the lock atomically (temp file, fsync, rename).
func Write(path string, f *File) error {
	b, err := Marshal(f)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, b)
}
