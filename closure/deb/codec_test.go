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
