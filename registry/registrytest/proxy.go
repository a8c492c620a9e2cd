package registrytest

import (
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Faults makes a Proxy misbehave, deterministically for a given Seed: each
// request draws once from the seeded generator and is dropped (connection
// closed without an answer) with probability Drop, else answered 503 with
// probability Unavailable, else forwarded.
type Faults struct {
	Seed        uint64
	Drop        float64
	Unavailable float64
}

// Proxy is a reverse proxy on 127.0.0.1 in front of a registry that counts
// what goes through it, and can inject faults.
type Proxy struct {
	// Host is the proxy's "127.0.0.1:PORT"; push to it instead of the
	// registry.
	Host string

	mu       sync.Mutex
	stats    Stats
	faults   Faults
	rng      *rand.Rand
	upstream *httputil.ReverseProxy
}

// Stats are the proxy's counters.
type Stats struct {
	// Requests counts every request received, faulty ones included.
	Requests int
	// BlobBytes counts request body bytes sent to blob upload endpoints
	// (PATCH/PUT under /blobs/uploads/) that were forwarded.
	BlobBytes int64
	// BlobUploads counts upload sessions started (POST without a
	// successful mount).
	BlobUploads int
	// Mounts counts cross-repository mounts the registry accepted (201).
	Mounts int
	// BlobHeads counts HEAD requests for blobs.
	BlobHeads int
	// ManifestPuts counts manifest uploads.
	ManifestPuts int
	// Dropped and Unavailable count injected faults.
	Dropped, Unavailable int
}

// NewProxy starts a proxy to the registry at target ("127.0.0.1:PORT"),
// closed in t.Cleanup. faults may be nil.
func NewProxy(t testing.TB, target string, faults *Faults) *Proxy {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: target}
	p := &Proxy{upstream: httputil.NewSingleHostReverseProxy(u)}
	if faults != nil {
		p.faults = *faults
		p.rng = rand.New(rand.NewPCG(faults.Seed, faults.Seed^0x9e3779b97f4a7c15))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	p.Host = l.Addr().String()
	return p
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Reset zeroes the counters.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = Stats{}
}

type countingBody struct {
	io.ReadCloser
	p *Proxy
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.p.mu.Lock()
	c.p.stats.BlobBytes += int64(n)
	c.p.mu.Unlock()
	return n, err
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.stats.Requests++
	drop, unavailable := false, false
	if p.rng != nil {
		x := p.rng.Float64()
		drop = x < p.faults.Drop
		unavailable = !drop && x < p.faults.Drop+p.faults.Unavailable
	}
	if drop {
		p.stats.Dropped++
	}
	if unavailable {
		p.stats.Unavailable++
	}
	p.mu.Unlock()

	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if unavailable {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}`)
		return
	}

	path := r.URL.Path
	isUpload := strings.Contains(path, "/blobs/uploads/")
	switch {
	case isUpload && (r.Method == http.MethodPatch || r.Method == http.MethodPut) && r.Body != nil:
		r.Body = &countingBody{ReadCloser: r.Body, p: p}
	case r.Method == http.MethodHead && strings.Contains(path, "/blobs/"):
		p.count(func(s *Stats) { s.BlobHeads++ })
	case r.Method == http.MethodPut && strings.Contains(path, "/manifests/"):
		p.count(func(s *Stats) { s.ManifestPuts++ })
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	p.upstream.ServeHTTP(rec, r)
	if isUpload && r.Method == http.MethodPost {
		if r.URL.Query().Get("mount") != "" && rec.status == http.StatusCreated {
			p.count(func(s *Stats) { s.Mounts++ })
		} else {
			p.count(func(s *Stats) { s.BlobUploads++ })
		}
	}
}

func (p *Proxy) count(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}
