package sysfiles

import (
	"bytes"
	"crypto/sha1"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"unicode/utf16"
	"unicode/utf8"
)

// ASN.1 universal string tags.
const (
	tagUTF8      = 12
	tagNumeric   = 18
	tagPrintable = 19
	tagT61       = 20
	tagIA5       = 22
	tagUniversal = 28
	tagBMP       = 30
	tagSet       = 17
	tagSequence  = 16
)

// certSubject returns the DER of the subject Name of a PEM certificate
// holding exactly one certificate, and the certificate's DER.
func certSubject(pemBytes []byte) (subject, der []byte, err error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, errors.New("no PEM CERTIFICATE block")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, nil, errors.New("more than one PEM block")
	}
	var cert asn1.RawValue
	if _, err := asn1.Unmarshal(block.Bytes, &cert); err != nil {
		return nil, nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	var tbs asn1.RawValue
	if _, err := asn1.Unmarshal(cert.Bytes, &tbs); err != nil {
		return nil, nil, fmt.Errorf("parsing tbsCertificate: %w", err)
	}
	// tbsCertificate: [0] version OPTIONAL, serial, signature, issuer,
	// validity, subject, ...
	fields := tbs.Bytes
	var f asn1.RawValue
	idx := 0
	for {
		if fields, err = asn1.Unmarshal(fields, &f); err != nil {
			return nil, nil, fmt.Errorf("parsing tbsCertificate: %w", err)
		}
		if idx == 0 && f.Class == asn1.ClassContextSpecific && f.Tag == 0 {
			continue // the version
		}
		if idx == 4 {
			return f.FullBytes, block.Bytes, nil
		}
		idx++
	}
}

// subjectHash is OpenSSL's X509_NAME_hash (what `openssl x509
// -subject_hash` prints and `openssl rehash` names links by): the first
// four bytes, little-endian, of the SHA-1 of the name's canonical
// encoding.
func subjectHash(name []byte) (uint32, error) {
	canon, err := canonicalName(name)
	if err != nil {
		return 0, err
	}
	sum := sha1.Sum(canon)
	return binary.LittleEndian.Uint32(sum[:4]), nil
}

type atv struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// canonicalName re-encodes each RDN of a Name as a DER SET with string
// values converted to lowercased, space-folded UTF8String, concatenated
// without the outer SEQUENCE (OpenSSL's x509_name_canon).
func canonicalName(name []byte) ([]byte, error) {
	var rdns []asn1.RawValue
	if rest, err := asn1.Unmarshal(name, &rdns); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("parsing the subject name: %v", err)
	}
	var out []byte
	for _, rdn := range rdns {
		if rdn.Class != asn1.ClassUniversal || rdn.Tag != tagSet {
			return nil, errors.New("parsing the subject name: an RDN is not a SET")
		}
		var members [][]byte
		for rest := rdn.Bytes; len(rest) > 0; {
			var a atv
			var err error
			if rest, err = asn1.Unmarshal(rest, &a); err != nil {
				return nil, fmt.Errorf("parsing the subject name: %w", err)
			}
			v, err := canonicalValue(a.Value)
			if err != nil {
				return nil, err
			}
			oid, err := asn1.Marshal(a.Type)
			if err != nil {
				return nil, err
			}
			members = append(members, derTLV(tagSequence, true, append(oid, v...)))
		}
		sort.Slice(members, func(i, j int) bool { return bytes.Compare(members[i], members[j]) < 0 })
		out = append(out, derTLV(tagSet, true, bytes.Join(members, nil))...)
	}
	return out, nil
}

// canonicalValue returns the DER of an attribute value in canonical form.
func canonicalValue(v asn1.RawValue) ([]byte, error) {
	if v.Class != asn1.ClassUniversal {
		return v.FullBytes, nil
	}
	var s []byte
	switch v.Tag {
	case tagUTF8:
		if !utf8.Valid(v.Bytes) {
			return nil, errors.New("invalid UTF8String in a subject name")
		}
		s = v.Bytes
	case tagNumeric, tagPrintable, tagIA5, tagT61:
		// One byte per character (T61 read as Latin-1, as OpenSSL does).
		for _, b := range v.Bytes {
			s = utf8.AppendRune(s, rune(b))
		}
	case tagBMP:
		if len(v.Bytes)%2 != 0 {
			return nil, errors.New("odd-length BMPString in a subject name")
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(v.Bytes[2*i:])
		}
		for _, r := range utf16.Decode(u) {
			s = utf8.AppendRune(s, r)
		}
	case tagUniversal:
		if len(v.Bytes)%4 != 0 {
			return nil, errors.New("bad UniversalString in a subject name")
		}
		for i := 0; i < len(v.Bytes); i += 4 {
			s = utf8.AppendRune(s, rune(binary.BigEndian.Uint32(v.Bytes[i:])))
		}
	default:
		return v.FullBytes, nil
	}
	return derTLV(tagUTF8, false, foldSpaceLower(s)), nil
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r'
}

// foldSpaceLower trims ASCII whitespace, folds runs of it into one space
// and lowercases ASCII letters; other bytes are kept.
func foldSpaceLower(s []byte) []byte {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 0x80:
			out = append(out, c)
			i++
		case isSpace(c):
			out = append(out, ' ')
			for i < len(s) && isSpace(s[i]) {
				i++
			}
		default:
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
		}
	}
	return out
}

// derTLV encodes one universal-class DER element.
func derTLV(tag int, constructed bool, content []byte) []byte {
	b := byte(tag)
	if constructed {
		b |= 0x20
	}
	out := []byte{b}
	n := len(content)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var l []byte
		for ; n > 0; n >>= 8 {
			l = append([]byte{byte(n)}, l...)
		}
		out = append(out, 0x80|byte(len(l)))
		out = append(out, l...)
	}
	return append(out, content...)
}
