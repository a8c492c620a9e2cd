package debfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// goXZ decodes one xz stream with the pure-Go LZMA2 decoder, reading the
// container itself: the stream header, each block header, the block's
// padding and check, the index and the footer. The decoder allocates the
// dictionary a block header names as soon as it has read it, and a block of
// a few bytes can name 4 GiB; reading the container here means every
// block's header is parsed strictly and checked against MaxLZMADict before
// its decoder exists, and every block ends where its decoder stopped (an
// LZMA chunk that declares more packed bytes than its range coder uses
// cannot hide a block header from the check: github.com/ulikunitz/xz's own
// container reader trusts the decoder's position, which a walk beside it
// cannot see; a chunkWalk over the same bytes checks that every chunk used
// the packed bytes it declares). A block's dictionary is capped at the
// block's declared size, and a stream's dictionaries at MaxLZMADict plus 4
// bytes per byte of output. Only what dpkg-deb and xz write is taken: one
// LZMA2 filter, checks none, CRC32, CRC64 or SHA-256, minimal integers,
// nothing but stream padding after the stream. A known gap (SECURITY.md):
// an LZMA end marker inside a chunk is taken, which xz refuses.
type goXZ struct {
	src    *countingReader
	member string

	check   byte
	blk     io.Reader // the current block's LZMA2 decoder; nil between blocks
	sum     hash.Hash // the current block's check, nil for none
	hdrLen  int64
	start   int64 // src.n where the block's data begins
	csize   int64 // the header's compressed and uncompressed sizes, -1 when absent
	usize   int64
	out     int64 // uncompressed bytes of the current block
	total   int64 // uncompressed bytes of the stream so far
	dicts   int64 // dictionary bytes allocated so far
	records [][2]int64
	err     error
	done    bool
}

