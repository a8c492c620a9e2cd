package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"crypto/sha256"
	"encoding/hex"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/registry"
	"golang.org/x/sync/errgroup"
)

// The local cache kinds this tier serves remotely; every other kind is
// the local cache's alone.
const (
	layersKind   = "layers"       // Index: KEY.json -> layer.Info (layer package)
	stepOutKind  = "step-out"     // Trees: a step's output by its input key (step package)
	unpackedKind = "deb-unpacked" // Trees: an unpacked .deb by SHA256-vN (debfile package)
	stepInfoKind = "step-info"    // Index: a step key -> its tree hash (step package)
	listingKind  = "deb-listing"  // Trees: a package's listing by SHA256-vN-lN (debfile package)
)

// Options configure the remote tier.
type Options struct {
	// From are the repositories read on a local miss, in order
	// ("HOST/REPO", "http://127.0.0.1:5000/cache").
	From []string
	// To is the repository written back to by Flush ("" writes nothing).
	To string
	// Registry is how registries are reached (credentials, retries,
	// mounts, push history): the same policy as --push.
	Registry registry.Options
	// Sign signs the input-addressed entries Flush writes; without it
	// only .debs are written.
	Sign *SignKey
	// Trust are the keys whose signatures are accepted when reading.
	Trust []TrustKey
	// Events receives the warnings (a dead remote, a rejected entry) and
	// the summary notice.
	Events *events.Log
	// Jobs bounds parallel pushes in Flush; 0 means 4.
	Jobs int
	// TreeHash hashes a step output folder (step.TreeHash): a fetched
	// output is used only when its hash is the signed one.
	TreeHash func(ctx context.Context, dir string) (string, error)
}

// Cache is a local cache.Cache with a remote tier.
type Cache struct {
	cache.Cache
	// ctx bounds every remote request made through the cache.Cache
	// methods, which take no context of their own (the build's).
	ctx context.Context
	opt Options
	log *events.Log
	// reads is the one registry session of every read (nil: reads are
	// off, the session could not be set up).
	reads *registry.Session

	mu      sync.Mutex
	dead    map[string]bool   // remotes that failed: not asked again
	missed  map[string]bool   // tags no remote has
	layers  map[string]bool   // layer keys the build used
	trees   map[treeID]string // trees the build used -> folder
	blobs   map[string]bool   // blobs the build asked for (.deb candidates)
	fetched map[string]int    // kind -> entries read from a remote
	built   map[string]bool   // layer keys this process wrote (their diffIDs are its own)
	pushed  map[string]int    // kind -> entries written to To
	made    map[string]int    // kind -> entries this build made itself
}

var _ cache.Cache = (*Cache)(nil)

// New wraps local; ctx bounds the remote requests of the cache methods.
func New(ctx context.Context, local cache.Cache, opt Options) *Cache {
	c := &Cache{
		Cache: local, ctx: ctx, opt: opt, log: opt.Events.With("cache"),
		dead: map[string]bool{}, missed: map[string]bool{}, layers: map[string]bool{},
		trees: map[treeID]string{}, blobs: map[string]bool{}, fetched: map[string]int{}, built: map[string]bool{}, pushed: map[string]int{}, made: map[string]int{},
	}
	if len(opt.From) > 0 {
		s, err := registry.NewSession(ctx, opt.Registry)
		if err != nil {
			c.log.Warnf("not reading the remote cache: %v", err)
		} else {
			c.reads = s
		}
	}
	return c
}

