package deb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedPackage resolves name from a test archive and returns its lock
// entry.
func lockedPackage(t *testing.T, a *testArchive, src *Source, name string) LockedPackage {
	t.Helper()
	l, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Packages {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s not in the lock", name)
	return LockedPackage{}
}

// TestDebDownloadDroppedIsRetried: a .deb whose connection drops mid-body
// (a clean close with no Content-Length, then a reset) is fetched again
// with backoff and lands whole; neither drop is called an altered file.
func TestDebDownloadDroppedIsRetried(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	p := lockedPackage(t, a, src, "libc6")
	body := a.get(p.Filename)
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		n := hits
		mu.Unlock()
		if n == 3 {
			w.Write(body)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if n == 1 {
			// No length announced: the early close looks like a clean end.
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
		} else {
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
		}
		buf.Write(body[:len(body)/2])
		buf.Flush()
		if n == 2 {
			conn.(*net.TCPConn).SetLinger(0) // close with a reset
		}
	}))
	defer srv.Close()
	f, err := newFetcher(http.DefaultClient, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := src.fetchDeb(context.Background(), f, p, nil); err != nil {
		t.Fatalf("two dropped connections then a whole file: %v", err)
	}
	mu.Lock()
	if hits != 3 {
		t.Errorf("%d requests, want 3", hits)
	}
	hits = -100 // from now on, every connection drops
	mu.Unlock()
	if d := time.Since(start); d < fetchDelay {
		t.Errorf("the retries came after %v, want a backoff of at least %v", d, fetchDelay)
	}
	if !st.HasBlob(p.SHA256) {
		t.Error("the .deb is not in the store")
	}

	// Dropped every time: a network failure after fetchAttempts tries.
	err = src.fetchDeb(context.Background(), f, p, nil)
	if err == nil || errors.Is(err, errIntegrity) || strings.Contains(err.Error(), "does not match") ||
		!strings.Contains(err.Error(), "lost the connection to the mirror "+srv.URL) || !strings.Contains(err.Error(), fmt.Sprintf("gave up after %d attempts", fetchAttempts)) {
		t.Errorf("a connection dropping every time is reported as %v", err)
	}
}

// stallingServer answers with headers and the first bytes of body, then
// sends nothing more until the client goes away.
func stallingServer(t *testing.T, body []byte) (*httptest.Server, func() int) {
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:10])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return hits }
}

func stallEnv(d string) func(string) string {
	return func(k string) string {
		if k == StallTimeoutEnv {
			return d
		}
		return ""
	}
}

