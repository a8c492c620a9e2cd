package deb

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/internal/testutil"
)

func xzRequest(value string) closure.Request {
	req := amd64Request(nil)
	req.Env.Getenv = func(k string) string {
		if k == "STRATA_XZ" {
			return value
		}
		return ""
	}
	return req
}

// Both xz decoders (STRATA_XZ) give the same graph: same nodes, same
// contents keys, same entries.
func TestResolveSameWithEitherXZDecoder(t *testing.T) {
	testutil.RequireTool(t, "xz")
	a := newTestArchive(t, standardPackages())
	graphs := map[string]map[string][]closure.Entry{}
	for _, v := range []string{"go", "system"} {
		res, err := New(a.spec("app"), testStore(t)).Resolve(context.Background(), xzRequest(v))
		if err != nil {
			t.Fatalf("STRATA_XZ=%s: %v", v, err)
		}
		byKey := map[string][]closure.Entry{}
		for _, n := range res.Graph.Nodes {
			if n.Contents == nil {
				continue
			}
			es, err := n.Contents.Entries(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i := range es {
				es[i].Open = nil // functions never compare equal
			}
			byKey[n.ID+" "+n.Contents.Key()] = es
		}
		graphs[v] = byKey
	}
	if len(graphs["go"]) < 5 || !reflect.DeepEqual(graphs["go"], graphs["system"]) {
		t.Errorf("the graphs differ between STRATA_XZ=go and system (or are too small: %d nodes)", len(graphs["go"]))
	}
}

func TestResolveRejectsBadXZSetting(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	_, err := New(a.spec("hello"), testStore(t)).Resolve(context.Background(), xzRequest("fast"))
	if err == nil || !strings.Contains(err.Error(), "STRATA_XZ") {
		t.Fatalf("STRATA_XZ=fast: %v", err)
	}
}

// One hostile package among several: its unpack error is the one
// reported (not the cancellation it causes in the others), whatever the
// order the downloads and unpacks finish in.
func TestResolveReportsTheFailingUnpack(t *testing.T) {
	pkgs := standardPackages()
	for i, p := range pkgs {
		if strings.HasPrefix(p.stanza, "Package: libgcc-s1\n") {
			pkgs[i].files = append(pkgs[i].files, debtest.File{Name: "./../escape", Body: "x"})
		}
	}
	a := newTestArchive(t, pkgs)
	for range 3 {
		_, err := New(a.spec("app"), testStore(t)).Resolve(context.Background(), amd64Request(nil))
		if !errors.Is(err, debfile.ErrUnsafe) || !strings.Contains(err.Error(), "libgcc-s1") {
			t.Fatalf("want the unsafe libgcc-s1 error, got %v", err)
		}
	}
}
