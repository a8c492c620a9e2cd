package deb

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// syntheticPackages is a Packages index of n stanzas shaped like the
// archive's: every field a real amd64 stanza carries, most of them ones
// the parser skips.
func syntheticPackages(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Package: pkg%d\nSource: src%d (1.%d-1)\nVersion: 1.%d-1+b1\nInstalled-Size: %d\n", i, i/3, i, i, 100+i%5000)
		fmt.Fprintf(&b, "Maintainer: Some Maintainer <m%d@example.invalid>\nArchitecture: amd64\n", i%100)
		fmt.Fprintf(&b, "Depends: libc6 (>= 2.34), libfoo%d (>= 1.2), libbar | libbaz (<< 3)\n", i%50)
		fmt.Fprintf(&b, "Description: the package number %d\nHomepage: https://example.invalid/%d\n", i, i)
		fmt.Fprintf(&b, "Description-md5: %032x\nTag: devel::library, role::shared-lib, implemented-in::c\n", i)
		fmt.Fprintf(&b, "Section: libs\nPriority: optional\nFilename: pool/main/p/pkg%d/pkg%d_1.%d-1+b1_amd64.deb\n", i, i, i)
		fmt.Fprintf(&b, "Size: %d\nMD5sum: %032x\nSHA256: %064x\n\n", 1000+i, i, i)
	}
	return b.Bytes()
}

// BenchmarkParsePackages measures the Packages index parse, the cold
// path's hot loop (about the size of bookworm's main amd64 index).
func BenchmarkParsePackages(b *testing.B) {
	data := syntheticPackages(60000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		pk, err := ParsePackages(bytes.NewReader(data))
		if err != nil || len(pk) != 60000 {
			b.Fatal(len(pk), err)
		}
	}
}

// Folded relationship fields join with spaces; other fields keep their
// first line; stanzas without a kept field are skipped.
func TestParsePackagesFoldsRelations(t *testing.T) {
	text := "Package: a\nVersion: 1\nDepends: b,\n  c (>= 2),\n d\nDescription: short\n long text\n .\n more\nMaintainer: M <m@example.invalid>\n\n" +
		"Tag: only, unknown\n\n" +
		"Package: b\r\nVersion: 2\r\n"
	pk, err := ParsePackages(bytes.NewReader([]byte(text)))
	if err != nil {
		t.Fatal(err)
	}
	if len(pk) != 2 {
		t.Fatalf("%d packages: %+v", len(pk), pk)
	}
	if a := pk[0]; a.Depends != "b, c (>= 2), d" || a.Description != "short" || a.Maintainer != "M <m@example.invalid>" {
		t.Errorf("a = %+v", a)
	}
	if b := pk[1]; b.Name != "b" || b.Version != "2" {
		t.Errorf("b = %+v", b)
	}
	if _, err := ParsePackages(bytes.NewReader([]byte("Package: a\nVersion: 1\n continuation\nnot a field\n"))); err == nil {
		t.Error("a malformed index was accepted")
	}
}

// BenchmarkEncodeIndex measures the cold path's parse into the cached
// form, streaming (no package kept past its stanza).
func BenchmarkEncodeIndex(b *testing.B) {
	data := syntheticPackages(60000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		enc := newIndexEncoder(io.Discard, "amd64", "synthetic")
		if err := parsePackages(bytes.NewReader(data), enc.add); err != nil {
			b.Fatal(err)
		}
		if err := enc.finish(); err != nil {
			b.Fatal(err)
		}
	}
}
