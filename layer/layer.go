package layer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
)

// Compression of layer blobs: "none", "gzip" (level 5), "gzip:1" to
// "gzip:9", "pgzip" or "pgzip:1" to "pgzip:9" (gzip compressed in 1 MiB
// blocks on every core: the same format, other bytes), or "zstd".
// ParseCompression gives the canonical spelling ("gzip:5" is "gzip"), so
// the value can go into cache keys as it is.
type Compression string

// Supported compressions.
const (
	None  Compression = "none"
	Gzip  Compression = "gzip"
	PGzip Compression = "pgzip"
	Zstd  Compression = "zstd"
)

// DefaultGzipLevel is the level of plain "gzip" (klauspost/compress's
// default: close to level 6's size at a good deal less CPU).
const DefaultGzipLevel = 5

// ParseCompression validates a --compression value.
func ParseCompression(s string) (Compression, error) {
	bad := func() (Compression, error) {
		return "", fmt.Errorf("unknown compression %q: use none, gzip, gzip:1 (fastest) to gzip:9 (smallest), pgzip or pgzip:1..9 (gzip on every core: other digests), or zstd", s)
	}
	switch Compression(s) {
	case None, Gzip, PGzip, Zstd:
		return Compression(s), nil
	case "":
		return Gzip, nil
	}
	algo, lvl, ok := strings.Cut(s, ":")
	if !ok || (algo != string(Gzip) && algo != string(PGzip)) || len(lvl) != 1 || lvl[0] < '1' || lvl[0] > '9' {
		return bad()
	}
	if int(lvl[0]-'0') == DefaultGzipLevel {
		return Compression(algo), nil
	}
	return Compression(s), nil
}

// gzipParams returns the gzip level and whether the blocks are
// compressed in parallel; ok is false for other compressions.
func (c Compression) gzipParams() (level int, parallel, ok bool) {
	algo, lvl, _ := strings.Cut(string(c), ":")
	if algo != string(Gzip) && algo != string(PGzip) {
		return 0, false, false
	}
	level = DefaultGzipLevel
	if lvl != "" {
		n, err := strconv.Atoi(lvl)
		if err != nil || n < 1 || n > 9 {
			return 0, false, false
		}
		level = n
	}
	return level, algo == string(PGzip), true
}

// MediaType is the OCI layer media type for a compression.
func (c Compression) MediaType() types.MediaType {
	switch c {
	case None:
		return types.OCIUncompressedLayer
	case Zstd:
		return types.OCILayerZStd
	}
	return types.OCILayer
}

// formatVersion changes whenever the bytes this package writes for the same
// input change, so old cache entries are not reused.
const formatVersion = "strata-layer-v1"

// Spec says what to put in one layer.
type Spec struct {
	// Contents of the nodes in the layer; their keys form the cache key.
	Contents    []closure.Contents
	MTime       time.Time
	Compression Compression
}

