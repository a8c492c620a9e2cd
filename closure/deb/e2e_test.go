package deb

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

// hostSuite is the release suite the host's apt sources serve (the
// end-to-end test resolves against the host's configured mirror, read at
// run time).
func hostSuite(t testing.TB) string {
	t.Helper()
	srcs, err := ReadAptSources("/etc/apt")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		for _, su := range s.Suites {
			if su == "bookworm" {
				return su
			}
		}
	}
	for _, s := range srcs {
		for _, su := range s.Suites {
			if !strings.ContainsAny(su, "-/") {
				return su
			}
		}
	}
	t.Fatal("the host's apt sources name no Debian release suite; the end-to-end test needs one (or set " + MirrorEnv + " and run on a Debian host)")
	return ""
}

func hostSpec(t testing.TB, pkgs ...string) *spec.Spec {
	return &spec.Spec{Name: "e2e", Debian: &spec.Debian{Suite: hostSuite(t), Packages: pkgs}}
}

// TestHostMirrorHello resolves hello against the host's configured mirror
// (the one network test: the signed chain of trust against the real
// archive keyring, the real index, real .debs unpacked), checks libc6 is
// in the closure and that a second resolution writes the same lock bytes.
func TestHostMirrorHello(t *testing.T) {
	if testing.Short() {
		t.Skip("network test against the host's Debian mirror")
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	src := New(hostSpec(t, "hello"), st)
	req := closure.Request{Env: closure.Env{Events: events.New(events.WriterHandler(&log))}, Platform: closure.Platform{OS: "linux", Arch: "amd64"}}
	start := time.Now()
	r1, err := src.Resolve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	start = time.Now()
	r2, err := src.Resolve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	warm := time.Since(start)
	t.Logf("cold %v, warm %v, %d nodes; log:\n%s", cold, warm, len(r1.Graph.Nodes), log.String())
	g := r1.Graph
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	hello, libc := g.Nodes["deb:hello:amd64"], g.Nodes["deb:libc6:amd64"]
	if hello == nil || libc == nil {
		t.Fatalf("closure of hello is %v, want hello and libc6 in it", g.IDs())
	}
	if !slices.Contains(hello.Deps, libc.ID) || !slices.Equal(g.Roots, []string{hello.ID}) {
		t.Errorf("hello deps %v, roots %v", hello.Deps, g.Roots)
	}
	ents, err := hello.Contents.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ents, func(e closure.Entry) bool { return e.Path == "usr/bin/hello" }) {
		t.Errorf("hello has no usr/bin/hello")
	}
	if libc.Size < 1<<20 || libc.Meta["source"] != "glibc" {
		t.Errorf("libc6 size %d, meta %v", libc.Size, libc.Meta)
	}
	if !bytes.Equal(r1.Lock, r2.Lock) {
		t.Fatalf("second resolution wrote another lock:\n%s\n%s", r1.Lock, r2.Lock)
	}
	if os.Getenv("STRATA_PRINT_LOCK") != "" {
		t.Logf("%s", r1.Lock)
	}
}
