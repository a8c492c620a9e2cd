package debfile

import (
	"encoding/binary"
	"fmt"
	"io"
)

// xzGuard passes an xz stream through to the pure-Go decoder and refuses
// any block whose LZMA2 filter asks for a dictionary over MaxLZMADict
// before the decoder has that block's header: the decoder allocates the
// dictionary a header names as soon as it has read it, and a block of a
// few bytes can name 1.5 GiB. The guard walks the container without
// decoding: the stream header (for the check's size), each block header,
// the block's LZMA2 chunks by the sizes their headers give, the block
// padding and the check. It stops at the index (one stream, as dpkg-deb
// writes and the decoder reads), and leaves a malformed stream to the
// decoder, which reports it.
//
// A Read returns nothing of a chunk in which a refused header ends, and
// the decoder reads a whole block header before it parses it, so no
// refused header reaches it.
type xzGuard struct {
	r      io.Reader
	member string

	state int
	need  int    // bytes still to skip, or to collect into hdr
	hdr   []byte // the header being collected
	check int    // the size of each block's check field
	data  int64  // compressed bytes of the current block, for its padding
	err   error

	blocks int // block headers checked
}

const (
	xzStreamHeader = iota // collecting the 12-byte stream header
	xzBlockStart          // the first byte of a block header, or 0 for the index
	xzBlockHeader         // collecting the rest of a block header
	xzChunkControl        // an LZMA2 chunk's control byte
	xzChunkHeader         // collecting the rest of a chunk header
	xzChunkData           // skipping a chunk's data
	xzBlockTail           // skipping the block padding and the check
	xzDone                // the index, or a stream the decoder will refuse
)

func newXZGuard(r io.Reader, member string) *xzGuard {
	return &xzGuard{r: r, member: member, state: xzStreamHeader, need: 12}
}

func (g *xzGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if g.state != xzDone {
		if gerr := g.scan(p[:n]); gerr != nil {
			g.err = gerr
			return 0, gerr
		}
	}
	return n, err
}

// scan advances the walk over b.
func (g *xzGuard) scan(b []byte) error {
	for len(b) > 0 && g.state != xzDone {
		switch g.state {
		case xzChunkData, xzBlockTail:
			k := min(g.need, len(b))
			g.need -= k
			b = b[k:]
			if g.state == xzChunkData {
				g.data += int64(k)
			}
			if g.need == 0 {
				if g.state == xzChunkData {
					g.state = xzChunkControl
				} else {
					g.state = xzBlockStart
				}
			}
			continue
		case xzBlockStart:
			if b[0] == 0 { // the index indicator: every block was seen
				g.state = xzDone
				return nil
			}
			g.hdr = append(g.hdr[:0], b[0])
			g.need = (int(b[0])+1)*4 - 1
			g.state = xzBlockHeader
			b = b[1:]
			continue
		case xzChunkControl:
			c := b[0]
			b = b[1:]
			g.data++
			g.hdr = append(g.hdr[:0], c)
			switch {
			case c == 0: // the end of the block's LZMA2 data
				g.need = int((4-g.data%4)%4) + g.check
				g.state = xzBlockTail
				if g.need == 0 {
					g.state = xzBlockStart
				}
			case c == 1 || c == 2: // an uncompressed chunk: its size follows
				g.need, g.state = 2, xzChunkHeader
			case c >= 0x80: // an LZMA chunk: sizes (and props after a reset) follow
				g.need, g.state = 4, xzChunkHeader
				if c >= 0xc0 {
					g.need++
				}
			default:
				g.state = xzDone // invalid: the decoder refuses it
			}
			continue
		}
		// collecting a header
		k := min(g.need, len(b))
		g.hdr = append(g.hdr, b[:k]...)
		g.need -= k
		b = b[k:]
		if g.need > 0 {
			continue
		}
		switch g.state {
		case xzStreamHeader:
			g.check = checkSize(g.hdr[7] & 0x0f)
			g.state = xzBlockStart
		case xzBlockHeader:
			if err := checkBlockDict(g.hdr, g.member); err != nil {
				return err
			}
			g.blocks++
			g.data, g.state = 0, xzChunkControl
		case xzChunkHeader:
			if g.hdr[0] < 0x80 {
				g.need = int(binary.BigEndian.Uint16(g.hdr[1:3])) + 1
			} else {
				g.need = int(binary.BigEndian.Uint16(g.hdr[3:5])) + 1
			}
			g.data += int64(len(g.hdr) - 1)
			g.state = xzChunkData
		}
	}
	return nil
}

// checkSize is the size of an xz check field for check type id.
func checkSize(id byte) int {
	if id == 0 {
		return 0
	}
	return 4 << ((id - 1) / 3)
}

// checkBlockDict refuses a block header (whole, size byte first) whose
// LZMA2 filter asks for a dictionary over MaxLZMADict. A header too
// malformed to read is left to the decoder.
func checkBlockDict(h []byte, member string) error {
	if len(h) < 6 {
		return nil
	}
	flags := h[1]
	h = h[2 : len(h)-4] // after size and flags, before the CRC32
	varint := func() (uint64, bool) {
		var v uint64
		for i := 0; i < 9 && i < len(h); i++ {
			v |= uint64(h[i]&0x7f) << (7 * i)
			if h[i]&0x80 == 0 {
				h = h[i+1:]
				return v, true
			}
		}
		return 0, false
	}
	for _, bit := range []byte{0x40, 0x80} { // compressed, uncompressed size present
		if flags&bit != 0 {
			if _, ok := varint(); !ok {
				return nil
			}
		}
	}
	for n := int(flags&0x03) + 1; n > 0; n-- {
		id, ok1 := varint()
		psize, ok2 := varint()
		if !ok1 || !ok2 || psize > uint64(len(h)) {
			return nil
		}
		props := h[:psize]
		h = h[psize:]
		if id != 0x21 || len(props) != 1 { // LZMA2 has one property byte
			continue
		}
		bits := props[0] & 0x3f
		if bits > 40 {
			return nil // invalid: the decoder refuses it
		}
		dict := uint64(0xffffffff)
		if bits < 40 {
			dict = uint64(2|bits&1) << (bits/2 + 11)
		}
		if dict > MaxLZMADict {
			return fmt.Errorf("%s asks for a %d MiB LZMA2 dictionary, more than MaxLZMADict (%d MiB; xz -9 uses 64): refusing a stream built to exhaust memory", member, dict>>20, MaxLZMADict>>20)
		}
	}
	return nil
}
