package debfile_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/store"
)

// rawTar writes headers as given (any type flag, any size, PAX records),
// each body being Size zero bytes.
func rawTar(t *testing.T, hdrs []*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	zero := make([]byte, 64<<10)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("header %s: %v", h.Name, err)
		}
		for left := h.Size; left > 0; {
			n := min(left, int64(len(zero)))
			if _, err := tw.Write(zero[:n]); err != nil {
				t.Fatal(err)
			}
			left -= n
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t *testing.T, kind string, b []byte) ([]byte, string) {
	t.Helper()
	z, ext, err := debtest.Compress(kind, b)
	if err != nil {
		t.Fatal(err)
	}
	return z, ext
}

// rawDeb assembles a .deb from a control tarball and a data tarball.
func rawDeb(t *testing.T, ctlTar, dataTar []byte, extra ...debtest.Member) (string, string) {
	t.Helper()
	cz, cext := compress(t, "gz", ctlTar)
	dz, dext := compress(t, "xz", dataTar)
	ms := []debtest.Member{{Name: "debian-binary", Data: []byte("2.0\n")}, {Name: "control.tar" + cext, Data: cz}, {Name: "data.tar" + dext, Data: dz}}
	b := debtest.Ar(append(ms, extra...))
	p := filepath.Join(t.TempDir(), "hostile_1_all.deb")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func controlTar(t *testing.T, control string, more ...*tar.Header) []byte {
	hs := []*tar.Header{{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}}
	hs = append(hs, more...)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(make([]byte, h.Size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "./control", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(control))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(control))
	tw.Close()
	return b.Bytes()
}

const noSizeControl = "Package: hostile\nVersion: 1\nArchitecture: all\n"

// Each hostile .deb (issue 15 hole 7) expands from a few KB to far more
// than its limit, shrunk for the test; each is refused with ErrUnsafe,
// naming the limit, and leaves nothing in the cache.
func TestUnpackBudgets(t *testing.T) {
	gpax := func(i int) *tar.Header {
		return &tar.Header{Name: fmt.Sprintf("pax%d", i), Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": strings.Repeat("x", 200<<10)}, Format: tar.FormatPAX}
	}
	var paxes []*tar.Header
	for i := range 20 {
		paxes = append(paxes, gpax(i))
	}
	var many []*tar.Header
	many = append(many, &tar.Header{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o755})
	for i := range 300 {
		many = append(many, &tar.Header{Name: fmt.Sprintf("./usr/f%d", i), Typeflag: tar.TypeReg, Mode: 0o644})
	}
	okData := []*tar.Header{{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o755}}
	cases := []struct {
		name    string
		limits  debfile.Limits
		ctl     []byte
		data    []*tar.Header
		members []debtest.Member
		want    string
	}{
		// 4 GiB of an unknown type in control.tar, shrunk: 4 MiB against 1 MiB.
		{"control unknown type", debfile.Limits{ControlBytes: 1 << 20},
			controlTar(t, debtest.DefaultControl, &tar.Header{Name: "./junk", Typeflag: 'Z', Mode: 0o644, Size: 4 << 20}), okData, nil, "debfile.MaxControlBytes"},
		// 2.9 GiB of PAX global headers, shrunk: 4 MB against 1 MiB.
		{"pax global headers", debfile.Limits{Slack: 1 << 20},
			controlTar(t, debtest.DefaultControl), append(append([]*tar.Header{}, okData...), paxes...), nil, "its limit of"},
		// 8 GiB written from 305 KB: no Installed-Size, 16 MiB of zeros
		// from a few KB of xz, against 100 x compressed + 1 MiB.
		{"expansion", debfile.Limits{Slack: 1 << 20},
			controlTar(t, noSizeControl), append(append([]*tar.Header{}, okData...), &tar.Header{Name: "./usr/zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: 16 << 20}), nil, "debfile.MaxExpansion"},
		// 1 M files from 883 KB, shrunk: 302 entries against 100.
		{"entries", debfile.Limits{Entries: 100}, controlTar(t, noSizeControl), many, nil, "debfile.MaxEntries"},
		{"ar members", debfile.Limits{}, controlTar(t, noSizeControl), okData,
			func() []debtest.Member {
				var ms []debtest.Member
				for i := range 20 {
					ms = append(ms, debtest.Member{Name: fmt.Sprintf("_sig%d", i), Data: []byte("x")})
				}
				return ms
			}(), "debfile.MaxArMembers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			restore := debfile.SetLimits(c.limits)
			defer restore()
			base := t.TempDir()
			st, err := store.Open(filepath.Join(base, "cache"))
			if err != nil {
				t.Fatal(err)
			}
			p, sum := rawDeb(t, c.ctl, rawTar(t, c.data), c.members...)
			if fi, _ := os.Stat(p); fi.Size() > 64<<10 {
				t.Fatalf("the hostile .deb is %d bytes; it should be small", fi.Size())
			}
			_, err = debfile.Unpack(context.Background(), st, p, sum)
			if err == nil {
				t.Fatal("Unpack accepted a hostile .deb")
			}
			t.Log(err)
			if !errors.Is(err, debfile.ErrUnsafe) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "hostile_1_all.deb") {
				t.Errorf("err = %v, want ErrUnsafe naming %q and the .deb", err, c.want)
			}
			assertEmpty(t, filepath.Join(base, "cache", "tmp"))
			assertEmpty(t, filepath.Join(base, "cache", "deb-unpacked"))
		})
	}
}

// The same kinds of content within the limits unpack: the limits charge
// honest packages nothing they would notice.
func TestUnpackWithinBudgets(t *testing.T) {
	var hs []*tar.Header
	hs = append(hs, &tar.Header{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "pax", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "hello"}, Format: tar.FormatPAX})
	for i := range 50 {
		hs = append(hs, &tar.Header{Name: fmt.Sprintf("./usr/f%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: 1000})
	}
	restore := debfile.SetLimits(debfile.Limits{Entries: 100})
	defer restore()
	// Installed-Size 10 KiB for 50 KB of files: the 16x factor covers it.
	p, sum := rawDeb(t, controlTar(t, debtest.DefaultControl, &tar.Header{Name: "./junk", Typeflag: 'Z', Mode: 0o644, Size: 1000}), rawTar(t, hs))
	pkg, err := debfile.Unpack(context.Background(), openStore(t), p, sum)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Entries) != 51 {
		t.Errorf("%d entries, want 51", len(pkg.Entries))
	}
}
