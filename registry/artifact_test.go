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
	"github.com/stratabuild/strata/registry/registrytest"
)

// counting wraps a handler and counts requests to the referrers API.
type counting struct {
	h         http.Handler
	mu        sync.Mutex
	referrers int
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/referrers/") && r.Method == http.MethodGet {
		c.mu.Lock()
		c.referrers++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

// SBOM-like artifacts attached to an image are listed as its referrers:
// through the sha256-HEX tag on docker-registry 2.8 (no referrers API),
// through the API on go-containerregistry's registry that serves it.
func TestAttachAndListReferrers(t *testing.T) {
	quiet := ggcrregistry.Logger(log.New(io.Discard, "", 0))
	api := &counting{h: ggcrregistry.New(quiet, ggcrregistry.WithReferrersSupport(true))}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	for name, host := range map[string]string{
		"docker-registry (tag fallback)": registrytest.Start(t),
		"referrers API":                  strings.TrimPrefix(srv.URL, "http://"),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			d, err := registry.Push(ctx, host+"/app:v1", img, nil, registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			subject := host + "/app@" + d.String()
			want := map[string]bool{}
			for _, typ := range []string{"application/spdx+json", "application/vnd.cyclonedx+json"} {
				a, err := registry.Attach(ctx, subject, typ, []byte(`{"doc":"`+typ+`"}`), "application/json", nil, registry.Options{})
				if err != nil {
					t.Fatal(err)
				}
				want[a.String()+" "+typ] = true
			}
			got, refs, err := registry.Referrers(ctx, host+"/app:v1", registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got != d || len(refs) != 2 {
				t.Fatalf("subject %s (want %s), %d referrers: %+v", got, d, len(refs), refs)
			}
			for _, r := range refs {
				if !want[r.Digest.String()+" "+r.ArtifactType] {
					t.Errorf("unexpected referrer %+v", r)
				}
			}
			fallback := host + "/app:" + strings.Replace(d.String(), ":", "-", 1)
			has, err := registry.Exists(ctx, fallback, registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if api := strings.HasPrefix(name, "referrers"); has == api {
				t.Errorf("fallback tag %s exists: %v; with the referrers API it should not, without it it must", fallback, has)
			}
		})
	}
	if api.referrers == 0 {
		t.Error("the referrers API was never asked")
	}
}
