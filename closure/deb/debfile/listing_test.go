package debfile_test

import (
	"context"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/closure/deb/debfile/debtest"
	"github.com/stratabuild/strata/store"
)

// A listing gives the Package unpacking gives (fields, scripts, entries
// in order, contents key); its inline files read without the .deb, any
// other file unpacks it, once.
func TestListingIsTheUnpackedPackage(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := debtest.Bytes(debtest.Deb{
		Scripts: map[string]string{"postinst": "#!/bin/sh\nupdate-alternatives --install /usr/bin/x x /usr/bin/x1 10\n"},
		Files: []debtest.File{{Name: "./usr/"}, {Name: "./usr/bin/"}, {Name: "./usr/bin/x1", Body: "binary\n", Mode: 0o755},
			{Name: "./usr/share/"}, {Name: "./usr/share/doc/"}, {Name: "./usr/share/doc/test/"}, {Name: "./usr/share/doc/test/copyright", Body: "License: MIT\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.PutBlob(strings.NewReader(string(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inline := func(e closure.Entry) bool { return e.Path == "usr/share/doc/test/copyright" }
	var fulls atomic.Int32
	full := func() (*debfile.Package, error) {
		fulls.Add(1)
		return debfile.UnpackBlob(ctx, st, sum)
	}
	made, err := debfile.Listing(ctx, st, sum, inline, full)
	if err != nil || fulls.Load() != 1 {
		t.Fatalf("making the listing: %v, %d unpacks", err, fulls.Load())
	}
	want, err := debfile.UnpackBlob(ctx, st, sum)
	if err != nil {
		t.Fatal(err)
	}
	fulls.Store(0)
	got, err := debfile.Listing(ctx, st, sum, inline, full)
	if err != nil || fulls.Load() != 0 {
		t.Fatalf("reading the listing: %v, %d unpacks", err, fulls.Load())
	}
	for _, p := range []*debfile.Package{made, got} {
		if p.Name != want.Name || p.Version != want.Version || p.Control != want.Control || p.MD5Sums != want.MD5Sums ||
			!reflect.DeepEqual(p.Fields, want.Fields) || !reflect.DeepEqual(p.Scripts, want.Scripts) || p.InstalledBytes != want.InstalledBytes ||
			p.Contents().Key() != want.Contents().Key() || len(p.Entries) != len(want.Entries) {
			t.Fatalf("listing %+v differs from the unpacked %+v", p, want)
		}
		for i, e := range p.Entries {
			w := want.Entries[i]
			if e.Path != w.Path || e.Type != w.Type || e.Mode != w.Mode || e.Size != w.Size || e.Link != w.Link || (e.Open == nil) != (w.Open == nil) {
				t.Fatalf("entry %d: %+v, unpacked %+v", i, e, w)
			}
		}
	}
	if s, err := got.Script("postinst"); err != nil || !strings.Contains(s, "update-alternatives") {
		t.Fatalf("postinst from the listing: %q %v", s, err)
	}
	read := func(path string) string {
		for _, e := range got.Entries {
			if e.Path == path {
				rc, err := e.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				b, _ := io.ReadAll(rc)
				return string(b)
			}
		}
		t.Fatalf("no %s", path)
		return ""
	}
	if s := read("usr/share/doc/test/copyright"); s != "License: MIT\n" || fulls.Load() != 0 {
		t.Fatalf("inline copyright %q, %d unpacks", s, fulls.Load())
	}
	if s := read("usr/bin/x1"); s != "binary\n" || fulls.Load() != 1 {
		t.Fatalf("x1 %q, %d unpacks", s, fulls.Load())
	}
	if s := read("usr/bin/x1"); s != "binary\n" || fulls.Load() != 1 {
		t.Fatalf("x1 again: %q, %d unpacks", s, fulls.Load())
	}
}