// Repositories are the From and To repositories, without duplicates.
func (c *Cache) Repositories() []string {
	var out []string
	for _, r := range append(append([]string(nil), c.opt.From...), c.opt.To) {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// WritesTo is the repository Flush writes to ("" for none).
func (c *Cache) WritesTo() string { return c.opt.To }

// Signs reports whether Flush signs what it writes (so layers and step
// outputs are written at all).
func (c *Cache) Signs() bool { return c.opt.Sign != nil }

// Stats are the counts of entries read and written, by kind.
type Stats struct {
	Fetched map[string]int `json:"fetched"`
	Pushed  map[string]int `json:"pushed"`
	// Made are the entries found nowhere that the build made itself
	// (layers written, steps run, .debs unpacked).
	Made map[string]int `json:"made"`
}

// Stats returns what the tier did so far.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Fetched: map[string]int{}, Pushed: map[string]int{}, Made: map[string]int{}}
	for k, v := range c.fetched {
		s.Fetched[k] = v
	}
	for k, v := range c.made {
		s.Made[k] = v
	}
	for k, v := range c.pushed {
		s.Pushed[k] = v
	}
	return s
}

// Get implements cache.Index: a "layers" record missing locally is looked
// up in the remotes.
func (c *Cache) Get(kind, key string) ([]byte, error) {
	b, err := c.Cache.Get(kind, key)
	lk, isLayer := strings.CutSuffix(key, ".json")
	if kind != layersKind || !isLayer {
		return b, err
	}
	if err == nil {
		c.use(func() { c.layers[lk] = true })
		return b, nil
	}
	if !errors.Is(err, cache.ErrNotFound) {
		return nil, err
	}
	rec, ok := c.fetchLayer(lk)
	if !ok {
		return nil, err
	}
	if perr := c.Cache.Put(kind, key, rec); perr != nil {
		return nil, perr
	}
	c.use(func() { c.layers[lk] = true })
	return rec, nil
}

// Put implements cache.Index, noting the layers the build made.
func (c *Cache) Put(kind, key string, rec []byte) error {
	if err := c.Cache.Put(kind, key, rec); err != nil {
		return err
	}
	if lk, ok := strings.CutSuffix(key, ".json"); ok && kind == layersKind {
		// Get stores fetched records itself: a Put is a layer made here.
		c.use(func() { c.layers[lk] = true; c.built[lk] = true; c.made[KindLayer]++ })
	}
	return nil
}

// IndexFile implements cache.IndexFiles for a local store that has files
// (records other than layers are never remote).
func (c *Cache) IndexFile(kind, key string) (string, error) {
	if f, ok := c.Cache.(cache.IndexFiles); ok {
		return f.IndexFile(kind, key)
	}
	return "", fmt.Errorf("%s/%s: the local cache keeps no files: %w", kind, key, cache.ErrNotFound)
}

// WriteIndex implements cache.IndexFiles, falling back to Put.
func (c *Cache) WriteIndex(kind, key string, write func(io.Writer) error) error {
	if f, ok := c.Cache.(cache.IndexFiles); ok {
		return f.WriteIndex(kind, key, write)
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	return c.Put(kind, key, b.Bytes())
}

// BlobFile implements cache.Files when the local cache does, so a sink
// links or reflinks blobs through the remote tier as it does without one
// (a blob read from a remote is stored locally before it is used).
func (c *Cache) BlobFile(hex string) (string, error) {
	f, ok := c.Cache.(cache.Files)
	if !ok {
		return "", errors.ErrUnsupported
	}
	return f.BlobFile(hex)
}

// HasBlob implements cache.Blobs: a blob missing locally is looked up as
// a .deb in the remotes (layer blobs come with their layer's record).
func (c *Cache) HasBlob(hex string) bool {
	if c.Cache.HasBlob(hex) {
		c.use(func() { c.blobs[hex] = true })
		return true
	}
	if !c.fetchDeb(hex) {
		return false
	}
	c.use(func() { c.blobs[hex] = true })
	return true
}

// PutBlob implements cache.Blobs, noting the blob (a downloaded .deb).
func (c *Cache) PutBlob(r io.Reader, want string) (string, error) {
	h, err := c.Cache.PutBlob(r, want)
	if err == nil {
		c.use(func() { c.blobs[h] = true })
	}
	return h, err
}

// treeID names a local tree the tier serves.
type treeID struct{ kind, key string }

// treeKinds maps the local tree kinds served remotely to entry kinds.
var treeKinds = map[string]string{stepOutKind: KindStep, unpackedKind: KindUnpacked, listingKind: KindListing}

// PutDir implements cache.Trees: a missing input-addressed step output,
// or unpacked .deb, is fetched from the remotes instead of calling fill.
func (c *Cache) PutDir(kind, key string, fill func(tmpDir string) error) (string, error) {
	ek, served := treeKinds[kind]
	if !served || strings.HasPrefix(key, "fo-") {
		// fo- entries are fixed-output steps, pinned by strata.lock.
		return c.Cache.PutDir(kind, key, fill)
	}
	dir, err := c.Cache.PutDir(kind, key, func(tmp string) error {
		if c.fetchTree(ek, key, tmp) {
			return nil
		}
		if err := fill(tmp); err != nil {
			return err
		}
		c.use(func() { c.made[ek]++ })
		return nil
	})
	if err == nil {
		c.use(func() { c.trees[treeID{kind, key}] = dir })
	}
	return dir, err
}

func (c *Cache) use(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// lookup asks each live remote for tag in order and calls got on the
// first entry found that got accepts; got returns a *rejected error for
// an entry that fails a check (a warning, then the next remote).
func (c *Cache) lookup(kind, key string, got func(img v1.Image, rec record, blob v1.Descriptor) error) bool {
	tag := Tag(kind, key)
	c.mu.Lock()
	missed := c.missed[tag]
	c.mu.Unlock()
	if missed || c.reads == nil || (kind != KindDeb && len(c.opt.Trust) == 0) {
		// Without a trusted key no signed entry could be used: not asked.
		return false
	}
	for _, from := range c.opt.From {
		c.mu.Lock()
		dead := c.dead[from]
		c.mu.Unlock()
		if dead {
			continue
		}
		ref := from + ":" + tag
		img, _, err := c.reads.Pull(ref)
		if registry.IsNotFound(err) {
			continue
		}
		if err == nil && img == nil {
			err = rejectf("it is an index, not a cache entry")
		}
		if err == nil {
			var rec record
			var blob v1.Descriptor
			rec, blob, err = checkEntry(img, kind, key, c.opt.Trust)
			if err == nil {
				err = got(img, rec, blob)
			}
		}
		if err == nil {
			c.use(func() { c.fetched[kind]++ })
			return true
		}
		var rj *rejected
		if errors.As(err, &rj) {
			c.log.Warnf("ignoring remote cache entry %s: %s", ref, rj.reason)
			continue
		}
		if c.ctx.Err() != nil {
			return false
		}
		c.log.Warnf("remote cache %s failed, going on without it: %v", from, err)
		c.use(func() { c.dead[from] = true })
	}
	c.use(func() { c.missed[tag] = true })
	return false
}

// fetchBlob copies an entry's payload into the local blobs, checked
// against its digest.
func (c *Cache) fetchBlob(img v1.Image, blob v1.Descriptor) error {
	if c.Cache.HasBlob(blob.Digest.Hex) {
		return nil
	}
	l, err := img.LayerByDigest(blob.Digest)
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	hw := &hashCount{w: io.Discard, h: sha256.New()}
	if _, err := c.Cache.PutBlob(io.TeeReader(rc, hw), blob.Digest.Hex); err != nil {
		if got := hex.EncodeToString(hw.h.Sum(nil)); hw.n == blob.Size && got != blob.Digest.Hex {
			return rejectf("its blob has digest sha256:%s, not %s", got, blob.Digest)
		}
		return err
	}
	return nil
}

func (c *Cache) fetchLayer(key string) ([]byte, bool) {
	var out []byte
	ok := c.lookup(KindLayer, key, func(img v1.Image, rec record, blob v1.Descriptor) error {
		var info struct {
			Digest, DiffID v1.Hash
			Size           int64
			MediaType      types.MediaType
		}
		if err := json.Unmarshal(rec.Layer, &info); err != nil {
			return rejectf("its layer record is unreadable: %v", err)
		}
		if info.Digest != blob.Digest || info.Size != blob.Size || info.DiffID.String() != rec.TreeHash {
			return rejectf("its layer record (digest %s, diffID %s) does not match its blob %s and tree hash %s", info.Digest, info.DiffID, blob.Digest, rec.TreeHash)
		}
		// The blob is checked by its digest; its diffID is the signed
		// record's (what the signer's tar hashed to). It is not
		// decompressed to check it again: that was half of a warm-remote
		// build's CPU. `strata cache verify` checks it, and so does Flush
		// before this process signs the layer for another remote.
		if err := c.fetchBlob(img, blob); err != nil {
			return err
		}
		out = rec.Layer
		return nil
	})
	return out, ok
}

// verifyDiffID decompresses the local blob of the layer info names and
// checks its diffID.
func (c *Cache) verifyDiffID(info layer.Info) error {
	rc, err := c.Cache.OpenBlob(info.Digest.Hex)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := layer.VerifyDiffID(rc, info); err != nil {
		return fmt.Errorf("layer %s: %w", info.Digest, err)
	}
	return nil
}

func (c *Cache) fetchDeb(hex string) bool {
	return c.lookup(KindDeb, hex, func(img v1.Image, _ record, blob v1.Descriptor) error {
		return c.fetchBlob(img, blob)
	})
}

func (c *Cache) fetchTree(kind, key, tmp string) bool {
	if c.opt.TreeHash == nil {
		return false
	}
	return c.lookup(kind, key, func(img v1.Image, rec record, blob v1.Descriptor) error {
		if err := c.fetchBlob(img, blob); err != nil {
			return err
		}
		rc, err := c.Cache.OpenBlob(blob.Digest.Hex)
		if err != nil {
			return err
		}
		defer rc.Close()
		clear := func() {
			ents, _ := os.ReadDir(tmp)
			for _, e := range ents {
				os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
		if err := extractTree(rc, tmp); err != nil {
			clear()
			return rejectf("its output archive does not unpack: %v", err)
		}
		got, err := c.opt.TreeHash(c.ctx, tmp)
		if err != nil {
			clear()
			return err
		}
		if got != rec.TreeHash {
			clear()
			return rejectf("its output has tree hash %s, not the signed %s", got, rec.TreeHash)
		}
		if kind != KindStep {
			return nil
		}
		return c.Cache.Put(stepInfoKind, key, []byte(got))
	})
}

// Flush writes every entry the build used that the To repository lacks:
// layers and step outputs (signed; only with Options.Sign) and .debs. A
// failing registry is a warning: the build's result stands.
func (c *Cache) Flush(ctx context.Context) {
	defer c.summary()
	if c.opt.To == "" {
		return
	}
	type job struct {
		kind, key string
		make      func() (v1.Image, error)
	}
	c.mu.Lock()
	var jobs []job
	layerBlobs := map[string]bool{}
	var layerKeys, blobHexes []string
	for k := range c.layers {
		layerKeys = append(layerKeys, k)
	}
	var treeIDs []treeID
	for id := range c.trees {
		treeIDs = append(treeIDs, id)
	}
	for h := range c.blobs {
		blobHexes = append(blobHexes, h)
	}
	trees := c.trees
	builtHere := maps.Clone(c.built)
	c.mu.Unlock()
	sort.Strings(layerKeys)
	sort.Slice(treeIDs, func(i, j int) bool { return treeIDs[i].kind+treeIDs[i].key < treeIDs[j].kind+treeIDs[j].key })
	sort.Strings(blobHexes)
	for _, k := range layerKeys {
		rec, err := c.Cache.Get(layersKind, k+".json")
		if err != nil {
			continue
		}
		var info layer.Info
		if json.Unmarshal(rec, &info) != nil {
			continue
		}
		layerBlobs[info.Digest.Hex] = true
		if c.opt.Sign == nil {
			continue
		}
		built := builtHere[k]
		jobs = append(jobs, job{KindLayer, k, func() (v1.Image, error) {
			if !built {
				// A layer this process did not write (read from a
				// remote, now or by an earlier build) carries another
				// signer's diffID: check it before vouching for it.
				if err := c.verifyDiffID(info); err != nil {
					return nil, err
				}
			}
			blob := &blobLayer{c: c.Cache, hash: info.Digest, size: info.Size, mt: info.MediaType}
			return newEntry(record{Kind: KindLayer, Key: k, TreeHash: info.DiffID.String(), Layer: rec}, blob, c.opt.Sign)
		}})
	}
	if c.opt.Sign != nil {
		for _, id := range treeIDs {
			ek, dir := treeKinds[id.kind], trees[id]
			jobs = append(jobs, job{ek, id.key, func() (v1.Image, error) { return c.treeEntry(ctx, ek, id.key, dir) }})
		}
	}
	for _, h := range blobHexes {
		if layerBlobs[h] || !c.isDeb(h) {
			continue
		}
		jobs = append(jobs, job{KindDeb, h, func() (v1.Image, error) {
			size, err := c.blobSize(h)
			if err != nil {
				return nil, err
			}
			blob := &blobLayer{c: c.Cache, hash: v1.Hash{Algorithm: "sha256", Hex: h}, size: size, mt: debMediaType}
			return newEntry(record{Kind: KindDeb, Key: h}, blob, nil)
		}})
	}
	if c.opt.Sign == nil && (len(layerKeys) > 0 || len(treeIDs) > 0) {
		c.log.Noticef("writing only .debs to remote cache %s: layers, step outputs and unpacked .debs must be signed (pass --cache-sign-key; make a key with `strata cache keygen NAME`)", c.opt.To)
	}
	ropt := c.opt.Registry
	ropt.Progress = nil
	jobsN := c.opt.Jobs
	if jobsN <= 0 {
		jobsN = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	fail := func(err error) {
		once.Do(func() {
			c.log.Warnf("writing to remote cache %s failed, the rest is not written (the build is done): %v", c.opt.To, err)
			cancel()
		})
	}
	sess, err := registry.NewSession(ctx, ropt)
	if err != nil {
		fail(err)
		return
	}
	// Two entries may hold the same blob (a step output and an unpacked
	// .deb with the same tree); uploading one blob twice at once makes
	// docker-registry answer DIGEST_INVALID, so pushes that share a blob
	// take turns.
	var locksMu sync.Mutex
	blobLocks := map[v1.Hash]*sync.Mutex{}
	lockBlobs := func(img v1.Image) func() {
		ls, err := img.Layers()
		if err != nil {
			return func() {}
		}
		var hs []v1.Hash
		for _, l := range ls {
			if h, err := l.Digest(); err == nil {
				hs = append(hs, h)
			}
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i].String() < hs[j].String() })
		var held []*sync.Mutex
		for i, h := range hs {
			if i > 0 && hs[i-1] == h {
				continue
			}
			locksMu.Lock()
			m := blobLocks[h]
			if m == nil {
				m = &sync.Mutex{}
				blobLocks[h] = m
			}
			locksMu.Unlock()
			m.Lock()
			held = append(held, m)
		}
		return func() {
			for _, m := range held {
				m.Unlock()
			}
		}
	}
	var g errgroup.Group
	g.SetLimit(jobsN)
	for _, j := range jobs {
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			ref := c.opt.To + ":" + Tag(j.kind, j.key)
			has, err := sess.Exists(ref)
			if err != nil {
				fail(err)
				return nil
			}
			if has {
				return nil
			}
			img, err := j.make()
			if err != nil {
				c.log.Warnf("not writing %s to the remote cache: %v", ref, err)
				return nil
			}
			unlock := lockBlobs(img)
			_, err = registry.Push(ctx, ref, img, nil, ropt)
			unlock()
			if err != nil {
				fail(err)
				return nil
			}
			c.use(func() { c.pushed[j.kind]++ })
			return nil
		})
	}
	g.Wait() //nolint:errcheck // failures are warnings
}

// treeEntry archives a tree (a step output, an unpacked .deb) into the
// local blobs and returns its entry.
func (c *Cache) treeEntry(ctx context.Context, kind, key, dir string) (v1.Image, error) {
	tree := ""
	if b, err := c.Cache.Get(stepInfoKind, key); kind == KindStep && err == nil {
		tree = string(b)
	} else if c.opt.TreeHash != nil {
		if tree, err = c.opt.TreeHash(ctx, dir); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("tree %s has no recorded tree hash", key)
	}
	w, err := c.Cache.CreateBlob()
	if err != nil {
		return nil, err
	}
	hw := &hashCount{w: w, h: sha256.New()}
	if err := writeTree(dir, hw); err != nil {
		w.Abort()
		return nil, err
	}
	h := hex.EncodeToString(hw.h.Sum(nil))
	if err := w.Commit(h); err != nil {
		return nil, err
	}
	blob := &blobLayer{c: c.Cache, hash: v1.Hash{Algorithm: "sha256", Hex: h}, size: hw.n, mt: stepMediaType}
	return newEntry(record{Kind: kind, Key: key, TreeHash: tree}, blob, c.opt.Sign)
}

type hashCount struct {
	w io.Writer
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashCount) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// isDeb reports whether a local blob is an ar archive (a .deb).
func (c *Cache) isDeb(hex string) bool {
	rc, err := c.Cache.OpenBlob(hex)
	if err != nil {
		return false
	}
	defer rc.Close()
	var magic [8]byte
	_, err = io.ReadFull(rc, magic[:])
	return err == nil && string(magic[:]) == "!<arch>\n"
}

func (c *Cache) blobSize(hex string) (int64, error) {
	rc, err := c.Cache.OpenBlob(hex)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

func (c *Cache) summary() {
	s := c.Stats()
	var parts []string
	for _, p := range []struct {
		m    map[string]int
		verb string
		ref  string
	}{{s.Fetched, "read from", strings.Join(c.opt.From, ", ")}, {s.Pushed, "wrote to", c.opt.To}} {
		if n := p.m[KindLayer] + p.m[KindStep] + p.m[KindDeb] + p.m[KindUnpacked] + p.m[KindListing]; n == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %d layers, %d step outputs, %d .debs, %d unpacked .debs, %d package listings", p.verb, p.ref, p.m[KindLayer], p.m[KindStep], p.m[KindDeb], p.m[KindUnpacked], p.m[KindListing]))
	}
	if len(parts) > 0 {
		c.log.Noticef("remote cache: %s", strings.Join(parts, "; "))
	}
}
