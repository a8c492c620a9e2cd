package deb

import (
	"reflect"
	"testing"
)

func TestIndexCodecRoundTrip(t *testing.T) {
	idx := testIndex(t, baseIndex+stanza("lynx", "2.9-1", "amd64", "Provides: www-browser (= 2), http-client:any", "Essential: yes", "Size: 99", "Installed-Size: 7")+stanza("skip", "1", "i386"))
	l, err := buildLookup(idx, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	b := encodeIndex(idx.Packages, l)
	pk, l2, err := decodeIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pk, idx.Packages) {
		t.Fatalf("packages differ after a round trip:\n%+v\n%+v", pk, idx.Packages)
	}
	if !reflect.DeepEqual(l2.order, l.order) || !reflect.DeepEqual(l2.provs, l.provs) || len(l.provs) != 2 {
		t.Fatalf("lookup differs: %+v vs %+v", l2, l)
	}
	if got := l2.named("skip"); len(got) != 0 {
		t.Errorf("an i386 package is in the amd64 lookup")
	}
	if got := l2.provided("www-browser"); len(got) != 1 || got[0].version != "2" {
		t.Errorf("provided(www-browser) = %+v", got)
	}
	for _, n := range []int{0, 5, len(b) / 2, len(b) - 1} {
		if _, _, err := decodeIndex(b[:n]); err == nil {
			t.Errorf("a cache cut at %d bytes decoded", n)
		}
	}
	if _, _, err := decodeIndex(append(append([]byte(nil), b...), 0)); err == nil {
		t.Error("a cache with trailing bytes decoded")
	}
}

func FuzzDecodeIndex(f *testing.F) {
	pk := []Package{{Name: "a", Version: "1", Arch: "amd64", Provides: "v (= 1)"}, {Name: "b", Version: "2", Arch: "all"}}
	l, err := buildLookup(&Index{Packages: pk}, "amd64")
	if err != nil {
		f.Fatal(err)
	}
	good := encodeIndex(pk, l)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte(indexMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, l, err := decodeIndex(b)
		if err != nil {
			return
		}
		// whatever decodes must be usable by the resolver without panics
		for _, i := range l.order {
			_ = pk[i].Name
		}
		for _, p := range l.provs {
			_ = pk[p.pkg]
		}
	})
}

func FuzzParseRelations(f *testing.F) {
	for _, s := range []string{"a, b (>= 1) | c:any", "a [amd64] <!nocheck>", "(", "a (>= ", "a ] [", "| ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rels, err := parseRelations(s, "amd64")
		if err != nil {
			return
		}
		for _, r := range rels {
			for _, a := range r {
				if a.Name == "" {
					t.Fatalf("%q: empty name", s)
				}
			}
		}
	})
}
