package layer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stratabuild/strata/cache"
)

// Layer is a finished layer in the store; it implements v1.Layer.
type Layer struct {
	st    cache.Blobs
	info  Info
	built bool
}

var _ v1.Layer = (*Layer)(nil)

// Info returns the layer's recorded facts.
func (l *Layer) Info() Info { return l.info }

// Built reports whether this process wrote the layer (a cache miss), so a
// sink can tell a cold build from a warm one.
func (l *Layer) Built() bool { return l.built }

// Digest implements v1.Layer.
func (l *Layer) Digest() (v1.Hash, error) { return l.info.Digest, nil }

// DiffID implements v1.Layer.
func (l *Layer) DiffID() (v1.Hash, error) { return l.info.DiffID, nil }

// Size implements v1.Layer.
func (l *Layer) Size() (int64, error) { return l.info.Size, nil }

// MediaType implements v1.Layer.
func (l *Layer) MediaType() (types.MediaType, error) { return l.info.MediaType, nil }

// Compressed implements v1.Layer: the blob as stored, checked on read.
func (l *Layer) Compressed() (io.ReadCloser, error) {
	rc, err := l.st.OpenBlob(l.info.Digest.Hex)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s: %w", l.info.Digest, err)
	}
	return rc, nil
}

// BlobFile returns the path of the layer's blob in a file-system cache
// (cache.Files), checked against its digest, for sinks that link or copy
// files; errors.ErrUnsupported when the cache holds no local files.
func (l *Layer) BlobFile() (string, error) {
	f, ok := l.st.(cache.Files)
	if !ok {
		return "", errors.ErrUnsupported
	}
	return f.BlobFile(l.info.Digest.Hex)
}

// Uncompressed implements v1.Layer: the tar stream.
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	return l.decompress(rc)
}

// decompress returns the tar stream of rc, the layer's blob, and closes
// rc when it is closed (also on an error).
func (l *Layer) decompress(rc io.ReadCloser) (io.ReadCloser, error) {
	switch l.info.MediaType {
	case types.OCIUncompressedLayer:
		return rc, nil
	case types.OCILayerZStd:
		zr, err := zstd.NewReader(rc)
		if err != nil {
			rc.Close()
			return nil, err
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
	default:
		gr, err := gzip.NewReader(rc)
		if err != nil {
			rc.Close()
			return nil, err
		}
		return &readCloser{Reader: gr, close: func() error { gr.Close(); return rc.Close() }}, nil
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// VerifyDiffID reads a layer blob with info's media type to its end and
// checks that it has info's digest and that its tar hashes to info's
// diffID (what `strata cache verify` checks of a layer it did not write,
// such as one read from a remote cache, whose diffID is the signer's).
func VerifyDiffID(blob io.Reader, info Info) error {
	l := &Layer{info: info}
	dh := sha256.New()
	tr, err := l.decompress(io.NopCloser(io.TeeReader(blob, dh)))
	if err != nil {
		return fmt.Errorf("its blob does not decompress as %s: %w", info.MediaType, err)
	}
	defer tr.Close()
	th := sha256.New()
	if _, err := io.Copy(th, tr); err != nil {
		return fmt.Errorf("its blob does not decompress as %s: %w", info.MediaType, err)
	}
	io.Copy(dh, blob) // any bytes after the compressed stream count for the digest
	if got := hex.EncodeToString(dh.Sum(nil)); got != info.Digest.Hex {
		return fmt.Errorf("its blob has digest sha256:%s, not %s", got, info.Digest)
	}
	if got := hex.EncodeToString(th.Sum(nil)); got != info.DiffID.Hex {
		return fmt.Errorf("its tar has digest sha256:%s, not the recorded diffID %s", got, info.DiffID)
	}
	return nil
}
