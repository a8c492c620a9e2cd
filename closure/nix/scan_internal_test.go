package nix

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestScanHashesAcrossReads(t *testing.T) {
	h1 := "0c7kk3fqysqz8pbdzrfxhdak0hr7kfwr"
	h2 := "9v5jd8xz2ylsmrlb6yrk0gyqnx4h1w0r"
	known := map[string]string{h1: h1 + "-a", h2: h2 + "-b"}
	// h2 is embedded in a longer run of alphabet characters; h1 sits
	// after 64 KiB minus 10 bytes so it straddles the first chunk.
	content := strings.Repeat("\x00", 64<<10-10) + "/nix/store/" + h1 + "-glibc\x00xx" + h2 + "zz"
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(content),
		"one-byte": iotest.OneByteReader(strings.NewReader(content)),
		"half":     iotest.HalfReader(strings.NewReader(content)),
	} {
		got, err := scanHashes(r, known)
		if err != nil {
			t.Fatal(err)
		}
		if !got[h1] || !got[h2] || len(got) != 2 {
			t.Errorf("%s: found %v", name, got)
		}
	}
	got, _ := scanHashes(strings.NewReader(h1[:31]+"-"+h1[1:]), known)
	if len(got) != 0 {
		t.Errorf("partial hashes matched: %v", got)
	}
}

func BenchmarkScanHashes(b *testing.B) {
	data := bytes.Repeat([]byte("ELF\x00\x01abcdefghijklmnpqrs/nix/store/zzzz"), 1<<18) // ~9 MiB
	known := map[string]string{"0c7kk3fqysqz8pbdzrfxhdak0hr7kfwr": "x"}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := scanHashes(bytes.NewReader(data), known); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPURL(t *testing.T) {
	sp := "/nix/store/0c7kk3fqysqz8pbdzrfxhdak0hr7kfwr-glibc-2.38"
	if got, want := PURL(sp), "pkg:nix/glibc@2.38?outputhash=0c7kk3fqysqz8pbdzrfxhdak0hr7kfwr"; got != want {
		t.Errorf("PURL = %s, want %s", got, want)
	}
	if got := PURL("/nix/store/not-a-hash-tool"); got != "pkg:nix/not-a-hash-tool" {
		t.Errorf("PURL of a bad store path = %s", got)
	}
}
