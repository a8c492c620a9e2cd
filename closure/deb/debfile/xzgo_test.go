package debfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stratabuild/strata/internal/testutil"
	"github.com/ulikunitz/xz"
)

var xzNoCheck = []byte{0, 0} // stream flags: check none

func xzStreamHeader() []byte {
	s := append([]byte(nil), xzMagic...)
	s = append(s, xzNoCheck...)
	return binary.LittleEndian.AppendUint32(s, crc32.ChecksumIEEE(xzNoCheck))
}

// xzBlockHeader is a block header of body (flags onward): size byte,
// padding and CRC32 added.
func xzBlockHeader(body []byte) []byte {
	h := append([]byte{0}, body...)
	for len(h)%4 != 0 {
		h = append(h, 0)
	}
	h[0] = byte((len(h)+4)/4 - 1)
	return binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
}

// xzTail is the index of the blocks (unpadded size, uncompressed size)
// and the footer, check none.
func xzTail(recs ...[2]uint64) []byte {
	idx := []byte{0}
	idx = binary.AppendUvarint(idx, uint64(len(recs)))
	for _, r := range recs {
		idx = binary.AppendUvarint(idx, r[0])
		idx = binary.AppendUvarint(idx, r[1])
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	foot := binary.LittleEndian.AppendUint32(nil, uint32(len(idx)/4-1))
	foot = append(foot, xzNoCheck...)
	s := binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(foot))
	return append(append(s, foot...), 'Y', 'Z')
}

