package debfile

import (
	"bufio"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
)

// decompress returns a reader of the tarball inside the ar member named
// member ("data.tar.xz", "control.tar.gz", "data.tar", ...) and a function
// that releases the decoder (and stops an xz process early when the
// reader was not read to its end; r is not read once it returns). An xz
// member is decoded by the system's xz when the context's XZDecoder allows
// it (see WithXZ), else in Go.
func decompress(ctx context.Context, member string, r io.Reader) (io.Reader, func(), error) {
	noop := func() {}
	i := strings.Index(member, ".tar")
	if i < 0 {
		return nil, nil, fmt.Errorf("ar member %s is not a tarball", member)
	}
	switch ext := member[i+len(".tar"):]; ext {
	case "":
		return r, noop, nil
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("reading gzip stream of %s: %w", member, err)
		}
		return z, func() { z.Close() }, nil
	case ".xz":
		br := bufio.NewReaderSize(r, 2048)
		if err := checkXZDict(br, member); err != nil {
			return nil, nil, err
		}
		r = br
		if d := xzFrom(ctx); d != XZGo {
			path, err := systemXZ()
			switch {
			case err == nil:
				p, err := startXZ(ctx, path, member, r)
				if err != nil {
					return nil, nil, err
				}
				return p, p.close, nil
			case d == XZSystem:
				return nil, nil, fmt.Errorf("decoding %s: %w", member, err)
			}
		}
		// One stream, as dpkg-deb writes, its container read by goXZ so
		// that every block's header is checked before its decoder exists.
		return newGoXZ(r, member), noop, nil
	case ".lzma":
		z, err := lzma.ReaderConfig{DictCap: MaxLZMADict}.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("reading lzma stream of %s: %w", member, err)
		}
		return z, noop, nil
	case ".zst":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, nil, fmt.Errorf("reading zstd stream of %s: %w", member, err)
		}
		return z, z.Close, nil
	case ".bz2":
		return bzip2.NewReader(r), noop, nil
	default:
		return nil, nil, fmt.Errorf("ar member %s uses compression %q, which strata does not read (supported: none, gz, xz, lzma, zst, bz2)", member, strings.TrimPrefix(ext, "."))
	}
}