// Key is the hash of everything that determines the layer's bytes.
func (s Spec) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00", formatVersion, s.Compression, s.MTime.UTC().Unix())
	for _, c := range s.Contents {
		fmt.Fprintf(h, "%s\x00", c.Key())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Info is what the cache records of a finished layer.
type Info struct {
	Digest    v1.Hash         `json:"digest"`
	DiffID    v1.Hash         `json:"diffID"`
	Size      int64           `json:"size"`
	TarSize   int64           `json:"tarSize"`
	MediaType types.MediaType `json:"mediaType"`
}

// Build returns the layer for spec from the store, writing it first when
// it is not there yet. Concurrent builds of the same layer wait for one
// another.
func Build(ctx context.Context, st cache.Cache, spec Spec) (*Layer, error) {
	key := spec.Key()
	if l, err := load(st, key); err == nil {
		return l, nil
	}
	unlock, err := st.Lock("layer-" + key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if l, err := load(st, key); err == nil {
		return l, nil
	}
	var entries []closure.Entry
	// Contents that check their bytes against a recorded hash (a Nix
	// store path's narHash) do it from the reads that write the tar: one
	// read of each file makes the check, the tar, its diffID and the
	// blob's digest. The checks run before the blob is committed.
	var checks []func() error
	for _, c := range spec.Contents {
		var es []closure.Entry
		var err error
		if cc, ok := c.(closure.CheckedContents); ok {
			var check func() error
			es, check, err = cc.CheckedEntries(ctx)
			checks = append(checks, check)
		} else {
			es, err = c.Entries(ctx)
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	entries, err = Normalize(entries)
	if err != nil {
		return nil, err
	}
	info, err := writeBlob(ctx, st, entries, spec, checks)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(info)
	if err := st.Put(cacheKind, key+".json", b); err != nil {
		return nil, err
	}
	return &Layer{st: st, info: info, built: true}, nil
}

// cacheKind is the cache index holding a layer's Info by its key.
const cacheKind = "layers"

func load(st cache.Cache, key string) (*Layer, error) {
	b, err := st.Get(cacheKind, key+".json")
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, err
	}
	if !st.HasBlob(info.Digest.Hex) {
		return nil, os.ErrNotExist
	}
	return &Layer{st: st, info: info}, nil
}

// hashWriter hashes and counts what passes through to w.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// Stream writes the layer's tar for entries to w compressed with c, and
// returns digest and diffID computed in the same pass. Entries must be
// normalized.
func Stream(ctx context.Context, w io.Writer, entries []closure.Entry, mtime time.Time, c Compression) (Info, error) {
	blob := &hashWriter{w: w, h: sha256.New()}
	var cw io.WriteCloser
	level, parallel, isGzip := c.gzipParams()
	switch {
	case c == None:
		// The blob is the tar: hash it once, below.
		cw = nopCloser{w}
	case isGzip && parallel:
		// Blocks of 1 MiB, each with the previous block's last 32 KiB as
		// its dictionary: the bytes depend on the input and the level
		// only, never on how many blocks run at once.
		gz, err := pgzip.NewWriterLevel(blob, level)
		if err != nil {
			return Info{}, err
		}
		if err := gz.SetConcurrency(pgzipBlock, max(2, runtime.GOMAXPROCS(0))); err != nil {
			return Info{}, err
		}
		cw = gz
	case isGzip:
		if level == DefaultGzipLevel {
			level = gzip.DefaultCompression // the same bytes, as strata always wrote them
		}
		gz, err := gzip.NewWriterLevel(blob, level)
		if err != nil {
			return Info{}, err
		}
		cw = gz
	case c == Zstd:
		zw, err := zstd.NewWriter(blob, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return Info{}, err
		}
		cw = zw
	default:
		return Info{}, fmt.Errorf("unknown compression %q", c)
	}
	bw := bufio.NewWriterSize(cw, 256<<10)
	tarw := &hashWriter{w: bw, h: sha256.New()}
	if err := WriteTar(ctx, tarw, entries, mtime); err != nil {
		return Info{}, err
	}
	if err := bw.Flush(); err != nil {
		return Info{}, err
	}
	if err := cw.Close(); err != nil {
		return Info{}, err
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(tarw.h.Sum(nil))}
	info := Info{Digest: diffID, DiffID: diffID, Size: tarw.n, TarSize: tarw.n, MediaType: c.MediaType()}
	if c != None {
		info.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blob.h.Sum(nil))}
		info.Size = blob.n
	}
	return info, nil
}

// pgzipBlock is pgzip's block size; it decides pgzip's bytes, so a change
// needs a new formatVersion.
const pgzipBlock = 1 << 20

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// writeBlob writes the layer's blob into st; it is committed only when
// every check passes after the tar is written.
func writeBlob(ctx context.Context, st cache.Blobs, entries []closure.Entry, spec Spec, checks []func() error) (Info, error) {
	w, err := st.CreateBlob()
	if err != nil {
		return Info{}, fmt.Errorf("writing layer: %w", err)
	}
	fail := func(err error) (Info, error) {
		w.Abort()
		return Info{}, fmt.Errorf("writing layer: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	info, err := Stream(ctx, bw, entries, spec.MTime, spec.Compression)
	if err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	for _, check := range checks {
		if err := check(); err != nil {
			w.Abort()
			return Info{}, err
		}
	}
	if err := w.Commit(info.Digest.Hex); err != nil {
		return Info{}, fmt.Errorf("storing layer: %w", err)
	}
	return info, nil
}
