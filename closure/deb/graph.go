package deb

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/sysfiles"
)

// debClosure is one Resolve's graph and the work that completes it: each
// package's contents, filled as its .deb is unpacked, then what needs the
// whole closure (overlaps, licences, the system files). The graph's shape
// and sizes come from the lock alone, so layers can be planned, and built
// in image order, while .debs still unpack.
type debClosure struct {
	s    *Source
	req  closure.Request
	lock *Lock
	keep Keep

	g       *closure.Graph
	nodes   []*closure.Node // lock.Packages[i]'s node
	pending []*closure.PendingContents
	sys     *closure.Node
	sysList *closure.PendingContents
	// sized: every locked package has its Installed-Size, so the graph is
	// complete in shape and size before any .deb is read.
	sized bool
	queue *workQueue
	// count is how many locked packages have each name (status.d names
	// a package NAME:ARCH when there are several).
	count map[string]int

	mu      sync.Mutex
	raw     []*debfile.Package // as unpacked (its listing)
	pruned  []*debfile.Package
	caCerts *debfile.Package
	licence []string

	done    chan struct{}
	err     error
	sysSize int64
	finish  sync.Once
}

// newClosure lays out the graph from the lock: nodes, dependencies,
// sizes (the lock's Installed-Size) and contents to be filled.
func (s *Source) newClosure(req closure.Request, lock *Lock, keep Keep) (*debClosure, error) {
	n := len(lock.Packages)
	c := &debClosure{
		s: s, req: req, lock: lock, keep: keep, g: closure.New(),
		nodes: make([]*closure.Node, n), pending: make([]*closure.PendingContents, n),
		sized: true, count: map[string]int{},
		raw: make([]*debfile.Package, n), pruned: make([]*debfile.Package, n), licence: make([]string, n),
		done: make(chan struct{}),
	}
	c.queue = newWorkQueue(unpackOrder(lock))
	for _, lp := range lock.Packages {
		c.count[lp.Name]++
	}
	for i, lp := range lock.Packages {
		key := packageKey(lp.SHA256, lp.Name, keep) + statusKey
		c.pending[i] = closure.NewPendingContents(key, func() { c.queue.ask(i) })
		nd := &closure.Node{
			ID: nodeID(lp.Name, lp.Arch), Kind: closure.KindDeb,
			Name: lp.Name, Version: lp.Version, Arch: lp.Arch,
			Meta:     map[string]string{"sha256": lp.SHA256, "filename": lp.Filename, "debSize": fmt.Sprint(lp.Size)},
			Contents: c.pending[i],
		}
		if lp.InstalledSize != nil {
			nd.Size = kibBytes(*lp.InstalledSize)
		} else {
			c.sized = false
		}
		for _, d := range lp.Depends {
			nd.Deps = append(nd.Deps, nodeID(d, lock.arch(d)))
		}
		sort.Strings(nd.Deps)
		if err := c.g.Add(nd); err != nil {
			return nil, err
		}
		if lp.Root {
			c.g.Roots = append(c.g.Roots, nd.ID)
		}
		c.nodes[i] = nd
	}
	c.sysList = closure.NewPendingContents("", nil)
	c.sys = &closure.Node{ID: SystemNodeID, Kind: closure.KindGenerated, Name: "debian-system", Contents: c.sysList}
	if err := c.g.Add(c.sys); err != nil {
		return nil, err
	}
	if err := c.g.Validate(); err != nil {
		return nil, fmt.Errorf("debian closure: %w (run `strata lock --update`)", err)
	}
	return c, nil
}

// kibBytes is an Installed-Size in bytes (0 for a negative one, capped far
// above any package).
func kibBytes(kib int64) int64 { return min(max(kib, 0), 1<<40) * 1024 }

