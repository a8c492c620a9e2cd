package layer

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
)

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]Compression{
		"": Gzip, "gzip": Gzip, "gzip:5": Gzip, "gzip:1": "gzip:1", "gzip:9": "gzip:9",
		"pgzip": PGzip, "pgzip:5": PGzip, "pgzip:1": "pgzip:1", "zstd": Zstd, "none": None,
	} {
		if got, err := ParseCompression(in); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"gzip:0", "gzip:10", "gzip:", "gzip:x", "zstd:3", "none:1", "lz4", "GZIP"} {
		if c, err := ParseCompression(in); err == nil || !strings.Contains(err.Error(), "gzip:1 (fastest) to gzip:9") {
			t.Errorf("ParseCompression(%q) = %q, %v; want an error listing the choices", in, c, err)
		}
	}
}

// bigEntries is ~3.5 MiB of compressible, not trivial text in a few files:
// more than three pgzip blocks.
func bigEntries(t *testing.T) []closure.Entry {
	t.Helper()
	rnd := rand.New(rand.NewPCG(7, 11))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while strata layers debian packages into reproducible images")
	var es []closure.Entry
	for i := range 5 {
		var b strings.Builder
		for b.Len() < 700<<10 {
			b.WriteString(words[rnd.IntN(len(words))])
			b.WriteByte(" \n"[rnd.IntN(2)])
			fmt.Fprintf(&b, "%d ", rnd.IntN(1000))
		}
		es = append(es, file(fmt.Sprintf("data/f%d.txt", i), b.String(), 0o644))
	}
	es, err := Normalize(es)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func streamBytes(t *testing.T, es []closure.Entry, c Compression) ([]byte, Info) {
	t.Helper()
	var buf bytes.Buffer
	info, err := Stream(context.Background(), &buf, es, epoch, c)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	s := sha256.Sum256(buf.Bytes())
	if got := hex.EncodeToString(s[:]); got != info.Digest.Hex || int64(buf.Len()) != info.Size {
		t.Fatalf("%s: blob sha256 %s (%d bytes), info says %s (%d)", c, got, buf.Len(), info.Digest.Hex, info.Size)
	}
	return buf.Bytes(), info
}

// gunzipHash checks that any gzip reader gets the tar back.
func gunzipHash(t *testing.T, blob []byte, c Compression) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestGzipLevels(t *testing.T) {
	es := bigEntries(t)
	def, defInfo := streamBytes(t, es, Gzip)
	five, _ := streamBytes(t, es, "gzip:5") // not canonical, still level 5
	if !bytes.Equal(def, five) {
		t.Error("gzip:5 wrote other bytes than gzip (the default level is 5)")
	}
	sizes := map[Compression]int{}
	for _, c := range []Compression{"gzip:1", "gzip:9", PGzip, "pgzip:1"} {
		blob, info := streamBytes(t, es, c)
		sizes[c] = len(blob)
		if info.DiffID != defInfo.DiffID || info.MediaType != defInfo.MediaType {
			t.Errorf("%s: diffID %s media type %s, gzip's %s %s", c, info.DiffID, info.MediaType, defInfo.DiffID, defInfo.MediaType)
		}
		if got := gunzipHash(t, blob, c); got != defInfo.DiffID.Hex {
			t.Errorf("%s: gunzip gives a tar with sha256 %s, want the diffID %s", c, got, defInfo.DiffID.Hex)
		}
		if bytes.Equal(blob, def) {
			t.Errorf("%s wrote the same bytes as gzip", c)
		}
	}
	if !(sizes["gzip:9"] < len(def) && len(def) < sizes["gzip:1"]) {
		t.Errorf("sizes gzip:9 %d, gzip %d, gzip:1 %d: want smaller with a higher level", sizes["gzip:9"], len(def), sizes["gzip:1"])
	}
	t.Logf("tar %d bytes; gzip:1 %d, gzip %d, gzip:9 %d, pgzip %d", defInfo.TarSize, sizes["gzip:1"], len(def), sizes["gzip:9"], sizes[PGzip])
}

// pgzip's bytes depend on the input and level only: not on the number of
// cores compressing blocks at once.
func TestPGzipDeterministic(t *testing.T) {
	es := bigEntries(t)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one, _ := streamBytes(t, es, PGzip)
	runtime.GOMAXPROCS(8)
	eight, _ := streamBytes(t, es, PGzip)
	if !bytes.Equal(one, eight) {
		t.Fatal("pgzip wrote other bytes with 8 procs than with 1")
	}
	// Pinned: a change here changes the digest of every pgzip layer.
	fx, err := Normalize(fixture())
	if err != nil {
		t.Fatal(err)
	}
	_, info := streamBytes(t, fx, PGzip)
	if want := pgzipGolden; info.Digest.String() != want {
		t.Errorf("pgzip digest of the fixture %s, want %s", info.Digest, want)
	}
}

const pgzipGolden = "sha256:ebce2f48064dd7bc0dc72f394a2e8886453dfd1dd630c62b0352dd176e65e792"

func TestKeyCoversCompression(t *testing.T) {
	c := closure.StaticContents{ID: "k", List: fixture()}
	keys := map[string]Compression{}
	for _, comp := range []Compression{None, Gzip, "gzip:1", "gzip:9", PGzip, "pgzip:1", Zstd} {
		k := Spec{Contents: []closure.Contents{c}, MTime: epoch, Compression: comp}.Key()
		if other, dup := keys[k]; dup {
			t.Errorf("%s and %s share the layer key %s", comp, other, k)
		}
		keys[k] = comp
	}
}
