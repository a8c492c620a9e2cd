package dockerarchive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stratabuild/strata/sink"
)

func TestFileAndStreamAreTheSameArchive(t *testing.T) {
	img, err := random.Image(128, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.tar")
	if _, err := New(p).Write(context.Background(), "x:1", img); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := (&Sink{Path: "-", W: &buf}).Write(context.Background(), "x:1", img); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(p)
	if !bytes.Equal(file, buf.Bytes()) {
		t.Error("file and stdout archives differ")
	}
	back, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if got, _ := back.ConfigName(); got != want {
		t.Errorf("config %s, want %s", got, want)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestIndexIsRefusedAndNothingWritten(t *testing.T) {
	idx, err := random.Index(64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.tar")
	if _, err := New(p).Write(context.Background(), "x:1", idx); !errors.Is(err, sink.ErrMultiPlatform) {
		t.Errorf("index: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("refused write left a file")
	}
}
