package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stratabuild/strata/internal/testutil"
)

// Issue 14 deliverable 5: each package's dpkg status.d record travels in
// the package's own layer, so syft on any single layer finds exactly that
// layer's packages (per-layer scanners), and the generated layer holds
// none.
func TestDebianSyftPerLayer(t *testing.T) {
	syft := testutil.RequireTool(t, "syft")
	tarPath := filepath.Join(t.TempDir(), "hello.tar")
	out := MustRun(t, nil, "build", copyExample(t, "hello"), "--cache", t.TempDir(), "-o", tarPath, "--json")
	var res struct {
		Layers []struct {
			DiffID string   `json:"diffID"`
			Nodes  []string `json:"nodes"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out.Stdout), &res); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(res.Layers) {
		t.Fatalf("%d layers, --json lists %d", len(layers), len(res.Layers))
	}
	for i, l := range layers {
		var want []string
		for _, n := range res.Layers[i].Nodes {
			if name, ok := strings.CutPrefix(n, "deb:"); ok {
				want = append(want, strings.Split(name, ":")[0])
			}
		}
		sort.Strings(want)
		dir := t.TempDir()
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		extract(t, rc, dir)
		rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, syft, "dir:"+dir, "-o", "json", "-q")
		cmd.Env = append(os.Environ(), "SYFT_CHECK_FOR_APP_UPDATE=false")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("syft on layer %d: %v\n%s", i, err, stderr.String())
		}
		var doc struct {
			Artifacts []struct{ Name, Type string }
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range doc.Artifacts {
			if a.Type == "deb" {
				got = append(got, a.Name)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("layer %d (%v): syft finds %v, want %v", i, res.Layers[i].Nodes, got, want)
		}
	}
}

// extract writes a layer's regular files, folders and symlinks under dir
// (enough for a scanner to read it).
func extract(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Name)))
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.Symlink(h.Linkname, p)
		}
	}
}
