package deb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
)

// waitLong bounds a wait that must end (a hang fails the test instead of
// timing it out).
const waitLong = 60 * time.Second

// nodeFacts is what a consumer reads of a complete node.
type nodeFacts struct {
	Kind    closure.Kind
	Version string
	Size    int64
	Deps    []string
	Meta    map[string]string
	Key     string
	Paths   []string
}

func factsOf(t *testing.T, g *closure.Graph) map[string]nodeFacts {
	t.Helper()
	out := map[string]nodeFacts{}
	for id, n := range g.Nodes {
		ents, err := n.Contents.Entries(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		var paths []string
		for _, e := range ents {
			paths = append(paths, e.Path)
		}
		out[id] = nodeFacts{n.Kind, n.Version, n.Size, n.Deps, n.Meta, n.Contents.Key(), paths}
	}
	return out
}

// An incremental Resolve gives the graph, planned from the lock, while
// the .debs are still downloading: a package's contents wait for its .deb,
// the others' do not, and once Wait returns the graph is the one a
// complete Resolve gives.
func TestResolveIncremental(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	want, err := New(a.spec("app"), testStore(t)).Resolve(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want.Wait != nil {
		t.Fatal("a complete Resolve left work to wait for")
	}
	wantFacts := factsOf(t, want.Graph)

	held := make(chan struct{})
	a.mu.Lock()
	a.hold = map[string]chan struct{}{"pool/main/hello/": held}
	a.mu.Unlock()
	release := func() {
		select {
		case <-held:
		default:
			close(held)
		}
	}
	defer release()
	req := amd64Request(nil)
	req.Incremental = true
	ctx := context.Background()
	res, err := New(a.spec("app"), testStore(t)).Resolve(ctx, req) // hello's .deb is held
	if err != nil {
		t.Fatal(err)
	}
	if res.Wait == nil {
		t.Fatal("an incremental Resolve waited for every .deb")
	}
	g := res.Graph
	for id, f := range wantFacts {
		n := g.Nodes[id]
		if n == nil {
			t.Fatalf("the incremental graph lacks %s", id)
		}
		if n.Kind == closure.KindDeb && (n.Size != f.Size || !reflect.DeepEqual(n.Deps, f.Deps) || n.Contents.Key() != f.Key) {
			t.Errorf("%s before its .deb: size %d deps %v key %s, want %d %v %s", id, n.Size, n.Deps, n.Contents.Key(), f.Size, f.Deps, f.Key)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, waitLong)
	defer cancel()
	if _, err := g.Nodes["deb:libc6:amd64"].Contents.Entries(lctx); err != nil {
		t.Fatalf("libc6, whose .deb is served: %v", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer scancel()
	if _, err := g.Nodes["deb:hello:amd64"].Contents.Entries(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hello's contents before its .deb was served: %v, want them waiting", err)
	}
	if err := res.Wait(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait before hello's .deb was served: %v", err)
	}
	release()
	if err := res.Wait(lctx); err != nil {
		t.Fatal(err)
	}
	if got := factsOf(t, g); !reflect.DeepEqual(got, wantFacts) {
		t.Errorf("incremental graph once complete:\n%v\nwant\n%v", got, wantFacts)
	}
}

// A .deb that fails (here: its bytes are not the signed ones) fails the
// contents waiting for it, the generated files and Wait, with the
// package named, instead of leaving them waiting.
func TestResolveIncrementalFailure(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	a.set("pool/main/lynx/lynx_2.9-1_amd64.deb", []byte("!<arch>\nnot the signed bytes"))
	req := amd64Request(nil)
	req.Incremental = true
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	res, err := New(a.spec("app"), testStore(t)).Resolve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	werr := res.Wait(ctx)
	if werr == nil || errors.Is(werr, context.DeadlineExceeded) || !strings.Contains(werr.Error(), "lynx") {
		t.Fatalf("Wait: %v, want the failure of lynx", werr)
	}
	for _, id := range []string{"deb:lynx:amd64", SystemNodeID} {
		if _, err := res.Graph.Nodes[id].Contents.Entries(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want the failure", id, err)
		}
	}
	if k := res.Graph.Nodes[SystemNodeID].Contents.Key(); !strings.HasPrefix(k, "failed:") {
		t.Errorf("key of failed generated files %q", k)
	}
}

// A lock written before installed sizes were recorded still plans the
// same: the .debs' control files give the sizes, so Resolve completes the
// graph before it returns.
func TestResolveOldLockSizes(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("app"), st)
	lock, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range lock.Packages {
		if lock.Packages[i].InstalledSize == nil || *lock.Packages[i].InstalledSize != 1 {
			t.Fatalf("lock of %s: installed size %v, want 1 KiB", lock.Packages[i].Name, lock.Packages[i].InstalledSize)
		}
		lock.Packages[i].InstalledSize = nil
	}
	raw, err := json.Marshal(lock)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "installedSize") {
		t.Fatalf("old lock %s", raw)
	}
	var log bytes.Buffer
	req := amd64Request(&log)
	req.Incremental, req.Locked = true, raw
	res, err := src.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Wait != nil {
		t.Error("Resolve returned a graph planned without sizes")
	}
	if !strings.Contains(log.String(), "strata.lock has no installed sizes") {
		t.Errorf("no notice that an old lock waits for every .deb: %q", log.String())
	}
	for id, n := range res.Graph.Nodes {
		if n.Kind == closure.KindDeb && n.Size != 1024 {
			t.Errorf("%s size %d, want 1024 from its control file", id, n.Size)
		}
	}
}

// The work queue hands out what a reader asked for first, then by rank,
// only what is available, and ends when closed.
func TestWorkQueue(t *testing.T) {
	q := newWorkQueue([]int{2, 0, 1, 3}) // rank: 1, 2, 0, 3
	for i := range 4 {
		q.add(i)
	}
	q.ask(3)
	q.close()
	var got []int
	for {
		i, ok := q.next()
		if !ok {
			break
		}
		got = append(got, i)
	}
	if want := []int{3, 1, 2, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	q = newWorkQueue([]int{0, 1})
	q.ask(0)
	q.add(1)
	if i, _ := q.next(); i != 1 {
		t.Errorf("took %d, which is not available", i)
	}
	go func() { time.Sleep(10 * time.Millisecond); q.add(0); q.close() }()
	if i, ok := q.next(); i != 0 || !ok {
		t.Errorf("next %d %v, want 0 once added", i, ok)
	}
	if _, ok := q.next(); ok {
		t.Error("next after close and drain")
	}
}

// unpackOrder puts dependencies first, as the per-package layer plan does.
func TestUnpackOrder(t *testing.T) {
	lock := &Lock{Packages: []LockedPackage{
		{Name: "app", Depends: []string{"hello", "lynx"}},
		{Name: "hello", Depends: []string{"libc6"}},
		{Name: "libc6", Depends: []string{"libgcc-s1"}},
		{Name: "libgcc-s1", Depends: []string{"libc6"}}, // a cycle
		{Name: "lynx", Depends: []string{"libc6"}},
	}}
	rank := unpackOrder(lock)
	order := make([]string, len(rank))
	for i, r := range rank {
		order[r] = lock.Packages[i].Name
	}
	// The cycle is cut where the walk from app meets it again: libc6 is
	// one above libgcc-s1; hello and lynx tie on height, by name.
	if want := []string{"libgcc-s1", "libc6", "hello", "lynx", "app"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}
