package imageref

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/imageref/imagetest"
)

// Fuzz targets for the local image readers: docker-archive tarballs and
// OCI image layouts, read as strata reads a base image or an image to
// inspect. Run one with `go test -run NONE -fuzz FuzzLoadArchive
// ./imageref`, all with scripts/fuzz.sh.

// fuzzImage is a small two-layer image.
func fuzzImage(f *testing.F) v1.Image {
	img, err := imagetest.Image(imagetest.ImageSpec{OS: "linux", Arch: "amd64", Config: imagetest.SampleConfig(), Layers: []imagetest.LayerSpec{
		{CreatedBy: "a", Files: []imagetest.File{imagetest.Dir("etc"), imagetest.Reg("etc/hostname", "fuzz\n")}},
		{CreatedBy: "b", Files: []imagetest.File{imagetest.Symlink("bin", "usr/bin"), imagetest.Whiteout("etc/hostname")}},
	}})
	if err != nil {
		f.Fatal(err)
	}
	return img
}

// exercise reads what inspect and a base image read: digest, config,
// layers (a bounded part of each). It fails when a read image's digest is
// not the sha256 of its manifest.
func exercise(t *testing.T, r *Ref) {
	t.Helper()
	if r.Index != nil {
		if _, err := Platforms(r.Index); err != nil {
			return
		}
		_, _ = SelectPlatform(r.Index, v1.Platform{OS: "linux", Architecture: "amd64"})
		return
	}
	img := r.Image
	if img == nil {
		t.Fatal("a loaded reference with neither an image nor an index")
	}
	if len(r.RawManifest) == 0 {
		t.Fatal("a loaded image without manifest bytes")
	}
	d, err := img.Digest()
	if err != nil {
		return
	}
	if sum := sha256.Sum256(r.RawManifest); d.Hex != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest %s is not the sha256 of the manifest bytes (%x)", d, sum)
	}
	if _, err := img.ConfigFile(); err != nil {
		return
	}
	layers, err := img.Layers()
	if err != nil {
		return
	}
	for _, l := range layers {
		if _, err := l.Digest(); err != nil {
			return
		}
		if _, err := l.DiffID(); err != nil {
			return
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return
		}
		_, _ = io.CopyN(io.Discard, rc, 1<<20)
		rc.Close()
	}
}

// Reading any bytes as a docker-archive (plain or gzipped) never panics,
// and an image read has a digest that is its manifest's sha256.
func FuzzLoadArchive(f *testing.F) {
	img := fuzzImage(f)
	tag, err := name.NewTag("fuzz.invalid/x:1")
	if err != nil {
		f.Fatal(err)
	}
	var tb bytes.Buffer
	if err := tarball.Write(tag, img, &tb); err != nil {
		f.Fatal(err)
	}
	f.Add(tb.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	f.Add(gz.Bytes())
	f.Add(tb.Bytes()[:len(tb.Bytes())/2])
	f.Add([]byte("not a tar"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "image.tar")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load(ctx, "docker-archive:"+p, Options{})
		if err != nil {
			return
		}
		exercise(t, r)
	})
}

// Reading an OCI layout whose index.json, manifest and config are any
// bytes never panics. In the inputs "@M", "@MS", "@C" and "@CS" stand for
// the manifest's and the config's digest and size, so mutations keep the
// blobs reachable; the layer blobs are the fixed image's.
func FuzzLoadLayout(f *testing.F) {
	img := fuzzImage(f)
	cfg, err := img.RawConfigFile()
	if err != nil {
		f.Fatal(err)
	}
	man, err := img.RawManifest()
	if err != nil {
		f.Fatal(err)
	}
	cd, err := img.ConfigName()
	if err != nil {
		f.Fatal(err)
	}
	manT := bytes.Replace(bytes.Replace(man, []byte(cd.String()), []byte("@C"), 1), []byte(`"size":`+strconv.Itoa(len(cfg))), []byte(`"size":@CS`), 1)
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"@M","size":@MS,"annotations":{"org.opencontainers.image.ref.name":"latest"},"platform":{"os":"linux","architecture":"amd64"}}]}`)
	f.Add(index, manT, cfg)
	f.Add(bytes.Replace(index, []byte(`]}`), []byte(`,{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@M","size":@MS,"platform":{"os":"linux","architecture":"arm64"}}]}`), 1), manT, cfg)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@M","size":@MS}]}`), index, cfg)
	f.Add([]byte(`{"manifests":[]}`), manT, cfg)
	layers, err := img.Layers()
	if err != nil {
		f.Fatal(err)
	}
	blobs := map[string][]byte{}
	for _, l := range layers {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		blobs[d.Hex] = b
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, index, manifest, config []byte) {
		dir := t.TempDir()
		bd := filepath.Join(dir, "blobs", "sha256")
		if err := os.MkdirAll(bd, 0o755); err != nil {
			t.Fatal(err)
		}
		put := func(b []byte) string {
			sum := sha256.Sum256(b)
			h := hex.EncodeToString(sum[:])
			if err := os.WriteFile(filepath.Join(bd, h), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return "sha256:" + h
		}
		for h, b := range blobs {
			if err := os.WriteFile(filepath.Join(bd, h), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cdig := put(config)
		manifest = bytes.ReplaceAll(bytes.ReplaceAll(manifest, []byte("@CS"), []byte(strconv.Itoa(len(config)))), []byte("@C"), []byte(cdig))
		mdig := put(manifest)
		index = bytes.ReplaceAll(bytes.ReplaceAll(index, []byte("@MS"), []byte(strconv.Itoa(len(manifest)))), []byte("@M"), []byte(mdig))
		if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"oci:" + dir, fmt.Sprintf("oci:%s:latest", dir)} {
			for _, plat := range []string{"", "linux/amd64"} {
				r, err := Load(ctx, ref, Options{Platform: plat})
				if err != nil {
					continue
				}
				exercise(t, r)
			}
		}
	})
}
