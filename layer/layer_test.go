package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/store"
)

func file(p, content string, mode fs.FileMode) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Regular, Mode: mode, Size: int64(len(content)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

var epoch = time.Unix(1, 0).UTC()

// fixture is a small fixed entry list; its digests are pinned below.
func fixture() []closure.Entry {
	return []closure.Entry{
		file("usr/bin/tool", "#!/bin/sh\necho tool\n", 0o755),
		{Path: "usr/bin/alias", Type: closure.Symlink, Mode: 0o777, Link: "tool"},
		file("etc/motd", "hello\n", 0o644),
		{Path: "tmp", Type: closure.Dir, Mode: 0o777 | fs.ModeSticky},
		file("usr/share/doc/a-b", "x", 0o644),
		{Path: "usr/bin/tool2", Type: closure.Hardlink, Link: "usr/bin/tool"},
		file("usr/sbin/suid", "s", 0o755|fs.ModeSetuid),
	}
}

func TestNormalizeSortsAddsParentsAndCanonicalisesHardlinks(t *testing.T) {
	es, err := Normalize(fixture())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Path+":"+e.Type.String())
	}
	want := []string{"etc:dir", "etc/motd:file", "tmp:dir", "usr:dir", "usr/bin:dir", "usr/bin/alias:symlink",
		"usr/bin/tool:file", "usr/bin/tool2:hardlink", "usr/sbin:dir", "usr/sbin/suid:file", "usr/share:dir",
		"usr/share/doc:dir", "usr/share/doc/a-b:file"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("entries:\n got %v\nwant %v", got, want)
	}
	// The hardlink group's smallest path holds the content.
	in := []closure.Entry{file("b/z", "data", 0o644), {Path: "a/first", Type: closure.Hardlink, Link: "b/z"}}
	es, err = Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		switch e.Path {
		case "a/first":
			if e.Type != closure.Regular {
				t.Errorf("a/first should hold the content, is %s", e.Type)
			}
		case "b/z":
			if e.Type != closure.Hardlink || e.Link != "a/first" {
				t.Errorf("b/z should link to a/first, is %s -> %s", e.Type, e.Link)
			}
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	cases := map[string][]closure.Entry{
		"absolute":          {file("/etc/x", "", 0o644)},
		"dotdot":            {file("../x", "", 0o644)},
		"unclean":           {file("a//b", "", 0o644)},
		"conflict":          {file("a", "1", 0o644), file("a", "2", 0o644)},
		"file as parent":    {file("a", "1", 0o644), file("a/b", "2", 0o644)},
		"dangling hardlink": {{Path: "x", Type: closure.Hardlink, Link: "nope"}},
	}
	for name, in := range cases {
		if _, err := Normalize(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Identical duplicates are fine.
	if _, err := Normalize([]closure.Entry{file("a", "1", 0o644), file("a", "1", 0o644)}); err != nil {
		t.Errorf("identical duplicate rejected: %v", err)
	}
}

func TestTarHeadersAreDeterministic(t *testing.T) {
	long := strings.Repeat("d/", 60) + "f"                            // 121 bytes: USTAR prefix split
	huge := strings.Repeat("x", 120) + "/" + strings.Repeat("y", 150) // needs PAX
	es, err := Normalize(append(fixture(), file(long, "l", 0o644), file(huge, "h", 0o644)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTar(context.Background(), &buf, es, epoch); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if h.Typeflag == tar.TypeXGlobalHeader {
			t.Fatal("global PAX header written")
		}
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: non-deterministic header %+v", h.Name, h)
		}
		wantPAX := strings.HasPrefix(h.Name, strings.Repeat("x", 120))
		if gotPAX := h.Format == tar.FormatPAX; gotPAX != wantPAX {
			t.Errorf("%s: format %v (PAX only where needed)", h.Name, h.Format)
		}
		switch h.Name {
		case "tmp/":
			if h.Mode != 0o1777 {
				t.Errorf("tmp mode %o", h.Mode)
			}
		case "usr/sbin/suid":
			if h.Mode != 0o4755 {
				t.Errorf("suid mode %o", h.Mode)
			}
		case "usr/bin/tool2":
			if h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/tool" {
				t.Errorf("hardlink %+v", h)
			}
		case "usr/":
			if h.Mode != 0o755 {
				t.Errorf("parent mode %o", h.Mode)
			}
		}
	}
	if n != len(es) {
		t.Errorf("wrote %d entries, want %d", n, len(es))
	}
}

// Golden digests of the fixture's layer. A change here changes every image
// digest strata produces: make it on purpose and say so in the commit.
var golden = map[Compression][2]string{
	None: {"sha256:543c5f6da9a79a8a75f323c76cb43615c0a932b335da9db45d19b8663702508e", "sha256:543c5f6da9a79a8a75f323c76cb43615c0a932b335da9db45d19b8663702508e"},
	Gzip: {"sha256:543c5f6da9a79a8a75f323c76cb43615c0a932b335da9db45d19b8663702508e", "sha256:a42c7cc8b136d92eccd8c8c5fc5b82133dfa0784876ec21bbe217b32843dc381"},
	Zstd: {"sha256:543c5f6da9a79a8a75f323c76cb43615c0a932b335da9db45d19b8663702508e", "sha256:9498cdd45513b668878f30682ecd3cc275418f5ba76043e19788639f7f72d7f7"},
}

func TestGoldenDigests(t *testing.T) {
	es, err := Normalize(fixture())
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range golden {
		info, err := Stream(context.Background(), io.Discard, es, epoch, c)
		if err != nil {
			t.Fatal(err)
		}
		got := [2]string{info.DiffID.String(), info.Digest.String()}
		if got != want {
			t.Errorf("%s: got diffID/digest %q, want %q", c, got, want)
		}
		if c == None && info.Digest != info.DiffID {
			t.Errorf("uncompressed digest %s != diffID %s", info.Digest, info.DiffID)
		}
	}
}

func TestBuildCachesAndVerifies(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	c := countingContents{StaticContents: closure.StaticContents{ID: "k1", List: fixture()}, calls: &calls}
	spec := Spec{Contents: []closure.Contents{c}, MTime: epoch, Compression: Gzip}
	l1, err := Build(context.Background(), st, spec)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := Build(context.Background(), st, spec)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("entries listed %d times; the second build should come from the cache", calls)
	}
	if l1.Info() != l2.Info() {
		t.Errorf("cached layer differs: %+v vs %+v", l1.Info(), l2.Info())
	}
	// The uncompressed stream hashes to the diffID.
	rc, err := l2.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != int(l2.Info().TarSize) {
		t.Errorf("tar size %d, recorded %d", len(b), l2.Info().TarSize)
	}
}