// countingReader counts what passes through it and reads single bytes
// without a buffer of its own, so the decoder never reads ahead of the
// position goXZ reads the container from.
type countingReader struct {
	r    io.Reader
	n    int64
	b1   [1]byte
	walk *chunkWalk // the current block's LZMA2 chunks, fed every byte read
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.walk != nil && len(p) > 1 && c.walk.state == 2 && c.walk.hdr[0] >= 0x80 {
		// The LZMA decoder reads its packed bytes one at a time and a
		// chunk header (after its control byte) 2 to 5 at once: a longer
		// read inside the packed bytes a chunk declares is the decoder,
		// having ended that chunk early, reading a chunk hidden in them.
		// (github.com/ulikunitz/xz v0.5.17's readChunkHeader; a test
		// hides such a chunk, so a library that reads otherwise fails it.)
		c.walk.state, c.walk.why = 4, "an LZMA2 chunk header inside the packed bytes another chunk declares"
		return 0, errors.New(c.walk.why)
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.walk != nil {
		c.walk.feed(p[:n])
		if c.walk.state == 4 {
			// at once, and with no bytes (io.ReadFull drops an error
			// that comes with a full read): the decoder allocates for
			// every chunk that resets its properties
			return 0, errors.New(c.walk.why)
		}
	}
	return n, err
}

// chunkWalk follows a block's LZMA2 chunks by the sizes their headers
// declare, over the bytes the decoder reads. The decoder ends a chunk
// when its output is complete and does not check that it used every
// packed byte the header declared; when it did not, the walk is still
// inside that chunk's data when the decoder reads the end marker, and the
// block is refused (xz refuses such a stream as corrupt). The walk also
// refuses LZMA properties with lc + lp > 4, as LZMA2 requires.
type chunkWalk struct {
	state int // 0 control byte, 1 header, 2 data, 3 after the end marker, 4 refused
	need  int
	hdr   []byte
	why   string
}

func (w *chunkWalk) feed(b []byte) {
	for len(b) > 0 && w.state < 3 {
		switch w.state {
		case 0:
			c := b[0]
			b = b[1:]
			w.hdr = append(w.hdr[:0], c)
			switch {
			case c == 0:
				w.state = 3
			case c == 1 || c == 2:
				w.state, w.need = 1, 2
			case c >= 0x80:
				w.state, w.need = 1, 4
				if c >= 0xc0 {
					w.need++
				}
			default:
				w.state, w.why = 4, fmt.Sprintf("LZMA2 control byte %#x", c)
			}
		case 1:
			k := min(w.need, len(b))
			w.hdr = append(w.hdr, b[:k]...)
			w.need -= k
			b = b[k:]
			if w.need > 0 {
				continue
			}
			if w.hdr[0] < 0x80 {
				w.need = int(binary.BigEndian.Uint16(w.hdr[1:3])) + 1
			} else {
				w.need = int(binary.BigEndian.Uint16(w.hdr[3:5])) + 1
				if len(w.hdr) == 6 {
					if p := w.hdr[5]; p >= 9*5*5 || p%9+p/9%5 > 4 {
						w.state, w.why = 4, fmt.Sprintf("LZMA2 chunk properties %d (lc + lp must be at most 4)", p)
						return
					}
				}
			}
			w.state = 2
		case 2:
			k := min(w.need, len(b))
			w.need -= k
			b = b[k:]
			if w.need == 0 {
				w.state = 0
			}
		}
	}
	if len(b) > 0 && w.state == 3 {
		w.state, w.why = 4, "bytes after the LZMA2 end marker"
	}
}

func (c *countingReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(c, c.b1[:]); err != nil {
		return 0, err
	}
	return c.b1[0], nil
}

func newGoXZ(r io.Reader, member string) *goXZ {
	return &goXZ{src: &countingReader{r: r}, member: member}
}

func (x *goXZ) fail(format string, args ...any) error {
	x.err = fmt.Errorf("reading xz stream of %s: %s", x.member, fmt.Sprintf(format, args...))
	return x.err
}

func (x *goXZ) Read(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if x.src.n == 0 {
		if err := x.streamHeader(); err != nil {
			return 0, err
		}
	}
	for !x.done {
		if x.blk == nil {
			if err := x.nextBlock(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := x.blk.Read(p)
		x.out += int64(n)
		x.total += int64(n)
		if x.sum != nil {
			x.sum.Write(p[:n])
		}
		if x.usize >= 0 && x.out > x.usize {
			return 0, x.fail("a block holds more than the %d bytes its header says", x.usize)
		}
		if err == io.EOF {
			if err := x.endBlock(); err != nil {
				return 0, err
			}
		} else if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, x.fail("the stream ends inside a block")
			}
			return 0, x.fail("%v", err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, io.EOF
}

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

func (x *goXZ) read(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(x.src, b); err != nil {
		return nil, x.fail("the stream ends early")
	}
	return b, nil
}

func (x *goXZ) streamHeader() error {
	h, err := x.read(12)
	if err != nil {
		return err
	}
	if !bytes.Equal(h[:6], xzMagic) {
		return x.fail("not an xz stream")
	}
	if binary.LittleEndian.Uint32(h[8:]) != crc32.ChecksumIEEE(h[6:8]) {
		return x.fail("the stream header's CRC32 does not match")
	}
	if h[6] != 0 || h[7]&0xf0 != 0 {
		return x.fail("unknown stream flags %#x %#x", h[6], h[7])
	}
	switch x.check = h[7]; x.check {
	case 0, 1, 4, 10: // none, CRC32, CRC64, SHA-256
	default:
		return x.fail("check type %d, which strata does not read (none, CRC32, CRC64 or SHA-256)", x.check)
	}
	return nil
}

func (x *goXZ) nextBlock() error {
	first, err := x.read(1)
	if err != nil {
		return err
	}
	if first[0] == 0 {
		return x.index()
	}
	rest, err := x.read((int(first[0])+1)*4 - 1)
	if err != nil {
		return err
	}
	h := append(first, rest...)
	bh, err := parseBlockHeader(h, x.member)
	if err != nil {
		x.err = err
		return err
	}
	// No block needs a dictionary larger than its data, and the
	// dictionaries allocated must stay in proportion to the output: a
	// stream of many tiny blocks each asking for MaxLZMADict would
	// otherwise cost a zeroed allocation per block.
	dict := bh.dict
	if bh.usize >= 0 {
		dict = int(min(int64(dict), bh.usize))
	}
	dict = max(dict, lzma.MinDictCap)
	x.dicts += int64(dict)
	if x.dicts > MaxLZMADict+4*x.total {
		return x.fail("its blocks ask for %d MiB of dictionaries for %d bytes of output: refusing a stream built to exhaust memory", x.dicts>>20, x.total)
	}
	x.start = x.src.n // NewReader2 reads the first chunk's header already
	x.src.walk = &chunkWalk{}
	dec, err := lzma.Reader2Config{DictCap: dict}.NewReader2(x.src)
	if err != nil {
		return x.fail("%v", err)
	}
	x.blk, x.hdrLen, x.csize, x.usize, x.out = dec, int64(len(h)), bh.csize, bh.usize, 0
	switch x.check {
	case 1:
		x.sum = crc32.NewIEEE()
	case 4:
		x.sum = crc64.New(crc64ECMA)
	case 10:
		x.sum = sha256.New()
	default:
		x.sum = nil
	}
	return nil
}

func (x *goXZ) endBlock() error {
	w := x.src.walk
	x.src.walk = nil
	if w.state == 4 {
		return x.fail("%s", w.why)
	}
	if w.state != 3 {
		return x.fail("an LZMA2 chunk declares more packed bytes than its data uses")
	}
	c := x.src.n - x.start
	if x.csize >= 0 && c != x.csize {
		return x.fail("a block's data is %d bytes, its header says %d", c, x.csize)
	}
	if x.usize >= 0 && x.out != x.usize {
		return x.fail("a block holds %d bytes, its header says %d", x.out, x.usize)
	}
	pad, err := x.read(int((4 - c%4) % 4))
	if err != nil {
		return err
	}
	if !bytes.Equal(pad, make([]byte, len(pad))) {
		return x.fail("non-zero block padding")
	}
	size := checkSize(x.check)
	stored, err := x.read(size)
	if err != nil {
		return err
	}
	ok := true
	switch x.check {
	case 1:
		ok = binary.LittleEndian.Uint32(stored) == x.sum.(hash.Hash32).Sum32()
	case 4:
		ok = binary.LittleEndian.Uint64(stored) == x.sum.(hash.Hash64).Sum64()
	case 10:
		ok = bytes.Equal(stored, x.sum.Sum(nil))
	}
	if !ok {
		return x.fail("a block's check does not match its data")
	}
	x.records = append(x.records, [2]int64{x.hdrLen + c + int64(size), x.out})
	x.blk = nil
	return nil
}

// index reads the index (its indicator already read) and the footer, and
// checks them against the blocks read.
func (x *goXZ) index() error {
	crc := crc32.NewIEEE()
	crc.Write([]byte{0})
	n := int64(1)
	varint := func() (int64, error) {
		v, ok := xzVarint(func() (byte, bool) {
			b, err := x.read(1)
			if err != nil {
				return 0, false
			}
			crc.Write(b)
			n++
			return b[0], true
		})
		if !ok {
			if x.err != nil {
				return 0, x.err
			}
			return 0, x.fail("an integer of the index is not minimal or longer than 9 bytes")
		}
		return v, nil
	}
	count, err := varint()
	if err != nil {
		return err
	}
	if count != int64(len(x.records)) {
		return x.fail("the index lists %d blocks, the stream has %d", count, len(x.records))
	}
	for _, r := range x.records {
		unpadded, err := varint()
		if err != nil {
			return err
		}
		size, err := varint()
		if err != nil {
			return err
		}
		if unpadded != r[0] || size != r[1] {
			return x.fail("the index does not match the blocks")
		}
	}
	pad, err := x.read(int((4 - n%4) % 4))
	if err != nil {
		return err
	}
	if !bytes.Equal(pad, make([]byte, len(pad))) {
		return x.fail("non-zero index padding")
	}
	crc.Write(pad)
	n += int64(len(pad))
	sum, err := x.read(4)
	if err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(sum) != crc.Sum32() {
		return x.fail("the index's CRC32 does not match")
	}
	n += 4
	foot, err := x.read(12) // CRC32, backward size, flags, "YZ"
	if err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(foot[:4]) != crc32.ChecksumIEEE(foot[4:10]) ||
		int64(binary.LittleEndian.Uint32(foot[4:8])) != n/4-1 ||
		foot[8] != 0 || foot[9] != x.check || foot[10] != 'Y' || foot[11] != 'Z' {
		return x.fail("a bad stream footer")
	}
	// One stream: only stream padding (NUL bytes, a multiple of 4) may
	// follow, to the member's end.
	var pz nulWriter
	if _, err := io.Copy(&pz, x.src); err != nil {
		return x.fail("%v", err)
	}
	if pz.other || pz.n%4 != 0 {
		return x.fail("data after the stream")
	}
	x.done = true
	return nil
}

// xzVarint reads an xz integer from next strictly: at most 9 bytes and
// minimal (no 0x00 after the first byte), as liblzma requires.
func xzVarint(next func() (byte, bool)) (int64, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		b, ok := next()
		if !ok || i > 0 && b == 0 {
			return 0, false
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return int64(v), true
		}
	}
	return 0, false
}

// crc64ECMA is the table of xz's CRC64 check.
var crc64ECMA = crc64.MakeTable(crc64.ECMA)

// checkSize is the size of an xz check field for check type id.
func checkSize(id byte) int {
	if id == 0 {
		return 0
	}
	return 4 << ((id - 1) / 3)
}

// blockHeader is what strata reads of an xz block header.
type blockHeader struct {
	dict         int   // the LZMA2 dictionary
	csize, usize int64 // compressed and uncompressed sizes, -1 when absent
}

// parseBlockHeader reads a whole block header (size byte first, CRC32
// last) strictly: one LZMA2 filter, minimal integers, zero padding, a
// dictionary of at most MaxLZMADict. Anything else is refused, not left
// to a decoder.
func parseBlockHeader(h []byte, member string) (blockHeader, error) {
	bad := func(format string, args ...any) (blockHeader, error) {
		return blockHeader{}, fmt.Errorf("reading xz stream of %s: block header: %s", member, fmt.Sprintf(format, args...))
	}
	if len(h) < 8 || len(h) != (int(h[0])+1)*4 {
		return bad("%d bytes", len(h))
	}
	if binary.LittleEndian.Uint32(h[len(h)-4:]) != crc32.ChecksumIEEE(h[:len(h)-4]) {
		return bad("its CRC32 does not match")
	}
	flags := h[1]
	b := h[2 : len(h)-4]
	varint := func() (int64, bool) {
		return xzVarint(func() (byte, bool) {
			if len(b) == 0 {
				return 0, false
			}
			c := b[0]
			b = b[1:]
			return c, true
		})
	}
	if flags&0x3c != 0 {
		return bad("reserved flags %#x", flags)
	}
	if flags&0x03 != 0 {
		return bad("%d filters; strata reads streams of one LZMA2 filter, as dpkg-deb writes", flags&0x03+1)
	}
	bh := blockHeader{csize: -1, usize: -1}
	var ok bool
	if flags&0x40 != 0 {
		if bh.csize, ok = varint(); !ok || bh.csize == 0 {
			return bad("a bad compressed size")
		}
	}
	if flags&0x80 != 0 {
		if bh.usize, ok = varint(); !ok {
			return bad("a bad uncompressed size")
		}
	}
	id, ok1 := varint()
	psize, ok2 := varint()
	if !ok1 || !ok2 || id != 0x21 || psize != 1 || len(b) < 1 {
		return bad("the filter is not LZMA2")
	}
	prop := b[0]
	if !bytes.Equal(b[1:], make([]byte, len(b)-1)) {
		return bad("non-zero padding")
	}
	if prop > 40 {
		return bad("LZMA2 dictionary property %d", prop)
	}
	dict := uint64(0xffffffff)
	if prop < 40 {
		dict = uint64(2|prop&1) << (prop/2 + 11)
	}
	if dict > MaxLZMADict {
		return blockHeader{}, fmt.Errorf("%s asks for a %d MiB LZMA2 dictionary, more than MaxLZMADict (%d MiB; xz -9 uses 64): refusing a stream built to exhaust memory", member, dict>>20, MaxLZMADict>>20)
	}
	bh.dict = int(dict)
	return bh, nil
}

// nulWriter notes whether anything but NUL bytes was written, and how many.
type nulWriter struct {
	n     int64
	other bool
}

func (w *nulWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if !w.other && len(bytes.TrimLeft(p, "\x00")) > 0 {
		w.other = true
	}
	return len(p), nil
}