// xzOneBlock is a whole stream (check none) of one block: header bh, then
// data (the block's chunks and end marker) padded, and the index record
// of usize uncompressed bytes.
func xzOneBlock(bh, data []byte, usize uint64) []byte {
	z := append(xzStreamHeader(), bh...)
	z = pad4(append(z, data...))
	return append(z, xzTail([2]uint64{uint64(len(bh) + len(data)), usize})...)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// xzStoredBlock is a block with one LZMA2 filter of dictionary property
// prop holding data as one uncompressed chunk (a valid block that needs
// no encoder), padded; and its index record.
func xzStoredBlock(prop byte, data []byte) ([]byte, [2]uint64) {
	bh := xzBlockHeader([]byte{0, 0x21, 1, prop})
	chunk := append([]byte{1, byte((len(data) - 1) >> 8), byte(len(data) - 1)}, data...)
	chunk = append(chunk, 0)
	return pad4(append(bh, chunk...)), [2]uint64{uint64(len(bh) + len(chunk)), uint64(len(data))}
}

func twoBlocks(prop1, prop2 byte, a, b []byte) []byte {
	b1, r1 := xzStoredBlock(prop1, a)
	b2, r2 := xzStoredBlock(prop2, b)
	z := append(xzStreamHeader(), b1...)
	z = append(z, b2...)
	return append(z, xzTail(r1, r2)...)
}

// decodeGo decodes z as a data.tar.xz member on the pure-Go path and
// reports the bytes allocated meanwhile.
func decodeGo(t testing.TB, z []byte) ([]byte, uint64, error) {
	t.Helper()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	r, done, err := decompress(WithXZ(context.Background(), XZGo), "data.tar.xz", bytes.NewReader(z))
	var out []byte
	if err == nil {
		out, err = io.ReadAll(r)
		done()
	}
	runtime.ReadMemStats(&m1)
	return out, m1.TotalAlloc - m0.TotalAlloc, err
}

// A hostile stream must be refused before a dictionary over the cap is
// allocated: what decoding it allocates stays far below 1 GiB.
const boundedAlloc = 64 << 20

// TestGoXZRefusesALaterBlock: a stream whose second block asks for 1 GiB
// (property 36) is refused naming MaxLZMADict without allocating it; the
// same stream with 4 KiB in both blocks decodes.
func TestGoXZRefusesALaterBlock(t *testing.T) {
	a, b := bytes.Repeat([]byte("first block "), 100), bytes.Repeat([]byte("second block "), 100)
	got, _, err := decodeGo(t, twoBlocks(0, 0, a, b))
	if err != nil || !bytes.Equal(got, append(append([]byte(nil), a...), b...)) {
		t.Fatalf("a valid two-block stream: %d bytes, %v", len(got), err)
	}
	_, alloc, err := decodeGo(t, twoBlocks(0, 36, a, b))
	if err == nil || !strings.Contains(err.Error(), "data.tar.xz asks for a 1024 MiB LZMA2 dictionary, more than MaxLZMADict") {
		t.Fatalf("a second block asking for 1 GiB: %v", err)
	}
	if alloc > boundedAlloc {
		t.Errorf("refusing it allocated %d MiB", alloc>>20)
	}
}

// TestGoXZRefusesHiddenDictionaries: the two ways found to get a 1 GiB
// dictionary past a check that walked the container beside
// github.com/ulikunitz/xz's reader are refused, allocating little.
func TestGoXZRefusesHiddenDictionaries(t *testing.T) {
	// A non-minimal 10-byte uncompressed size before the filter: the
	// walk gave up on the header and left it to the decoder, which reads
	// such integers.
	bh := xzBlockHeader([]byte{0x80, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x21, 1, 36})
	data := []byte{1, 0, 0, 'a', 0}
	z := xzOneBlock(bh, data, 1)
	_, alloc, err := decodeGo(t, z)
	if err == nil || !strings.Contains(err.Error(), "block header") {
		t.Errorf("a 10-byte integer in a block header: %v", err)
	}
	if alloc > boundedAlloc {
		t.Errorf("refusing it allocated %d MiB", alloc>>20)
	}

	// An LZMA chunk that declares more packed bytes than its range coder
	// uses: the decoder stops early and reads, inside the declared data,
	// an end marker and a second block asking for 1 GiB.
	testutil.RequireTool(t, "xz")
	cmd := exec.Command("xz", "--format=xz", "--check=none", "-T1", "--lzma2=dict=4KiB", "-c")
	cmd.Stdin = bytes.NewReader(bytes.Repeat([]byte("hello world "), 50))
	x, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	hl := (int(x[12]) + 1) * 4
	hdr1, c := x[12:12+hl], x[12+hl:]
	if c[0] < 0xe0 {
		t.Fatalf("xz's first chunk is not an LZMA chunk with properties (%#x)", c[0])
	}
	unpacked := int(c[0]&0x1f)<<16 | int(binary.BigEndian.Uint16(c[1:3])) + 1
	packed := int(binary.BigEndian.Uint16(c[3:5])) + 1
	if c[6+packed] != 0 {
		t.Fatal("xz wrote more than one chunk")
	}
	blk1 := 6 + packed + 1
	inj := []byte{0}
	for (blk1+len(inj)-1)%4 != 0 {
		inj = append(inj, 0)
	}
	bh2 := xzBlockHeader([]byte{0, 0x21, 1, 36})
	d2 := []byte{1, 0, 0, 'b', 0}
	inj = pad4(append(append(inj, bh2...), d2...))
	ch := append([]byte(nil), c[:6]...)
	binary.BigEndian.PutUint16(ch[3:5], uint16(packed+len(inj)-1))
	z = append(xzStreamHeader(), hdr1...)
	z = append(z, ch...)
	z = append(z, c[6:6+packed]...)
	z = append(z, inj...)
	z = append(z, xzTail([2]uint64{uint64(hl + blk1), uint64(unpacked)}, [2]uint64{uint64(len(bh2) + len(d2)), 1})...)
	_, alloc, err = decodeGo(t, z)
	if err == nil || !strings.Contains(err.Error(), "an LZMA2 chunk declares more packed bytes than its data uses") {
		t.Errorf("a block header hidden in a chunk's declared data: %v", err)
	}
	if alloc > boundedAlloc {
		t.Errorf("refusing it allocated %d MiB", alloc>>20)
	}

	// The same chunk declaring 7 more packed bytes that hold a hidden
	// uncompressed chunk ("EVIL") before the real end marker: the walk
	// and the decoder meet at the end marker, but the decoder read a chunk
	// header inside the declared bytes (xz calls the stream corrupt).
	hidden := []byte{1, 0, 3, 'E', 'V', 'I', 'L'}
	ch = append([]byte(nil), c[:6]...)
	binary.BigEndian.PutUint16(ch[3:5], uint16(packed+len(hidden)-1))
	blk := append(append(append(append([]byte(nil), ch...), c[6:6+packed]...), hidden...), 0)
	z = xzOneBlock(hdr1, blk, uint64(unpacked+4))
	got, _, err := decodeGo(t, z)
	if err == nil || !strings.Contains(err.Error(), "an LZMA2 chunk header inside the packed bytes another chunk declares") {
		t.Errorf("a chunk hidden in another's packed bytes: %q, %v", got, err)
	}
}

// TestGoXZReadsRealStreams: streams the system's xz writes (LZMA and
// uncompressed chunks, every check type, one block or many) decode to
// their input, and one flipped byte of a check or of the index is refused.
func TestGoXZReadsRealStreams(t *testing.T) {
	testutil.RequireTool(t, "xz")
	rng := rand.New(rand.NewPCG(1, 2))
	data := bytes.Repeat([]byte("strata layers a Debian closure "), 4000)
	noise := make([]byte, 70000) // incompressible: stored as uncompressed chunks
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	data = append(data, noise...)
	data = append(data, bytes.Repeat([]byte{0}, 50000)...)
	for _, check := range []string{"none", "crc32", "crc64", "sha256"} {
		for _, block := range []int{0, 4 << 10, 64 << 10} {
			args := []string{"--format=xz", "--check=" + check, "-c", "-T1"}
			if block > 0 {
				args = append(args, "--block-size="+strconv.Itoa(block))
			}
			if block == 4<<10 {
				// xz's threaded encoder writes the block sizes into the
				// headers, as dpkg-deb's does: 60 blocks of 4 KiB each get a
				// dictionary of their size, where the 8 MiB the headers name
				// would pass the dictionaries-to-output bound
				args[3] = "-T2"
			}
			cmd := exec.Command("xz", args...)
			cmd.Stdin = bytes.NewReader(data)
			z, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := decodeGo(t, z)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("check %s, blocks of %d: decoded %d bytes, %v", check, block, len(got), err)
			}
			if check != "none" {
				// the last block's check: just before the index indicator (the
				// index is 12 bytes from the footer's backward size on)
				bad := append([]byte(nil), z...)
				back := int(binary.LittleEndian.Uint32(bad[len(bad)-8:])+1) * 4
				bad[len(bad)-12-back-1] ^= 1
				if _, _, err := decodeGo(t, bad); err == nil || !strings.Contains(err.Error(), "check does not match") {
					t.Errorf("check %s, blocks of %d: a flipped check byte: %v", check, block, err)
				}
			}
			bad := append([]byte(nil), z...)
			bad[len(bad)-14] ^= 1 // in the index's CRC32
			if _, _, err := decodeGo(t, bad); err == nil {
				t.Errorf("check %s, blocks of %d: a flipped index byte was read", check, block)
			}
		}
	}
}

