package registry_test

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/registry/registrytest"
)

// staticLayers are n precompressed random layers of size bytes each, so the
// benchmark measures the push, not gzip.
func staticLayers(b *testing.B, n int, size int64) []v1.Layer {
	var ls []v1.Layer
	for i := range n {
		l, err := random.Layer(size, types.DockerLayer, random.WithSource(rand.NewSource(int64(1000+i))))
		if err != nil {
			b.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, static.NewLayer(raw, types.DockerLayer))
	}
	return ls
}

// BenchmarkPush pushes 8 layers of 4 MiB to a fresh repository of a local
// docker-registry (every blob uploaded), with 1 and 4 parallel uploads, and
// pushes the same image again (nothing uploaded).
func BenchmarkPush(b *testing.B) {
	host := registrytest.Start(b)
	img := imageOf(b, "amd64", staticLayers(b, 8, 4<<20)...)
	size := compressedSize(b, mustLayers(b, img)...)
	for _, jobs := range []int{1, 4} {
		b.Run(fmt.Sprintf("fresh/jobs=%d", jobs), func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				ref := fmt.Sprintf("%s/bench/fresh-j%d-%d:v1", host, jobs, i)
				if _, err := registry.Push(context.Background(), ref, img, nil, registry.Options{Jobs: jobs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("unchanged", func(b *testing.B) {
		ref := host + "/bench/same:v1"
		push(b, ref, img, nil, registry.Options{})
		for b.Loop() {
			if _, err := registry.Push(context.Background(), ref, img, nil, registry.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustLayers(b *testing.B, img v1.Image) []v1.Layer {
	ls, err := img.Layers()
	if err != nil {
		b.Fatal(err)
	}
	return ls
}
