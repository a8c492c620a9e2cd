package sysfiles

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stratabuild/strata/internal/testutil"
)

var (
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidE  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

type testATV struct {
	oid asn1.ObjectIdentifier
	tag int
	val []byte
}

// rawName encodes a Name whose RDNs hold the given attributes verbatim.
func rawName(t *testing.T, rdns ...[]testATV) []byte {
	t.Helper()
	var seq []byte
	for _, rdn := range rdns {
		var set []byte
		for _, a := range rdn {
			oid, err := asn1.Marshal(a.oid)
			if err != nil {
				t.Fatal(err)
			}
			set = append(set, derTLV(tagSequence, true, append(oid, derTLV(a.tag, false, a.val)...))...)
		}
		seq = append(seq, derTLV(tagSet, true, set)...)
	}
	return derTLV(tagSequence, true, seq)
}

func bmp(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func selfSigned(t *testing.T, subject []byte, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), RawSubject: subject, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSubjectHashMatchesOpenSSL compares subjectHash with `openssl x509
// -subject_hash` on certificates with awkward subjects.
func TestSubjectHashMatchesOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	subjects := map[string][]byte{
		"go-default": nil,
		"folding": rawName(t,
			[]testATV{{oidC, tagPrintable, []byte("US")}},
			[]testATV{{oidO, tagUTF8, []byte("  Mixed   CASE\tOrg \n")}},
			[]testATV{{oidCN, tagUTF8, []byte("ÄBC Root – ÉÀ")}}),
		"t61-latin1": rawName(t, []testATV{{oidCN, tagT61, []byte("Caf\xe9 Root CA")}}),
		"bmp":        rawName(t, []testATV{{oidCN, tagBMP, bmp("Ünïcode  ROOT")}}),
		"universal":  rawName(t, []testATV{{oidCN, tagUniversal, []byte{0, 0, 0, 'A', 0, 0, 0, 'b', 0, 0, 0xfc, 0x01}}}),
		"multi-valued": rawName(t,
			[]testATV{{oidOU, tagUTF8, []byte("Zeta Unit")}, {oidCN, tagPrintable, []byte("Alpha CN")}},
			[]testATV{{oidE, tagIA5, []byte("Root@Example.Invalid")}}),
	}
	dir := t.TempDir()
	for name, subject := range subjects {
		t.Run(name, func(t *testing.T) {
			pemBytes := selfSigned(t, subject, "Go Default  Name")
			file := filepath.Join(dir, name+".pem")
			if err := os.WriteFile(file, pemBytes, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(openssl, "x509", "-noout", "-subject_hash", "-in", file).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			raw, _, err := certSubject(pemBytes)
			if err != nil {
				t.Fatal(err)
			}
			h, err := subjectHash(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprintf("%08x", h), strings.TrimSpace(string(out)); got != want {
				t.Errorf("subject hash %s, openssl says %s", got, want)
			}
		})
	}
}

func TestCertSubjectRejects(t *testing.T) {
	one := selfSigned(t, nil, "a")
	for name, in := range map[string][]byte{
		"empty":   nil,
		"two":     append(append([]byte{}, one...), one...),
		"not-pem": []byte("hello"),
		"garbage": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}),
	} {
		if _, _, err := certSubject(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
