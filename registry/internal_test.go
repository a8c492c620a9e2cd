package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestRetryTransportRewindsBodies(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	rt := Options{RetryDelay: time.Millisecond}.transport(http.DefaultTransport)
	payload := strings.Repeat("layer-bytes ", 1000)
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v2/x/blobs/uploads/1", strings.NewReader(payload))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(bodies) != 3 {
		t.Fatalf("status %d after %d attempts", resp.StatusCode, len(bodies))
	}
	for i, b := range bodies {
		if b != payload {
			t.Fatalf("attempt %d sent %d bytes, want the whole %d", i+1, len(b), len(payload))
		}
	}

	// A body that cannot be rewound is sent once, and the answer returned.
	bodies = nil
	req, _ = http.NewRequest(http.MethodPatch, srv.URL+"/v2/x/blobs/uploads/2", io.NopCloser(bytes.NewReader([]byte(payload))))
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || len(bodies) != 1 {
		t.Fatalf("unrewindable body: status %d after %d attempts, want 503 after 1", resp.StatusCode, len(bodies))
	}

	// Exhausted retries become an error no outer layer retries again.
	always := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer always.Close()
	req, _ = http.NewRequest(http.MethodGet, always.URL+"/v2/", nil)
	_, err = Options{Retries: 2, RetryDelay: time.Millisecond}.transport(http.DefaultTransport).RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "3 attempts") || outerRetryable(err) {
		t.Fatalf("exhausted: %v (outer retry %v)", err, outerRetryable(err))
	}
}

func TestRetryTransportStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/", nil)
	done := make(chan error, 1)
	go func() {
		_, err := Options{Retries: 50, RetryDelay: time.Hour}.transport(http.DefaultTransport).RoundTrip(req)
		done <- err
	}()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestHistoryConcurrentRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "push-history.json")
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo, _ := name.NewRepository(fmt.Sprintf("127.0.0.1:5000/team/app%d", i))
			if err := recordPush(path, repo); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := loadHistory(path).repos("127.0.0.1:5000")
	if len(got) != 12 {
		t.Fatalf("history holds %d repositories, want 12: %v", len(got), got)
	}
	repo, _ := name.NewRepository("127.0.0.1:5000/team/app3")
	if err := recordPush(path, repo); err != nil {
		t.Fatal(err)
	}
	got = loadHistory(path).repos("127.0.0.1:5000")
	if got[0] != "team/app3" || len(got) != 12 || slices.Index(got[1:], "team/app3") >= 0 {
		t.Fatalf("re-recording did not move team/app3 to the front once: %v", got)
	}
	for i := range maxHistoryRepos + 5 {
		repo, _ := name.NewRepository(fmt.Sprintf("127.0.0.1:5000/many/r%d", i))
		if err := recordPush(path, repo); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(loadHistory(path).repos("127.0.0.1:5000")); n != maxHistoryRepos {
		t.Fatalf("history grew to %d, want the cap %d", n, maxHistoryRepos)
	}
}

func TestMountSources(t *testing.T) {
	target, _ := name.NewRepository("127.0.0.1:5000/team/app")
	hist := history{Registries: map[string][]string{"127.0.0.1:5000": {"team/app", "team/base", "other/x"}}}
	got := mountSources(target, []string{"team/base", "127.0.0.1:5000/lib/y", "elsewhere.test/lib/z"}, hist)
	var s []string
	for _, r := range got {
		s = append(s, r.RepositoryStr())
	}
	if strings.Join(s, ",") != "team/base,lib/y,other/x" {
		t.Fatalf("mount sources = %v, want user ones first, no target, no other registry, no duplicates", s)
	}
}
