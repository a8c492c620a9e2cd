package registry_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/sink"
	sinkregistry "github.com/stratabuild/strata/sink/registry"
)

// inProcess starts go-containerregistry's in-memory registry on loopback
// (no external tool: these tests never skip) and returns its host:port.
func inProcess(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pulled(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate %s: %v", ref, err)
	}
	return img
}

func TestInProcessWriteAndValidate(t *testing.T) {
	host := inProcess(t)
	img, _ := random.Image(1024, 3)
	want, _ := img.Digest()
	s := sinkregistry.New(host+"/app:v1", registry.Options{})
	res, err := s.Write(context.Background(), "app:v1", img)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || res.Ref != host+"/app@"+want.String() {
		t.Fatalf("Result = %+v", res)
	}
	if got, _ := pulled(t, res.Ref).Digest(); got != want {
		t.Fatalf("pulled %s, want %s", got, want)
	}
}

// A stream uploads layers as they are put, in any order; the tag appears
// only on Commit, and the pushed image validates.
func TestInProcessStream(t *testing.T) {
	ctx := context.Background()
	host := inProcess(t)
	img, _ := random.Image(2048, 4)
	ls, _ := img.Layers()
	ref := host + "/streamed:v1"
	var s sink.Streamer = sinkregistry.New(ref, registry.Options{})
	st, err := s.Begin(ctx, "streamed:v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{3, 1, 0} {
		if err := st.PutLayer(ctx, i, ls[i]); err != nil {
			t.Fatal(err)
		}
	}
	repo, _ := name.NewRepository(host+"/streamed", name.Insecure)
	d, _ := ls[1].Digest()
	if _, err := remote.Layer(repo.Digest(d.String())); err != nil {
		t.Fatalf("layer put before Commit is not in the registry: %v", err)
	}
	if _, err := remote.Head(repo.Tag("v1")); err == nil {
		t.Fatal("the tag exists before Commit")
	}
	res, err := st.Commit(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, _ := pulled(t, ref).Digest(); got != want || res.Digest != want {
		t.Fatalf("pulled %s, result %s, want %s", got, res.Digest, want)
	}
}

func TestInProcessIndexValidates(t *testing.T) {
	host := inProcess(t)
	idx, _ := random.Index(512, 2, 2)
	res, err := sinkregistry.New(host+"/multi:v1", registry.Options{}).Write(context.Background(), "multi:v1", idx)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(res.Ref, name.Insecure)
	back, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(back); err != nil {
		t.Fatal(err)
	}
}