type countingContents struct {
	closure.StaticContents
	calls *int
}

func (c countingContents) Entries(ctx context.Context) ([]closure.Entry, error) {
	*c.calls++
	return c.StaticContents.Entries(ctx)
}

// A deep tree normalizes to every parent once; a path past PATH_MAX is
// refused. (Both once cost quadratic time: issue 15 hole 3.)
func TestNormalizeDeepPaths(t *testing.T) {
	var entries []closure.Entry
	p := ""
	for i := 0; i < 1500; i++ {
		p = path.Join(p, "d")
		entries = append(entries, closure.Entry{Path: p + "/f", Type: closure.Regular, Mode: 0o644, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }})
	}
	out, err := Normalize(entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3000 { // 1500 folders, 1500 files
		t.Fatalf("%d entries, want 3000", len(out))
	}
	deep := strings.Repeat("a/", 2100) + "f"
	if _, err := Normalize([]closure.Entry{{Path: deep, Type: closure.Regular, Mode: 0o644}}); err == nil || !strings.Contains(err.Error(), "PATH_MAX") {
		t.Fatalf("a %d-byte path: err = %v", len(deep), err)
	}
}

func BenchmarkNormalizeDeepTree(b *testing.B) {
	var entries []closure.Entry
	p := ""
	for i := 0; i < 1500; i++ {
		p = path.Join(p, "d")
		entries = append(entries, closure.Entry{Path: p + "/f", Type: closure.Regular, Mode: 0o644})
	}
	for i := 0; i < b.N; i++ {
		if _, err := Normalize(entries); err != nil {
			b.Fatal(err)
		}
	}
}

