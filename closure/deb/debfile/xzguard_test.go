package debfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stratabuild/strata/internal/testutil"
)

// xzBlock is a block header with one LZMA2 filter whose property byte is
// prop, then data as LZMA2 uncompressed chunks (a valid block that needs no
// encoder), the end marker and the padding; check none.
func xzBlock(prop byte, data []byte) (block []byte, unpadded int) {
	hdr := []byte{2, 0, 0x21, 1, prop, 0, 0, 0} // 12 bytes with the CRC32: size byte 2
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(hdr))
	block = append(block, hdr...)
	for first := true; len(data) > 0 || first; first = false {
		n := min(len(data), 1<<16)
		ctl := byte(2)
		if first {
			ctl = 1 // dictionary reset
		}
		if n == 0 {
			break
		}
		block = append(block, ctl, byte((n-1)>>8), byte(n-1))
		block = append(block, data[:n]...)
		data = data[n:]
	}
	block = append(block, 0)
	unpadded = len(block)
	for len(block)%4 != 0 {
		block = append(block, 0)
	}
	return block, unpadded
}

// xzStream is a whole xz stream (check none) of the blocks, each
// (prop, data).
func xzStream(blocks ...struct {
	prop byte
	data []byte
}) []byte {
	flags := []byte{0, 0}
	s := []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	s = append(s, flags...)
	s = binary.LittleEndian.AppendUint32(s, crc32.ChecksumIEEE(flags))
	idx := []byte{0}
	idx = binary.AppendUvarint(idx, uint64(len(blocks)))
	for _, b := range blocks {
		blk, unpadded := xzBlock(b.prop, b.data)
		s = append(s, blk...)
		idx = binary.AppendUvarint(idx, uint64(unpadded))
		idx = binary.AppendUvarint(idx, uint64(len(b.data)))
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	s = append(s, idx...)
	foot := binary.LittleEndian.AppendUint32(nil, uint32(len(idx)/4-1))
	foot = append(foot, flags...)
	s = binary.LittleEndian.AppendUint32(s, crc32.ChecksumIEEE(foot))
	s = append(s, foot...)
	return append(s, 'Y', 'Z')
}

type xzb = struct {
	prop byte
	data []byte
}

func decodeGo(t *testing.T, z []byte) ([]byte, error) {
	t.Helper()
	r, done, err := decompress(WithXZ(context.Background(), XZGo), "data.tar.xz", bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	defer done()
	return io.ReadAll(r)
}

// TestXZGuardRefusesALaterBlock: a stream whose first block asks for 4 KiB
// and whose second asks for 1 GiB (property 36) is refused by the pure-Go
// path naming MaxLZMADict, before the decoder allocates the second
// dictionary; the same stream with 4 KiB in both blocks decodes.
func TestXZGuardRefusesALaterBlock(t *testing.T) {
	a, b := bytes.Repeat([]byte("first block "), 100), bytes.Repeat([]byte("second block "), 100)
	good := xzStream(xzb{0, a}, xzb{0, b})
	got, err := decodeGo(t, good)
	if err != nil || !bytes.Equal(got, append(append([]byte(nil), a...), b...)) {
		t.Fatalf("a valid two-block stream: %d bytes, %v", len(got), err)
	}
	bad := xzStream(xzb{0, a}, xzb{36, b})
	if _, err := decodeGo(t, bad); err == nil || !strings.Contains(err.Error(), "data.tar.xz asks for a 1024 MiB LZMA2 dictionary, more than MaxLZMADict") {
		t.Fatalf("a second block asking for 1 GiB: %v", err)
	}
	// Read in one piece, nothing of the refused block is passed on.
	g := newXZGuard(bytes.NewReader(bad), "data.tar.xz")
	if n, err := g.Read(make([]byte, len(bad))); n != 0 || err == nil {
		t.Errorf("the guard passed %d bytes of a chunk with a refused header (%v)", n, err)
	}
}

// TestXZGuardWalksRealStreams: streams the system's xz writes (LZMA and
// uncompressed chunks, every check type, one block or many) pass the guard
// whole, every block header is checked, and they decode to their input.
func TestXZGuardWalksRealStreams(t *testing.T) {
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
			args := []string{"--format=xz", "--check=" + check, "-c"}
			if block > 0 {
				args = append(args, "--block-size="+strconv.Itoa(block))
			}
			cmd := exec.Command("xz", args...)
			cmd.Stdin = bytes.NewReader(data)
			z, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			g := newXZGuard(bytes.NewReader(z), "data.tar.xz")
			if _, err := io.Copy(io.Discard, g); err != nil {
				t.Fatalf("check %s, blocks of %d: %v", check, block, err)
			}
			want := 1
			if block > 0 {
				want = (len(data) + block - 1) / block
			}
			if g.state != xzDone || g.blocks != want {
				t.Errorf("check %s, blocks of %d: the guard saw %d block headers (want %d), state %d", check, block, g.blocks, want, g.state)
			}
			got, err := decodeGo(t, z)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("check %s, blocks of %d: decoded %d bytes, %v", check, block, len(got), err)
			}
		}
	}
}

// FuzzXZGuard: any bytes pass through the guard without a panic, what it
// passes on is a prefix of the input, and all of it unless it refuses.
func FuzzXZGuard(f *testing.F) {
	f.Add(xzStream(xzb{0, []byte("a")}, xzb{0, []byte("b")}))
	f.Add(xzStream(xzb{0, []byte("a")}, xzb{36, []byte("b")}))
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 1, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, z []byte) {
		g := newXZGuard(bytes.NewReader(z), "data.tar.xz")
		var out bytes.Buffer
		_, err := io.Copy(&out, g)
		if !bytes.HasPrefix(z, out.Bytes()) {
			t.Fatalf("the guard passed bytes that are not the input's")
		}
		if err == nil && out.Len() != len(z) {
			t.Fatalf("the guard passed %d of %d bytes without an error", out.Len(), len(z))
		}
	})
}