// FuzzGoXZ: any bytes decode without a panic, and what goXZ decodes
// whole, github.com/ulikunitz/xz decodes to the same bytes when it
// decodes it at all.
func FuzzGoXZ(f *testing.F) {
	f.Add(twoBlocks(0, 0, []byte("a"), []byte("b")))
	f.Add(twoBlocks(0, 36, []byte("a"), []byte("b")))
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 1, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, z []byte) {
		got, err := io.ReadAll(newGoXZ(bytes.NewReader(z), "data.tar.xz"))
		if err != nil {
			return
		}
		r, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(z))
		if err != nil {
			return
		}
		want, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("goXZ decoded %q, github.com/ulikunitz/xz %q", got, want)
		}
	})
}

// TestGoXZRefusesManyEmptyBlocks: 200 blocks that each ask for a
// MaxLZMADict dictionary and hold nothing would allocate (and zero) 25 GiB
// from 4 KB; the dictionaries must stay in proportion to the output.
func TestGoXZRefusesManyEmptyBlocks(t *testing.T) {
	bh := xzBlockHeader([]byte{0, 0x21, 1, 30}) // 128 MiB
	z := xzStreamHeader()
	var recs [][2]uint64
	for range 200 {
		z = append(z, pad4(append(append([]byte(nil), bh...), 0))...)
		recs = append(recs, [2]uint64{uint64(len(bh) + 1), 0})
	}
	z = append(z, xzTail(recs...)...)
	_, alloc, err := decodeGo(t, z)
	if err == nil || !strings.Contains(err.Error(), "MiB of dictionaries for 0 bytes of output") {
		t.Fatalf("200 empty blocks of 128 MiB: %v", err)
	}
	if alloc > 2*MaxLZMADict+boundedAlloc {
		t.Errorf("refusing them allocated %d MiB", alloc>>20)
	}
}