// checkedContents is closure.CheckedContents over the fixture: its check
// sees how many files the layer writer had read by then and fails with
// fail.
type checkedContents struct {
	closure.StaticContents
	fail        error
	reads       *int
	readAtCheck *int
}

func (c checkedContents) Entries(context.Context) ([]closure.Entry, error) {
	panic("Build must use CheckedEntries")
}

func (c checkedContents) CheckedEntries(context.Context) ([]closure.Entry, func() error, error) {
	es := append([]closure.Entry(nil), c.List...)
	for i := range es {
		if open := es[i].Open; open != nil {
			es[i].Open = func() (io.ReadCloser, error) { *c.reads++; return open() }
		}
	}
	return es, func() error { *c.readAtCheck = *c.reads; return c.fail }, nil
}

func TestBuildChecksAfterTheTarAndCommitsOnlyThen(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	es, err := Normalize(fixture())
	if err != nil {
		t.Fatal(err)
	}
	want, err := Stream(context.Background(), io.Discard, es, epoch, Gzip)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range es {
		if e.Type == closure.Regular {
			files++
		}
	}
	var reads, atCheck int
	bad := checkedContents{StaticContents: closure.StaticContents{ID: "checked", List: fixture()},
		fail: errors.New("store path was modified"), reads: &reads, readAtCheck: &atCheck}
	spec := Spec{Contents: []closure.Contents{bad}, MTime: epoch, Compression: Gzip}
	if _, err := Build(context.Background(), st, spec); err == nil || !strings.Contains(err.Error(), "was modified") {
		t.Fatalf("Build = %v, want the check's error", err)
	}
	if atCheck != files {
		t.Errorf("check ran after %d file reads, want after the tar's %d", atCheck, files)
	}
	if st.HasBlob(want.Digest.Hex) {
		t.Error("a layer whose check failed was committed to the store")
	}
	if _, err := st.Get(cacheKind, spec.Key()+".json"); err == nil {
		t.Error("a layer whose check failed was recorded")
	}
	// The same contents passing their check give the same layer as
	// the plain listing, read once.
	reads, atCheck = 0, 0
	good := bad
	good.fail = nil
	l, err := Build(context.Background(), st, Spec{Contents: []closure.Contents{good}, MTime: epoch, Compression: Gzip})
	if err != nil {
		t.Fatal(err)
	}
	if l.Info().Digest != want.Digest || l.Info().DiffID != want.DiffID {
		t.Errorf("checked layer %+v, plain %+v", l.Info(), want)
	}
	if reads != files || atCheck != files || !st.HasBlob(want.Digest.Hex) {
		t.Errorf("%d reads (%d before the check) for %d files; blob stored: %v", reads, atCheck, files, st.HasBlob(want.Digest.Hex))
	}
}

// VerifyDiffID accepts a layer's own blob, for every compression, and
// names what is wrong with a blob that is not it.
func TestVerifyDiffID(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range []Compression{Gzip, Zstd, None} {
		spec := Spec{Contents: []closure.Contents{closure.StaticContents{ID: "v-" + string(comp), List: fixture()}}, MTime: epoch, Compression: comp}
		l, err := Build(context.Background(), st, spec)
		if err != nil {
			t.Fatal(err)
		}
		blob := func() []byte {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		info := l.Info()
		if err := VerifyDiffID(bytes.NewReader(blob()), info); err != nil {
			t.Fatalf("%s: the layer's own blob: %v", comp, err)
		}
		wrong := info
		wrong.DiffID.Hex = strings.Repeat("0", 64)
		if err := VerifyDiffID(bytes.NewReader(blob()), wrong); err == nil || !strings.Contains(err.Error(), "diffID") {
			t.Errorf("%s: a wrong diffID: %v", comp, err)
		}
		b := blob()
		b[len(b)/2] ^= 0xff
		if err := VerifyDiffID(bytes.NewReader(b), info); err == nil {
			t.Errorf("%s: a corrupt blob passed", comp)
		}
	}
}