// TestDebDownloadStalled: a server that sends a few bytes and stops hits
// the stall deadline on each attempt; the error names the URL and the knob.
func TestDebDownloadStalled(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	p := lockedPackage(t, a, src, "libc6")
	srv, hits := stallingServer(t, a.get(p.Filename))
	f, err := newFetcher(http.DefaultClient, srv.URL, stallEnv("200ms"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = src.fetchDeb(context.Background(), f, p, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stalled download took %v", d)
	}
	if err == nil {
		t.Fatal("a stalled download succeeded")
	}
	for _, w := range []string{srv.URL + "/" + p.Filename, "no byte received for 200ms", "StallTimeout", StallTimeoutEnv, fmt.Sprintf("gave up after %d attempts", fetchAttempts)} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if errors.Is(err, errIntegrity) {
		t.Errorf("a stall is reported as an integrity failure: %v", err)
	}
	if n := hits(); n != fetchAttempts {
		t.Errorf("%d attempts, want %d", n, fetchAttempts)
	}
}

// TestInReleaseStalledAndSlow: the deadline is on progress, not on the
// whole transfer: an InRelease that arrives slowly (above MinTransferBytes
// per stall deadline) passes though it takes longer than the deadline,
// one that stops fails in the stall deadline.
func TestInReleaseStalledAndSlow(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	// 8 KiB more of signed Release, so that an eighth of it every 100ms
	// stays above the floor.
	a.releaseExtra = "X-Padding: " + strings.Repeat("p", 8<<10) + "\n"
	a.publish(t, standardPackages(), true)
	inRelease := a.get("dists/testing/InRelease")
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dists/testing/InRelease" {
			a.srv.Config.Handler.ServeHTTP(w, r)
			return
		}
		bw := bufio.NewWriter(w)
		step := len(inRelease)/8 + 1
		for i := 0; i < len(inRelease); i += step {
			bw.Write(inRelease[i:min(i+step, len(inRelease))])
			bw.Flush()
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	}))
	defer slow.Close()
	req := amd64Request(nil)
	req.Env.Getenv = stallEnv("300ms")
	s := a.spec("hello")
	s.Debian.Mirror = slow.URL
	if _, err := New(s, testStore(t)).ResolveLock(context.Background(), req); err != nil {
		t.Fatalf("an InRelease arriving in 900ms, a byte every 100ms, with a 300ms stall deadline: %v", err)
	}

	stalled, hits := stallingServer(t, inRelease)
	s.Debian.Mirror = stalled.URL
	start := time.Now()
	_, err := New(s, testStore(t)).ResolveLock(context.Background(), req)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stalled InRelease took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), stalled.URL+"/dists/testing/InRelease: no byte received for 300ms") || !strings.Contains(err.Error(), StallTimeoutEnv) {
		t.Errorf("error %v, want a stall naming the URL and %s", err, StallTimeoutEnv)
	}
	if n := hits(); n != fetchAttempts {
		t.Errorf("%d attempts, want %d", n, fetchAttempts)
	}

	req.Env.Getenv = stallEnv("soon")
	if _, err := New(s, testStore(t)).ResolveLock(context.Background(), req); err == nil || !strings.Contains(err.Error(), StallTimeoutEnv+`="soon": not a positive Go duration`) {
		t.Errorf("a bad %s: %v", StallTimeoutEnv, err)
	}
}

// TestIndexDownloadDroppedIsRetried: a Packages.xz whose connection closes
// early (no length announced, so the body just ends) is fetched again,
// not reported as an index that fails its signed checksum.
func TestIndexDownloadDroppedIsRetried(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	var mu sync.Mutex
	drops := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := strings.Contains(r.URL.Path, "/by-hash/") && drops > 0
		if drop {
			drops--
		}
		mu.Unlock()
		if !drop {
			a.srv.Config.Handler.ServeHTTP(w, r)
			return
		}
		body := a.get(strings.TrimPrefix(r.URL.Path, "/"))
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
		buf.Write(body[:len(body)/2])
		buf.Flush()
	}))
	defer srv.Close()
	s := a.spec("hello")
	s.Debian.Mirror = srv.URL
	if _, err := New(s, testStore(t)).ResolveLock(context.Background(), amd64Request(nil)); err != nil {
		t.Fatalf("an index cut short once: %v", err)
	}
	if n := a.hitCount(mainIndexDir + "by-hash/"); n != 1 {
		t.Errorf("%d whole index downloads after the dropped one, want 1", n)
	}
}

// TestInReleaseTrickle: a server sending one byte every 50ms never lets
// the stall deadline expire, but stays below MinTransferBytes: the
// transfer fails after one meter window (two stall deadlines), once, not
// retried, with an error naming the URL, the floor and the knob.
func TestInReleaseTrickle(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	inRelease := a.get("dists/testing/InRelease")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(inRelease)))
		for i := range inRelease {
			if _, err := w.Write(inRelease[i : i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	req := amd64Request(nil)
	req.Env.Getenv = stallEnv("300ms")
	s := a.spec("hello")
	s.Debian.Mirror = srv.URL
	start := time.Now()
	_, err := New(s, testStore(t)).ResolveLock(context.Background(), req)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the trickling InRelease took %v (it sends its %d bytes in %v)", d, len(inRelease), time.Duration(len(inRelease))*50*time.Millisecond)
	}
	if err == nil {
		t.Fatal("a trickling InRelease was accepted")
	}
	for _, w := range []string{srv.URL + "/dists/testing/InRelease: only ", "bytes received in 600ms", "MinTransferBytes", StallTimeoutEnv} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d attempts at a trickling InRelease, want 1", n)
	}
}