// TestGoXZRefusesWhatXZRefuses: data after the stream (stream padding
// is read), LZMA properties with lc + lp > 4, and a zero-length read that
// must not spin. (A chunk declaring more packed bytes than it uses is in
// TestGoXZRefusesHiddenDictionaries.)
func TestGoXZRefusesWhatXZRefuses(t *testing.T) {
	good := twoBlocks(0, 0, []byte("a"), []byte("b"))
	if _, _, err := decodeGo(t, append(append([]byte(nil), good...), 1, 2, 3, 4)); err == nil || !strings.Contains(err.Error(), "data after the stream") {
		t.Errorf("bytes after the footer: %v", err)
	}
	if _, _, err := decodeGo(t, append(append([]byte(nil), good...), 0, 0, 0, 0)); err != nil {
		t.Errorf("stream padding after the footer: %v", err)
	}
	late := append(append(append([]byte(nil), good...), make([]byte, 1<<17)...), 1, 2, 3, 4)
	if _, _, err := decodeGo(t, late); err == nil || !strings.Contains(err.Error(), "data after the stream") {
		t.Errorf("bytes after 128 KiB of stream padding: %v", err)
	}
	// an LZMA chunk whose properties byte asks for lp 5 (lc + lp > 4)
	bh := xzBlockHeader([]byte{0, 0x21, 1, 0})
	chunk := []byte{0xe0, 0, 0, 0, 4, 5*9 + 0, 0, 0, 0, 0, 0} // lc 0, lp 5: lc+lp > 4
	z := xzOneBlock(bh, chunk, 1)
	if _, _, err := decodeGo(t, z); err == nil {
		t.Errorf("LZMA properties with lc + lp > 4 were read")
	}
	x := newGoXZ(bytes.NewReader(good), "data.tar.xz")
	if n, err := x.Read(nil); n != 0 || err != nil {
		t.Errorf("a zero-length read: %d, %v", n, err)
	}
}

// TestGoXZRefusesBadPropertiesAtOnce: 2000 LZMA chunks with lc 8 and lp 4
// would each make the decoder allocate a 6 MiB literal table (12 GiB from
// 24 KB) if the walk refused them only at the block's end.
func TestGoXZRefusesBadPropertiesAtOnce(t *testing.T) {
	bh := xzBlockHeader([]byte{0, 0x21, 1, 0})
	var data []byte
	for i := range 2000 {
		ctl := byte(0xc0)
		if i == 0 {
			ctl = 0xe0 // the first chunk resets the dictionary
		}
		data = append(data, ctl, 0, 0, 0, 5, 0x2c, 0, 0, 0, 0, 0, 0)
	}
	data = append(data, 0)
	z := xzOneBlock(bh, data, 2000)
	_, alloc, err := decodeGo(t, z)
	if err == nil || !strings.Contains(err.Error(), "lc + lp must be at most 4") {
		t.Fatalf("LZMA properties lc 8, lp 4: %v", err)
	}
	if alloc > boundedAlloc {
		t.Errorf("refusing them allocated %d MiB", alloc>>20)
	}
}
