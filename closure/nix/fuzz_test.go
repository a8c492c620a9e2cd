package nix

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Fuzz targets for what Nix hands strata: closure files, `nix path-info
// --json` and `nix build --json` output, and hashes (FuzzDecodeBase32 in
// hash_test.go covers Nix base32 with any size, 0 and negative included).
// Run one with `go test -run NONE -fuzz FuzzParseRegistration
// ./closure/nix`, all with scripts/fuzz.sh.

const (
	fuzzPathA = "/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo-1.0"
	fuzzPathB = "/nix/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-glibc-2.38"
	fuzzHash  = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
)

// ParseRegistration never panics; what it accepts is sorted, has valid
// and distinct store paths and valid references, and when every block
// carries its hash it survives FormatRegistration.
func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(fuzzPathA + "\n\n2\n" + fuzzPathA + "\n" + fuzzPathB + "\n" + fuzzPathB + "\n\n0\n"))
	f.Add([]byte(fuzzPathA + "\n" + fuzzHash + "\n1234\n/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv\n1\n" + fuzzPathB + "\n"))
	f.Add([]byte(fuzzPathA + "\nsha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n-1\n\n0\n"))
	f.Add([]byte(fuzzPathA + "\n\n99999999999999999999\n"))
	f.Add([]byte("/nix/store/../etc\n\n0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		infos, err := ParseRegistration(bytes.NewReader(b))
		if err != nil {
			return
		}
		checkInfos(t, infos)
		for _, in := range infos {
			if !in.HasHash {
				return
			}
		}
		out, err := FormatRegistration(infos)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRegistration(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-reading %q: %v", out, err)
		}
		if !reflect.DeepEqual(normal(infos), normal(again)) {
			t.Fatalf("round trip: %+v, then %+v", infos, again)
		}
	})
}

// normal makes nil and empty reference lists the same.
func normal(infos []PathInfo) []PathInfo {
	out := append([]PathInfo(nil), infos...)
	for i := range out {
		if len(out[i].References) == 0 {
			out[i].References = nil
		}
	}
	return out
}

func checkInfos(t *testing.T, infos []PathInfo) {
	t.Helper()
	if !sort.SliceIsSorted(infos, func(i, j int) bool { return infos[i].Path < infos[j].Path }) {
		t.Fatal("infos are not sorted by path")
	}
	for i, in := range infos {
		if err := checkStorePath(in.Path); err != nil {
			t.Fatalf("accepted path: %v", err)
		}
		if i > 0 && infos[i-1].Path == in.Path {
			t.Fatalf("%s listed twice", in.Path)
		}
		if in.NarSize < 0 {
			t.Fatalf("%s: narSize %d", in.Path, in.NarSize)
		}
		for _, r := range in.References {
			if err := checkStorePath(r); err != nil {
				t.Fatalf("%s: accepted reference: %v", in.Path, err)
			}
		}
	}
}

// parsePathInfoJSON never panics; what it accepts has valid store paths
// and references, and the list form and the object form of the same
// infos read the same.
func FuzzParsePathInfoJSON(f *testing.F) {
	f.Add([]byte(`[{"path":"` + fuzzPathA + `","narHash":"` + fuzzHash + `","narSize":12,"references":["` + fuzzPathB + `"],"deriver":"","valid":true}]`))
	f.Add([]byte(`{"` + fuzzPathA + `":{"narHash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","narSize":1,"references":["0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-glibc-2.38"]},"` + fuzzPathB + `":null}`))
	f.Add([]byte(`[{"path":"` + fuzzPathA + `","narHash":"` + fuzzHash + `","references":["../../etc"]}]`))
	f.Add([]byte(`[{"path":"` + fuzzPathA + `","valid":false}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		infos, err := parsePathInfoJSON(b)
		if err != nil {
			return
		}
		for _, in := range infos {
			if !in.HasHash {
				t.Fatalf("%s has no hash", in.Path)
			}
		}
		checkInfos(t, infos)
		obj := map[string]pathInfoJSON{}
		for _, in := range infos {
			obj[in.Path] = pathInfoJSON{NarHash: in.NarHash.SRI(), NarSize: in.NarSize, References: in.References, Deriver: in.Deriver}
		}
		ob, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parsePathInfoJSON(ob)
		if err != nil {
			t.Fatalf("the object form %s: %v", ob, err)
		}
		if len(infos) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(normal(infos), normal(again)) {
			t.Fatalf("list form %+v, object form %+v", infos, again)
		}
	})
}

// ParseHash never panics, and a hash it reads prints back (Nix base32,
// SRI, hex) to the same hash.
func FuzzParseHash(f *testing.F) {
	for _, s := range []string{fuzzHash, "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:", "sha256-", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			return
		}
		for _, form := range []string{h.String(), h.SRI(), hex.EncodeToString(h[:]), strings.TrimPrefix(h.String(), "sha256:")} {
			back, err := ParseHash(form)
			if err != nil || back != h {
				t.Fatalf("%q read as %x; its form %q reads as %x, %v", s, h, form, back, err)
			}
		}
	})
}

// parseBuildJSON never panics and returns only valid store paths, at
// least one.
func FuzzParseBuildJSON(f *testing.F) {
	f.Add([]byte(`[{"drvPath":"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv","outputs":{"out":"` + fuzzPathA + `","dev":"` + fuzzPathB + `"}}]`))
	f.Add([]byte(`[{"path":"` + fuzzPathA + `"}]`))
	f.Add([]byte(`[{"outputs":{"out":"relative"}}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		paths, err := parseBuildJSON(b)
		if err != nil {
			return
		}
		if len(paths) == 0 {
			t.Fatal("no paths and no error")
		}
		for _, p := range paths {
			if err := checkStorePath(p); err != nil {
				t.Fatalf("accepted %v", err)
			}
		}
	})
}
