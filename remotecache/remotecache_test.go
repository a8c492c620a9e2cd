package remotecache

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/registry/registrytest"
	"github.com/stratabuild/strata/step"
	"github.com/stratabuild/strata/store"
)

func newKey(t *testing.T, name string) (*SignKey, TrustKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &SignKey{Name: name, Key: priv}, TrustKey{Name: name, Key: pub}
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func fileEntry(path, content string) closure.Entry {
	return closure.Entry{Path: path, Type: closure.Regular, Mode: 0o644, Size: int64(len(content)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

func layerSpec(content string) layer.Spec {
	return layer.Spec{
		Contents:    []closure.Contents{closure.StaticContents{ID: "test:" + content, List: []closure.Entry{fileEntry("etc/greeting", content)}}},
		MTime:       time.Unix(1, 0),
		Compression: layer.Gzip,
	}
}

// fakeDeb is an ar archive's magic and some bytes: what Flush takes for a .deb.
const fakeDeb = "!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"

func warnings(rec *events.Recorder) string {
	var b strings.Builder
	for _, e := range rec.Of(events.Warning) {
		b.WriteString(e.Text() + "\n")
	}
	return b.String()
}

func stepTree(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "README"), []byte("read me\n"), 0o644)
	os.Symlink("bin/tool", filepath.Join(dir, "tool"))
	return dir
}

func copyInto(src string) func(string) error {
	return func(dst string) error {
		return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			rel, _ := filepath.Rel(src, p)
			if err != nil || rel == "." {
				return err
			}
			to := filepath.Join(dst, rel)
			info, _ := d.Info()
			switch {
			case d.IsDir():
				return os.Mkdir(to, 0o755)
			case info.Mode()&os.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				return os.Symlink(l, to)
			}
			b, _ := os.ReadFile(p)
			return os.WriteFile(to, b, info.Mode().Perm())
		})
	}
}

