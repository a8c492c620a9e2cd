package build

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/spec"
)

// pendingSource answers an Incremental request with contents it fills
// later (as the Debian source fills a package's once its .deb is
// unpacked), and a complete request with the contents at once.
type pendingSource struct {
	nodes   []*closure.Node // static contents, in the order they are filled
	pending []*closure.PendingContents
	fail    error // Wait's error, when set
	// resolved is closed once an incremental graph is handed out; done,
	// closed by the test, completes it.
	resolved, done chan struct{}
	got            closure.Request
	// static answers every request with complete contents.
	static bool
}

func newPendingSource(fail error) *pendingSource {
	return &pendingSource{nodes: pendingNodes(), fail: fail, resolved: make(chan struct{}), done: make(chan struct{})}
}

func (p *pendingSource) Name() string { return "pending" }

func (p *pendingSource) Resolve(rctx context.Context, req closure.Request) (*closure.Result, error) {
	p.got = req
	if p.static {
		req.Incremental = false
	}
	g := closure.New()
	for _, n := range p.nodes {
		cp := *n
		if req.Incremental {
			key := n.Contents.Key()
			if n.Kind == closure.KindGenerated {
				key = "" // keyed by what it will hold, like Debian's system files
			}
			pc := closure.NewPendingContents(key, nil)
			p.pending = append(p.pending, pc)
			cp.Contents = pc
		}
		if err := g.Add(&cp); err != nil {
			return nil, err
		}
		g.Roots = append(g.Roots, n.ID)
	}
	if !req.Incremental {
		return &closure.Result{Graph: g}, nil
	}
	close(p.resolved)
	return &closure.Result{Graph: g, Wait: func(ctx context.Context) error {
		select {
		case <-p.done:
			return p.fail
		default:
		}
		select {
		case <-p.done:
			return p.fail
		case <-ctx.Done():
			return ctx.Err()
		case <-rctx.Done(): // the build stopped it
			return rctx.Err()
		}
	}}, nil
}

// fill gives node i its contents (its key too, for a generated node).
func (p *pendingSource) fill(t *testing.T, i int) {
	t.Helper()
	list, err := p.nodes[i].Contents.Entries(context.Background())
	if err != nil {
		t.Error(err)
		return
	}
	p.pending[i].Fill(p.nodes[i].Contents.Key(), list)
}

func pendingNodes() []*closure.Node {
	a, b, c := fileNode("deb:a", "a.txt", "a"), fileNode("deb:b", "b.txt", "b"), fileNode("deb:c", "c.txt", "c")
	a.Kind, b.Kind, c.Kind = closure.KindDeb, closure.KindDeb, closure.KindDeb
	b.Deps, c.Deps = []string{"deb:a"}, []string{"deb:b"}
	return []*closure.Node{a, b, c}
}

