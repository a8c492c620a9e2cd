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
// and checks the closure and that a second resolution writes the same lock.
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
	req := closure.Request{Platform: closure.Platform{OS: "linux", Arch: "amd64"}, Log: &log}
	start := time.Now()
	l1, err := src.ResolveLock(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	start = time.Now()
	l2, err := src.ResolveLock(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	warm := time.Since(start)
	t.Logf("cold %v, warm %v, %d packages; log:\n%s", cold, warm, len(l1.Packages), log.String())
	var names []string
	for _, p := range l1.Packages {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, "libc6") || !slices.Contains(names, "hello") {
		t.Fatalf("closure of hello is %v, want hello and libc6 in it", names)
	}
	b1, _ := l1.Marshal()
	b2, _ := l2.Marshal()
	if !bytes.Equal(b1, b2) {
		t.Fatalf("second resolution wrote another lock:\n%s\n%s", b1, b2)
	}
	if os.Getenv("STRATA_PRINT_LOCK") != "" {
		t.Logf("%s", b1)
	}
}