// machineA builds a layer, a step output and "downloads" a .deb through
// the tier and writes them back to repo.
func machineA(t *testing.T, repo string, sk *SignKey) (layer.Info, string, string) {
	ctx := context.Background()
	a := New(ctx, newStore(t), Options{To: repo, Sign: sk, TreeHash: step.TreeHash})
	l, err := layer.Build(ctx, a, layerSpec("hello"))
	if err != nil {
		t.Fatal(err)
	}
	deb, err := a.PutBlob(strings.NewReader(fakeDeb), "")
	if err != nil {
		t.Fatal(err)
	}
	src := stepTree(t)
	for _, kind := range []string{stepOutKind, unpackedKind} {
		if _, err := a.PutDir(kind, "stepkey1", copyInto(src)); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := step.TreeHash(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	a.Flush(ctx)
	if s := a.Stats(); s.Pushed[KindLayer] != 1 || s.Pushed[KindDeb] != 1 || s.Pushed[KindStep] != 1 || s.Pushed[KindUnpacked] != 1 {
		t.Fatalf("machine A pushed %v, want one layer, one deb, one step output", s.Pushed)
	}
	return l.Info(), deb, tree
}

func TestTwoMachinesShareLayersStepsAndDebs(t *testing.T) {
	for name, host := range map[string]func(t *testing.T) string{
		"docker-registry": func(t *testing.T) string { return registrytest.Start(t) },
		"in-process": func(t *testing.T) string {
			srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
			t.Cleanup(srv.Close)
			return strings.TrimPrefix(srv.URL, "http://")
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			repo := host(t) + "/strata/cache"
			sk, tk := newKey(t, "ci")
			info, deb, tree := machineA(t, repo, sk)

			rec := &events.Recorder{}
			stB := newStore(t)
			b := New(ctx, stB, Options{From: []string{repo}, Trust: []TrustKey{tk}, Events: events.New(rec.Handle), TreeHash: step.TreeHash})
			l, err := layer.Build(ctx, b, layerSpec("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if l.Info() != info {
				t.Fatalf("machine B's layer %+v, machine A's %+v", l.Info(), info)
			}
			if !b.HasBlob(deb) {
				t.Fatal("machine B does not find the .deb")
			}
			for _, kind := range []string{stepOutKind, unpackedKind} {
				ran := false
				dir, err := b.PutDir(kind, "stepkey1", func(string) error { ran = true; return nil })
				if err != nil {
					t.Fatal(err)
				}
				got, err := step.TreeHash(ctx, dir)
				if err != nil || got != tree || ran {
					t.Fatalf("%s: tree %s (want %s), err %v, ran %v", kind, got, tree, err, ran)
				}
				if fi, err := os.Lstat(filepath.Join(dir, "tool")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Fatalf("%s: the symlink did not come back: %v", kind, err)
				}
			}
			if s := b.Stats(); s.Fetched[KindLayer] != 1 || s.Fetched[KindDeb] != 1 || s.Fetched[KindStep] != 1 || s.Fetched[KindUnpacked] != 1 {
				t.Fatalf("machine B fetched %v", s.Fetched)
			}
			if w := warnings(rec); w != "" {
				t.Fatalf("warnings: %s", w)
			}
			// Now local: a fresh tier over B's store asks no remote.
			c := New(ctx, stB, Options{From: []string{"127.0.0.1:1/nothing"}})
			if _, err := layer.Build(ctx, c, layerSpec("hello")); err != nil {
				t.Fatal(err)
			}
			if s := c.Stats(); len(s.Fetched) != 0 {
				t.Fatalf("a warm local cache fetched %v", s.Fetched)
			}
		})
	}
}

// pushEntry writes a hand-made entry of kind layer for key.
func pushEntry(t *testing.T, st *store.Store, ref string, rec record, blob *blobLayer, sig func(v1.Hash) string) {
	t.Helper()
	img, err := buildEntry(rec, blob, sig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Push(context.Background(), ref, img, nil, registry.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestRejectedEntriesAreIgnoredWithAWarning(t *testing.T) {
	ctx := context.Background()
	repo := registrytest.Start(t) + "/strata/cache"
	sk, tk := newKey(t, "ci")
	other, _ := newKey(t, "mallory")

	// A real layer, built locally, to take the blob and record from.
	stA := newStore(t)
	spec := layerSpec("payload")
	l, err := layer.Build(ctx, stA, spec)
	if err != nil {
		t.Fatal(err)
	}
	info := l.Info()
	recJSON, err := stA.Get(layersKind, spec.Key()+".json")
	if err != nil {
		t.Fatal(err)
	}
	blob := &blobLayer{c: stA, hash: info.Digest, size: info.Size, mt: info.MediaType}
	good := record{Kind: KindLayer, Key: spec.Key(), TreeHash: info.DiffID.String(), Layer: recJSON}
	signedBy := func(k *SignKey, r record) func(v1.Hash) string {
		return func(cfg v1.Hash) string { return sign(k, sigPayload(r.Kind, r.Key, blob.hash, r.TreeHash, cfg)) }
	}
	// Another layer's blob, for an entry whose digest was swapped.
	l2, err := layer.Build(ctx, stA, layerSpec("other"))
	if err != nil {
		t.Fatal(err)
	}
	blob2 := &blobLayer{c: stA, hash: l2.Info().Digest, size: l2.Info().Size, mt: l2.Info().MediaType}

	cases := []struct {
		name, want string
		push       func(ref string)
	}{
		{"unsigned", "not signed", func(ref string) {
			pushEntry(t, stA, ref, good, blob, func(v1.Hash) string { return "" })
		}},
		{"untrusted key", "mallory, which is not trusted", func(ref string) {
			pushEntry(t, stA, ref, good, blob, signedBy(other, good))
		}},
		{"tree hash changed", "does not verify", func(ref string) {
			bad := good
			bad.TreeHash = l2.Info().DiffID.String()
			pushEntry(t, stA, ref, bad, blob, signedBy(sk, good))
		}},
		{"tree hash changed and re-signed over the lie", "does not match its blob", func(ref string) {
			bad := good
			bad.TreeHash = l2.Info().DiffID.String()
			pushEntry(t, stA, ref, bad, blob, signedBy(sk, bad))
		}},
		{"digest changed", "does not verify", func(ref string) {
			pushEntry(t, stA, ref, good, blob2, signedBy(sk, good))
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := repo + string(rune('a'+i))
			tc.push(r + ":" + Tag(KindLayer, spec.Key()))
			rec := &events.Recorder{}
			stB := newStore(t)
			b := New(ctx, stB, Options{From: []string{r}, Trust: []TrustKey{tk}, Events: events.New(rec.Handle)})
			got, err := layer.Build(ctx, b, spec)
			if err != nil {
				t.Fatal(err)
			}
			if got.Info() != info {
				t.Fatalf("built %+v, want %+v", got.Info(), info)
			}
			if s := b.Stats(); s.Fetched[KindLayer] != 0 {
				t.Fatalf("a rejected entry was used: %v", s.Fetched)
			}
			w := warnings(rec)
			if !strings.Contains(w, "ignoring remote cache entry "+r+":layer-") || !strings.Contains(w, tc.want) {
				t.Fatalf("warnings %q do not name the entry and %q", w, tc.want)
			}
		})
	}
}

func TestDeadRemoteIsAWarningAndAskedOnce(t *testing.T) {
	ctx := context.Background()
	rec := &events.Recorder{}
	c := New(ctx, newStore(t), Options{
		From: []string{"127.0.0.1:1/cache"}, To: "127.0.0.1:1/cache", Events: events.New(rec.Handle),
		Registry: registry.Options{Retries: -1}, Sign: &SignKey{Name: "k", Key: ed25519.NewKeyFromSeed(make([]byte, 32))},
		Trust: []TrustKey{{Name: "k", Key: ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)}},
	})
	for _, s := range []string{"a", "b"} {
		if _, err := layer.Build(ctx, c, layerSpec(s)); err != nil {
			t.Fatal(err)
		}
	}
	c.Flush(ctx)
	w := warnings(rec)
	if n := strings.Count(w, "warning: remote cache 127.0.0.1:1/cache failed"); n != 1 {
		t.Fatalf("want one read warning, got %d: %s", n, w)
	}
	if !strings.Contains(w, "writing to remote cache 127.0.0.1:1/cache failed") {
		t.Fatalf("no write warning: %s", w)
	}
}

// Without a trusted key, signed kinds are not even asked for: only .debs.
func TestNoTrustAsksOnlyForDebs(t *testing.T) {
	ctx := context.Background()
	repo := registrytest.Start(t) + "/strata/cache"
	sk, _ := newKey(t, "ci")
	_, deb, _ := machineA(t, repo, sk)
	b := New(ctx, newStore(t), Options{From: []string{repo}, TreeHash: step.TreeHash})
	if _, err := layer.Build(ctx, b, layerSpec("hello")); err != nil {
		t.Fatal(err)
	}
	if !b.HasBlob(deb) {
		t.Fatal("the .deb was not read without a trusted key")
	}
	if s := b.Stats(); s.Fetched[KindLayer] != 0 || s.Fetched[KindDeb] != 1 {
		t.Fatalf("fetched %v", s.Fetched)
	}
}

func TestKeygenAndLoad(t *testing.T) {
	base := filepath.Join(t.TempDir(), "team-ci")
	pub, key, err := Keygen(base)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v", key, fi.Mode().Perm())
	}
	sk, err := LoadSignKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := LoadTrustKey(pub)
	if err != nil || sk.Name != "team-ci" || tk.Name != "team-ci" {
		t.Fatalf("loaded %v %v: %v", sk.Name, tk.Name, err)
	}
	msg := []byte("m")
	if err := verifySig([]TrustKey{tk}, sign(sk, msg), msg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Keygen(base); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Fatalf("a second keygen: %v", err)
	}
	if _, err := LoadSignKey(pub); err == nil || !strings.Contains(err.Error(), "--cache-sign-key takes the .key file") {
		t.Fatalf("loading a .pub as the sign key: %v", err)
	}
}

// The tier hands out the local cache's blob files, so --oci links blobs
// with a remote cache as it does without one.
func TestBlobFileThroughTheTier(t *testing.T) {
	st := newStore(t)
	c := New(context.Background(), st, Options{})
	hex, err := c.PutBlob(strings.NewReader(fakeDeb), "")
	if err != nil {
		t.Fatal(err)
	}
	var f cache.Files = c
	p, err := f.BlobFile(hex)
	if err != nil {
		t.Fatal(err)
	}
	want, err := st.BlobFile(hex)
	if err != nil {
		t.Fatal(err)
	}
	if p != want {
		t.Fatalf("BlobFile through the tier = %s, want the local cache's %s", p, want)
	}
}

// A layer this process did not write (say, fetched from another signer's
// cache by an earlier build) has its diffID checked before it is signed
// and written back: a wrong one is not vouched for.
func TestWriteBackChecksForeignDiffIDs(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	sk, _ := newKey(t, "ci")
	for _, tc := range []struct {
		name   string
		tamper bool
		want   int
	}{{"right diffID", false, 1}, {"wrong diffID", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			spec := layerSpec("hello")
			if _, err := layer.Build(ctx, st, spec); err != nil { // not through the tier
				t.Fatal(err)
			}
			key := spec.Key()
			if tc.tamper {
				rec, err := st.Get("layers", key+".json")
				if err != nil {
					t.Fatal(err)
				}
				var info layer.Info
				if err := json.Unmarshal(rec, &info); err != nil {
					t.Fatal(err)
				}
				info.DiffID.Hex = strings.Repeat("1", 64)
				b, _ := json.Marshal(info)
				if err := st.Put("layers", key+".json", b); err != nil {
					t.Fatal(err)
				}
			}
			rec := &events.Recorder{}
			c := New(ctx, st, Options{To: host + "/c/" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")), Sign: sk, Events: events.New(rec.Handle)})
			c.NoteLayer(key)
			c.Flush(ctx)
			if got := c.Stats().Pushed[KindLayer]; got != tc.want {
				t.Fatalf("pushed %d layers, want %d; events %+v", got, tc.want, rec.Events)
			}
		})
	}
}

// Small records and payloads travel inline in the entry's manifest (the
// descriptor data field), so machine B reads them with no blob request;
// the blobs are still in the registry for readers that ignore data.
func TestSmallEntriesAreReadFromTheManifest(t *testing.T) {
	var mu sync.Mutex
	blobGets := 0
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			mu.Lock()
			blobGets++
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/strata/cache"
	sk, tk := newKey(t, "ci")
	info, deb, _ := machineA(t, repo, sk)
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, remote.WithContext(ctx))
	if err != nil || len(tags) != 4 {
		t.Fatalf("entries %v, %v: want 4", tags, err)
	}
	for _, tag := range tags {
		img, err := remote.Image(r.Tag(tag), remote.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.Data == nil || m.Layers[0].Data == nil {
			t.Fatalf("%s: a %d-byte record and a %d-byte payload are not inline", tag, m.Config.Size, m.Layers[0].Size)
		}
	}
	mu.Lock()
	blobGets = 0
	mu.Unlock()
	b := New(ctx, newStore(t), Options{From: []string{repo}, Trust: []TrustKey{tk}})
	l, err := layer.Build(ctx, b, layerSpec("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Info() != info || !b.HasBlob(deb) {
		t.Fatalf("machine B's layer %+v (A's %+v), .deb found %v", l.Info(), info, b.HasBlob(deb))
	}
	if s := b.Stats(); s.Fetched[KindLayer] != 1 || s.Fetched[KindDeb] != 1 {
		t.Fatalf("machine B fetched %v", s.Fetched)
	}
	mu.Lock()
	defer mu.Unlock()
	if blobGets != 0 {
		t.Fatalf("machine B made %d blob requests for entries whose blobs are inline", blobGets)
	}
}