// A build streams its first layer while the source still makes the
// others, and gives the image a complete resolution gives.
func TestBuildStreamsBeforeSourcesComplete(t *testing.T) {
	ref := newPendingSource(nil)
	ref.static = true
	want, err := Build(context.Background(), testSpec(t, "name: app\n"), testOptions(t, ref))
	if err != nil {
		t.Fatal(err)
	}

	src := newPendingSource(nil)
	opt := testOptions(t, src)
	opt.Env.Jobs = 1
	streamed := make(chan int, 3)
	opt.OnLayer = func(_ context.Context, _ *spec.Spec, i int, _ v1.Layer) error {
		streamed <- i
		return nil
	}
	type built struct {
		r   *Result
		err error
	}
	out := make(chan built, 1)
	go func() {
		r, err := Build(context.Background(), testSpec(t, "name: app\n"), opt)
		out <- built{r, err}
	}()
	waitFor := func(what string, ch <-chan int) int {
		t.Helper()
		select {
		case i := <-ch:
			return i
		case b := <-out:
			t.Fatalf("the build ended (%v) before %s", b.err, what)
		case <-time.After(waitLong):
			t.Fatalf("no %s", what)
		}
		return 0
	}
	select {
	case <-src.resolved:
	case <-time.After(waitLong):
		t.Fatal("the source was never resolved")
	}
	src.fill(t, 0)
	if i := waitFor("first layer streamed", streamed); i != 0 {
		t.Fatalf("layer %d streamed first", i)
	}
	select {
	case i := <-streamed:
		t.Fatalf("layer %d streamed before its contents were made", i)
	default:
	}
	src.fill(t, 1)
	src.fill(t, 2)
	waitFor("second layer", streamed)
	waitFor("third layer", streamed)
	select {
	case b := <-out:
		t.Fatalf("the build ended (%v) before the source completed", b.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(src.done)
	b := <-out
	if b.err != nil {
		t.Fatal(b.err)
	}
	if !src.got.Incremental {
		t.Error("the build did not ask for an incremental graph")
	}
	if b.r.Digest != want.Digest {
		t.Errorf("incremental build %s, complete resolution %s", b.r.Digest, want.Digest)
	}
}

// A source that fails after layers streamed fails the build with its
// error: no image, so a stream ends with the error.
func TestBuildFailsWhenSourceFailsLate(t *testing.T) {
	src := newPendingSource(errors.New("hostile .deb"))
	opt := testOptions(t, src)
	var mu sync.Mutex
	n := 0
	opt.OnLayer = func(context.Context, *spec.Spec, int, v1.Layer) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 3 {
			close(src.done)
		}
		return nil
	}
	go func() {
		<-src.resolved
		for i := range 3 {
			src.fill(t, i)
		}
	}()
	_, err := Build(context.Background(), testSpec(t, "name: app\n"), opt)
	if err == nil || !strings.Contains(err.Error(), "hostile .deb") || !strings.Contains(err.Error(), "resolving pending inputs") {
		t.Fatalf("build: %v, want the source's late failure", err)
	}
	if n != 3 {
		t.Errorf("%d layers streamed before the failure, want 3", n)
	}
}

// withGenerated adds generated files, keyed by what they hold, to src.
func withGenerated(src *pendingSource) *pendingSource {
	gen := fileNode("generated:sys", "etc/sys", "sys")
	gen.Kind = closure.KindGenerated
	src.nodes = append(src.nodes, gen)
	return src
}

// waitLong bounds a wait that must end (a hang fails the test).
const waitLong = 60 * time.Second

// A build whose layer fails while a worker waits for the key of generated
// files the source has not made returns with the error at once; it does
// not wait for the source.
func TestBuildFailureDoesNotWaitForPendingKeys(t *testing.T) {
	src := withGenerated(newPendingSource(nil))
	opt := testOptions(t, src)
	opt.Env.Jobs = 2
	opt.OnLayer = func(context.Context, *spec.Spec, int, v1.Layer) error { return errors.New("the reader went away") }
	go func() {
		<-src.resolved
		src.fill(t, 0) // a's layer, then OnLayer fails; b, c and sys never come
	}()
	out := make(chan error, 1)
	go func() {
		_, err := Build(context.Background(), testSpec(t, "name: app\n"), opt)
		out <- err
	}()
	select {
	case err := <-out:
		if err == nil || !strings.Contains(err.Error(), "the reader went away") {
			t.Fatalf("build: %v, want the OnLayer failure", err)
		}
	case <-time.After(waitLong):
		t.Fatal("the failed build waited for contents its source never made")
	}
	close(src.done)
}

// When a source's failure fails a layer, the build reports the source's
// error (what failed and where), not the layer's.
func TestBuildReportsTheSourcesFailure(t *testing.T) {
	bad := errors.New("b.deb is not the signed .deb")
	src := newPendingSource(bad)
	opt := testOptions(t, src)
	go func() {
		<-src.resolved
		src.fill(t, 0)
		close(src.done) // finished, as the Debian source does, before its contents fail
		src.pending[1].Fail(bad)
		src.pending[2].Fail(bad)
	}()
	_, err := Build(context.Background(), testSpec(t, "name: app\n"), opt)
	if err == nil || !strings.HasPrefix(err.Error(), "resolving pending inputs for linux/amd64: b.deb is not") {
		t.Fatalf("build: %v, want the source's error", err)
	}
}

// prefetchCache is a cache.Cache that records what Prefetch was asked.
type prefetchCache struct {
	cache.Cache
	asked chan []string
}

func (p *prefetchCache) Prefetch(kind string, keys []string) {
	p.asked <- append([]string{kind}, keys...)
}

// A remote-cache build prefetches the layers whose keys are known at once,
// without waiting for the generated files' key, so it streams too.
func TestPrefetchDoesNotWaitForPendingKeys(t *testing.T) {
	src := withGenerated(newPendingSource(nil))
	opt := testOptions(t, src)
	pc := &prefetchCache{Cache: opt.Cache, asked: make(chan []string, 1)}
	opt.Cache = pc
	out := make(chan error, 1)
	go func() {
		_, err := Build(context.Background(), testSpec(t, "name: app\n"), opt)
		out <- err
	}()
	select {
	case asked := <-pc.asked:
		if asked[0] != "layers" || len(asked) != 4 {
			t.Errorf("prefetched %v, want the 3 package layers' records", asked)
		}
	case err := <-out:
		t.Fatalf("the build ended (%v) before it prefetched", err)
	case <-time.After(waitLong):
		t.Fatal("the prefetch waited for the generated files")
	}
	for i := range src.nodes {
		src.fill(t, i)
	}
	close(src.done)
	if err := <-out; err != nil {
		t.Fatal(err)
	}
}
