package nix

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Pairs printed by Nix 2.8 (nix-hash --type sha256 --to-base32 HEX).
var base32Golden = []struct{ hex, base32 string }{
	{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"},
	{"ffecbd2ee1c3da4c3fc90179311a773fff50882a047783de7fbde5d95a8ace15", "05ffi9ddkrdxgzg86xq45a451zrzfwd32y81r4zlrnn3w4pbvv7z"},
	{"494cdad037cf7d0a75ee816fc060b92663de1309602aff43c2f9ce55dade4c40", "0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29"},
}

func TestBase32Golden(t *testing.T) {
	for _, g := range base32Golden {
		b, _ := hex.DecodeString(g.hex)
		if got := EncodeBase32(b); got != g.base32 {
			t.Errorf("EncodeBase32(%s) = %s, want %s", g.hex, got, g.base32)
		}
		back, err := DecodeBase32(g.base32, len(b))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(back) != g.hex {
			t.Errorf("DecodeBase32(%s) = %x, want %s", g.base32, back, g.hex)
		}
	}
}

func TestBase32RoundTripOddSizes(t *testing.T) {
	for n := 1; n <= 64; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		s := EncodeBase32(b)
		if len(s) != Base32Len(n) {
			t.Fatalf("len(EncodeBase32(%d bytes)) = %d, want %d", n, len(s), Base32Len(n))
		}
		back, err := DecodeBase32(s, n)
		if err != nil || hex.EncodeToString(back) != hex.EncodeToString(b) {
			t.Fatalf("round trip of %d bytes: %x, %v", n, back, err)
		}
	}
}

func TestDecodeBase32Rejects(t *testing.T) {
	bad := []string{
		"0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e", // 'e' is not in the alphabet
		"0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7",  // too short
		"zmdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", // overflows 32 bytes
	}
	for _, s := range bad {
		if _, err := DecodeBase32(s, 32); err == nil {
			t.Errorf("DecodeBase32(%q) succeeded", s)
		}
	}
}

func TestParseHashForms(t *testing.T) {
	want := "sha256:0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29"
	forms := []string{
		want,
		"0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29",
		"sha256-SUza0DfPfQp17oFvwGC5JmPeEwlgKv9DwvnOVdreTEA=",
		"494cdad037cf7d0a75ee816fc060b92663de1309602aff43c2f9ce55dade4c40",
		"sha256:494cdad037cf7d0a75ee816fc060b92663de1309602aff43c2f9ce55dade4c40",
		"sha256:SUza0DfPfQp17oFvwGC5JmPeEwlgKv9DwvnOVdreTEA=",
	}
	for _, f := range forms {
		h, err := ParseHash(f)
		if err != nil {
			t.Errorf("ParseHash(%q): %v", f, err)
			continue
		}
		if h.String() != want {
			t.Errorf("ParseHash(%q) = %s, want %s", f, h, want)
		}
	}
	h, _ := ParseHash(want)
	if h.SRI() != forms[2] {
		t.Errorf("SRI() = %s, want %s", h.SRI(), forms[2])
	}
	for _, bad := range []string{"md5:abc", "sha512-AAAA", "sha256:xyz", "sha256-notbase64!"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		} else if !strings.Contains(err.Error(), "hash") {
			t.Errorf("ParseHash(%q) error %q does not say what was wrong", bad, err)
		}
	}
}

func TestParseName(t *testing.T) {
	cases := []struct{ path, name, version string }{
		{"/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo-app-2.3", "demo-app", "2.3"},
		{"/nix/store/7b638r5s1xa1946m2kkvs6w0ixw1q0pg-hello-script-1.0", "hello-script", "1.0"},
		{"/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-busybox-static", "busybox-static", ""},
		{"/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-glibc-2.37-8-bin", "glibc", "2.37-8-bin"},
		{"/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-python3.11-requests-2.31.0", "python3.11-requests", "2.31.0"},
		{"/nix/store/12z1zkb8dnvhzbx11wjzqjg1xvl7j96l-source", "source", ""},
	}
	for _, c := range cases {
		n, v := ParseName(c.path)
		if n != c.name || v != c.version {
			t.Errorf("ParseName(%s) = %q, %q; want %q, %q", c.path, n, v, c.name, c.version)
		}
	}
}

func TestCheckStorePath(t *testing.T) {
	good := "/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo-app-2.3"
	if err := checkStorePath(good); err != nil {
		t.Errorf("checkStorePath(%s): %v", good, err)
	}
	for _, bad := range []string{
		"nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo",
		"/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b",
		"/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3e-demo", // 'e' is not base32
		"/nix/store/short-demo",
		"/nix/store/ny6yp72nb5jzszr2dk719685z2m27v3b-demo/",
	} {
		if err := checkStorePath(bad); err == nil {
			t.Errorf("checkStorePath(%q) accepted it", bad)
		}
	}
}

// DecodeBase32 never panics, and what it decodes encodes back.
func FuzzDecodeBase32(f *testing.F) {
	f.Add("0", 0)
	f.Add("1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s", 32)
	f.Add("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 32)
	f.Fuzz(func(t *testing.T, s string, size int) {
		if size > 1<<16 {
			return
		}
		b, err := DecodeBase32(s, size)
		if err != nil {
			return
		}
		if got := EncodeBase32(b); got != s {
			t.Fatalf("DecodeBase32(%q) = %x, which encodes to %q", s, b, got)
		}
	})
}

func TestDecodeBase32SizeZero(t *testing.T) {
	if _, err := DecodeBase32("0", 0); err == nil {
		t.Fatal("size 0 accepted")
	}
}
