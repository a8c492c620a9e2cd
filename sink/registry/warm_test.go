package registry_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stratabuild/strata/registry"
	sinkregistry "github.com/stratabuild/strata/sink/registry"
)

// A warm push (the registry has every blob and the manifest) asks with
// HEAD and uploads nothing: no blob POST, PATCH or PUT, and no manifest
// PUT either.
func TestWarmStreamedPushSendsOnlyHeads(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var writes []string
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	counting := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if counting && r.Method != http.MethodHead && r.Method != http.MethodGet {
			writes = append(writes, r.Method+" "+r.URL.Path)
		}
		mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(2048, 3)
	ls, _ := img.Layers()
	push := func() {
		s := sinkregistry.New(host+"/app:v1", registry.Options{})
		st, err := s.Begin(ctx, "app:v1")
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range ls {
			if err := st.PutLayer(ctx, i, l); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Commit(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	push()
	mu.Lock()
	counting = true
	mu.Unlock()
	push()
	if len(writes) != 0 {
		t.Fatalf("a warm push uploaded blobs: %v", writes)
	}
}