// wait is Result.Wait: the closure is complete once make has returned
// without an error.
func (c *debClosure) wait(ctx context.Context) error {
	select {
	case <-c.done:
	default: // finished wins over an ended ctx
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.err != nil {
		return c.err
	}
	// Set here, on a caller that waited, not while the build reads
	// sizes to schedule layers; no plan weighs a generated node.
	c.finish.Do(func() { c.sys.Size = c.sysSize })
	return nil
}

// make unpacks every package, filling its contents, then does what needs
// the whole closure. On failure every contents not yet filled fails with
// the error, so nothing waits for it.
func (c *debClosure) make(ctx context.Context) {
	err := c.makeAll(ctx)
	c.raw = nil // only the listings' entries were needed from it
	c.err = err
	// Done before the contents fail: a reader woken by the failure finds
	// the source's error through Wait.
	close(c.done)
	if err != nil {
		for _, p := range c.pending {
			p.Fail(err)
		}
		c.sysList.Fail(err)
	}
}

func (c *debClosure) makeAll(ctx context.Context) error {
	if err := c.s.unpack(ctx, c.req, c.lock, c.queue, c.ready); err != nil {
		return err
	}
	for _, w := range unmatchedGlobs(c.raw, c.keep) {
		c.req.Env.Events.With("debian").Warnf("%s", w)
	}
	if err := checkOverlaps(c.pruned); err != nil {
		return err
	}
	distro := Distro(c.lock.Suite, c.lock.ReleaseVersion)
	for i, lp := range c.lock.Packages {
		p := c.raw[i]
		src := sourceName(p.Fields["Source"], lp.Name)
		// Added to what newClosure knew from the lock; nobody reads Meta
		// before Wait.
		meta := c.nodes[i].Meta
		meta["maintainer"] = p.Fields["Maintainer"]
		meta["source"] = src
		meta[MetaPURL] = PURL(lp.Name, lp.Version, lp.Arch, src, distro)
		meta[MetaDistro] = distro
		meta["homepage"] = p.Fields["Homepage"]
		meta["section"] = p.Fields["Section"]
		meta["description"] = firstLine(p.Fields["Description"])
		if c.licence[i] != "" {
			meta[MetaLicense] = c.licence[i]
		}
		if !c.sized {
			// Resolve waits for this before it returns the graph.
			kib, _ := strconv.ParseInt(strings.TrimSpace(p.Fields["Installed-Size"]), 10, 64)
			c.nodes[i].Size = kibBytes(kib)
		}
	}
	sys, size, err := sysfiles.Generate(ctx, sysfiles.Options{Packages: c.pruned, Accounts: c.s.spec.Accounts, Suite: c.lock.Suite, Arch: c.lock.Arch, OSRelease: c.s.spec.OSRelease, Nsswitch: c.s.spec.Nsswitch, StatusInPackages: true, Certificates: c.caCerts, BundleOnly: !c.keep.Certs, LDCache: c.s.spec.Debian.LDCache})
	if err != nil {
		return fmt.Errorf("generating the Debian system files: %w", err)
	}
	list, err := sys.Entries(ctx)
	if err != nil {
		return fmt.Errorf("generating the Debian system files: %w", err)
	}
	c.sysSize = size
	c.sysList.Fill(sys.Key(), list)
	return nil
}

// ready takes lock.Packages[i] as unpacked (or listed): it checks it is
// the locked package, prunes it, adds its status.d record and fills its
// contents. unpack calls it from several goroutines, once per package.
func (c *debClosure) ready(ctx context.Context, i int, p *debfile.Package) error {
	lp := c.lock.Packages[i]
	if p.Name != lp.Name || p.Version != lp.Version {
		return fmt.Errorf("%s holds %s %s, the lock says %s %s (run `strata lock --update`)", lp.Filename, p.Name, p.Version, lp.Name, lp.Version)
	}
	var ca *debfile.Package
	if p.Name == caPackage {
		var err error
		if ca, err = certSource(p, c.keep); err != nil {
			return err
		}
	}
	q, contents := pruned(p, c.keep)
	if key := contents.Key() + statusKey; key != c.pending[i].Key() {
		return fmt.Errorf("debian: %s's contents key %s is not the %s its node was given", lp.Name, key, c.pending[i].Key())
	}
	// Each package's dpkg status.d record travels in its own layer, so a
	// scanner reading any one layer finds that layer's packages.
	name := p.Name
	if c.count[p.Name] > 1 {
		name += ":" + p.Arch
	}
	st, err := sysfiles.StatusEntries(q, name)
	if err != nil {
		return err
	}
	list := append(slices.Clone(q.Entries), st...)
	lic, err := contentLicenses(ctx, lp.Name, closure.StaticContents{List: list})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.raw[i], c.pruned[i], c.licence[i] = p, q, lic
	if ca != nil {
		c.caCerts = ca
	}
	c.mu.Unlock()
	c.pending[i].Fill("", list)
	return nil
}

// unpackOrder ranks the locked packages in about the order the layer plan
// puts them: dependencies first (by the longest chain below each), then by
// name, so the first layers' .debs are read first.
func unpackOrder(lock *Lock) []int {
	at := map[string]int{}
	for i, lp := range lock.Packages {
		at[lp.Name] = i
	}
	height := make([]int, len(lock.Packages))
	state := make([]uint8, len(lock.Packages)) // 0 new, 1 on the path, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return 0 // a dependency cycle: cut here
		case 2:
			return height[i]
		}
		state[i] = 1
		h := 0
		for _, d := range lock.Packages[i].Depends {
			if j, ok := at[d]; ok {
				h = max(h, visit(j)+1)
			}
		}
		state[i], height[i] = 2, h
		return h
	}
	order := make([]int, len(lock.Packages))
	for i := range order {
		visit(i)
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ia, ib := order[a], order[b]
		if height[ia] != height[ib] {
			return height[ia] < height[ib]
		}
		return lock.Packages[ia].Name < lock.Packages[ib].Name
	})
	rank := make([]int, len(order))
	for r, i := range order {
		rank[i] = r
	}
	return rank
}

// workQueue hands out package indices once they are available (their .deb
// is in the store): those a reader asked for first, in the order asked,
// then the rest by rank.
type workQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	rank   []int
	avail  []bool
	taken  []bool
	asked  []int
	closed bool
}

func newWorkQueue(rank []int) *workQueue {
	q := &workQueue{rank: rank, avail: make([]bool, len(rank)), taken: make([]bool, len(rank))}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// ask puts i ahead of the packages no reader asked for.
func (q *workQueue) ask(i int) {
	q.mu.Lock()
	q.asked = append(q.asked, i)
	q.mu.Unlock()
	q.cond.Broadcast()
}

// add makes i available.
func (q *workQueue) add(i int) {
	q.mu.Lock()
	q.avail[i] = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// close says nothing more will be added: next returns false once the
// available packages are taken.
func (q *workQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// next takes the next package to unpack, waiting for one to be available;
// ok is false when the queue is closed and nothing available is left.
func (q *workQueue) next() (i int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for _, a := range q.asked {
			if q.avail[a] && !q.taken[a] {
				q.taken[a] = true
				return a, true
			}
		}
		best := -1
		for j, av := range q.avail {
			if av && !q.taken[j] && (best < 0 || q.rank[j] < q.rank[best]) {
				best = j
			}
		}
		if best >= 0 {
			q.taken[best] = true
			return best, true
		}
		if q.closed {
			return 0, false
		}
		q.cond.Wait()
	}
}
