package remotecache

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/sync/errgroup"
)

// `strata cache push` and `strata cache pull`: the whole local cache to
// the remote one and back, through the same entries, checks and
// signatures as a build's read-through and write-back.

// NoteLayer marks the local layer record KEY for Flush.
func (c *Cache) NoteLayer(key string) { c.use(func() { c.layers[key] = true }) }

// NoteTree marks a local tree (a step output, an unpacked .deb) for
// Flush; other kinds and fixed-output step outputs are not shared.
func (c *Cache) NoteTree(kind, key, dir string) {
	if _, ok := treeKinds[kind]; !ok || strings.HasPrefix(key, "fo-") {
		return
	}
	c.use(func() { c.trees[treeID{kind, key}] = dir })
}

// NoteBlob marks a local blob for Flush (written when it is a .deb).
func (c *Cache) NoteBlob(hex string) { c.use(func() { c.blobs[hex] = true }) }

var errNotRemote = errors.New("not in the remote cache")

// PullAll copies every entry of the From repositories that passes its
// checks (signed by a trusted key, digests and tree hashes right) into
// the local cache, at most Jobs at a time. Entries already local are
// left alone; rejected ones are warnings. It returns how many entries
// it saw per kind.
func (c *Cache) PullAll(ctx context.Context) (map[string]int, error) {
	seen := map[string]int{}
	if c.reads == nil {
		return seen, errors.New("the remote cache cannot be read (see the warning above)")
	}
	type item struct{ kind, key string }
	var items []item
	for _, from := range c.opt.From {
		tags, err := c.reads.Tags(from)
		if err != nil {
			return seen, err
		}
		for _, t := range tags {
			kind, key, ok := strings.Cut(t, "-")
			if !ok {
				continue
			}
			switch kind {
			case KindLayer, KindDeb, KindStep, KindUnpacked, KindListing:
				items = append(items, item{kind, key})
				seen[kind]++
			}
		}
	}
	jobs := c.opt.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	var g errgroup.Group
	g.SetLimit(jobs)
	for _, it := range items {
		g.Go(func() error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch it.kind {
			case KindLayer:
				c.Get(layersKind, it.key+".json") //nolint:errcheck // a miss or rejection is reported by lookup
			case KindDeb:
				c.HasBlob(it.key)
			default:
				local := stepOutKind
				for k, ek := range treeKinds {
					if ek == it.kind {
						local = k
					}
				}
				_, err := c.Cache.PutDir(local, it.key, func(tmp string) error {
					if c.fetchTree(it.kind, it.key, tmp) {
						return nil
					}
					return errNotRemote
				})
				if err != nil && !errors.Is(err, errNotRemote) {
					return err
				}
			}
			return nil
		})
	}
	return seen, g.Wait()
}

// prefetchJobs bounds Prefetch's parallel lookups: they wait on the
// network, so more than the CPU count.
const prefetchJobs = 8

// Prefetch implements build.Prefetcher: every layer record of keys
// ("KEY.json") missing locally is looked up in the remotes at once, so
// the downloads overlap; the layer jobs then find them locally.
func (c *Cache) Prefetch(kind string, keys []string) {
	if kind != layersKind || c.reads == nil || len(c.opt.Trust) == 0 {
		return
	}
	var g errgroup.Group
	g.SetLimit(prefetchJobs)
	for _, k := range keys {
		g.Go(func() error {
			if c.ctx.Err() == nil {
				c.Get(kind, k) //nolint:errcheck // a miss is built by the layer job
			}
			return nil
		})
	}
	g.Wait() //nolint:errcheck // nothing returns an error
}
