package nix

import (
	"fmt"
)

// base32Alphabet is Nix's base32 alphabet: digits and lowercase letters
// without e, o, u and t.
const base32Alphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// Base32Len is the length of the Nix base32 form of n bytes.
func Base32Len(n int) int { return (n*8-1)/5 + 1 }

// EncodeBase32 renders b in Nix's base32. Nix reads the bytes as one
// little-endian bit string and prints its 5-bit groups from the most
// significant one down, so the output is not RFC 4648 base32.
func EncodeBase32(b []byte) string {
	n := Base32Len(len(b))
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		byteIdx, shift := bit/8, uint(bit%8)
		c := uint(b[byteIdx]) >> shift
		if byteIdx+1 < len(b) {
			c |= uint(b[byteIdx+1]) << (8 - shift)
		}
		out[n-1-i] = base32Alphabet[c&0x1f]
	}
	return string(out)
}

// DecodeBase32 parses s as the Nix base32 form of size bytes.
func DecodeBase32(s string, size int) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("nix base32 %q: a decoded size of %d bytes is not a hash", s, size)
	}
	if len(s) != Base32Len(size) {
		return nil, fmt.Errorf("nix base32 %q has %d characters, want %d for %d bytes", s, len(s), Base32Len(size), size)
	}
	out := make([]byte, size)
	for i := 0; i < len(s); i++ {
		c := s[len(s)-1-i]
		digit := -1
		for k := 0; k < len(base32Alphabet); k++ {
			if base32Alphabet[k] == c {
				digit = k
				break
			}
		}
		if digit < 0 {
			return nil, fmt.Errorf("nix base32 %q has the invalid character %q", s, c)
		}
		bit := i * 5
		byteIdx, shift := bit/8, uint(bit%8)
		out[byteIdx] |= byte(digit << shift)
		carry := byte(uint(digit) >> (8 - shift))
		if byteIdx+1 < size {
			out[byteIdx+1] |= carry
		} else if carry != 0 {
			return nil, fmt.Errorf("nix base32 %q does not fit in %d bytes", s, size)
		}
	}
	return out, nil
}
