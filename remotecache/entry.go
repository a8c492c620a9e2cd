package remotecache

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/registry"
)

// Entry kinds, as they appear in tags, records and annotations.
const (
	KindLayer = "layer" // a finished layer by its input key (signed)
	KindStep  = "step"  // a build step's output by its input key (signed)
	KindDeb   = "deb"   // a .deb by its sha256 (content-addressed)
	// KindUnpacked is an unpacked .deb (debfile's tree, as a gzipped tar)
	// by SHA256-vN: derived from content-addressed input, but its tree
	// cannot be checked without unpacking the .deb, so it is signed too.
	KindUnpacked = "unpacked"
	// KindListing is a package's listing (debfile.Listing: manifest,
	// control files and the few files a resolution reads) by
	// SHA256-vN-lN, signed like an unpacked .deb: with it a machine whose
	// layers all come from the cache downloads and unpacks no .deb.
	KindListing = "listing"
)

// Manifest vocabulary.
const (
	recordMediaType = "application/vnd.stratabuild.cache.record.v1+json"
	stepMediaType   = types.OCILayer // a gzipped tar of a tree (step output, unpacked .deb)
	debMediaType    = "application/vnd.debian.binary-package"

	annKind      = "dev.stratabuild.cache.kind"
	annKey       = "dev.stratabuild.cache.key"
	annSignature = "dev.stratabuild.cache.signature"
)

func artifactType(kind string) string { return "application/vnd.stratabuild.cache." + kind + ".v1" }

// InlineMax is the largest record or payload blob an entry's manifest
// also carries inline (the descriptor's data field): a reader gets it
// with the manifest, one request instead of two or three. Most records
// and package listings are smaller; 16 KiB keeps a manifest far below
// the 4 MiB registries accept.
const InlineMax = 16 << 10

// Tag is the tag of the entry of kind for key: a valid OCI tag (at most
// 128 characters of [A-Za-z0-9_.-]).
func Tag(kind, key string) string { return kind + "-" + key }

// record is an entry's config blob.
type record struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
	// TreeHash is the layer's diffID, or the step output's tree hash.
	TreeHash string `json:"treeHash,omitempty"`
	// Layer is the local "layers" index record (layer.Info JSON).
	Layer json.RawMessage `json:"layer,omitempty"`
}

// sigPayload is what an entry's signature covers: the kind, the key, the
// payload blob's digest, the tree hash and the record's digest (so no
// field of the record can be swapped under a valid signature).
func sigPayload(kind, key string, blob v1.Hash, treeHash string, rec v1.Hash) []byte {
	return []byte(strings.Join([]string{"strata-cache-sig-v1", kind, key, blob.String(), treeHash, rec.String()}, "\n"))
}

func sign(k *SignKey, payload []byte) string {
	return k.Name + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(k.Key, payload))
}

// verifySig checks sig ("NAME:BASE64") against the trusted keys.
func verifySig(trust []TrustKey, sig string, payload []byte) error {
	if sig == "" {
		return fmt.Errorf("it is not signed (write it with --cache-sign-key)")
	}
	name, enc, _ := strings.Cut(sig, ":")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("its signature is malformed")
	}
	for _, k := range trust {
		if k.Name == name {
			if ed25519.Verify(k.Key, payload, raw) {
				return nil
			}
			return fmt.Errorf("its signature by key %s does not verify (the entry was changed after signing, or the key differs)", name)
		}
	}
	if len(trust) == 0 {
		return fmt.Errorf("it is signed by key %s and no key is trusted (pass --cache-trust %s.pub)", name, name)
	}
	return fmt.Errorf("it is signed by key %s, which is not trusted (pass --cache-trust %s.pub to trust it)", name, name)
}

// blobLayer is a blob of the local cache as a go-containerregistry layer.
type blobLayer struct {
	c    cache.Blobs
	hash v1.Hash
	size int64
	mt   types.MediaType
}

func (b *blobLayer) Digest() (v1.Hash, error)            { return b.hash, nil }
func (b *blobLayer) Size() (int64, error)                { return b.size, nil }
func (b *blobLayer) MediaType() (types.MediaType, error) { return b.mt, nil }
func (b *blobLayer) Compressed() (io.ReadCloser, error)  { return b.c.OpenBlob(b.hash.Hex) }

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// newEntry builds the image of one entry; sk signs it when set.
func newEntry(rec record, blob *blobLayer, sk *SignKey) (v1.Image, error) {
	return buildEntry(rec, blob, func(cfgHash v1.Hash) string {
		if sk == nil {
			return ""
		}
		return sign(sk, sigPayload(rec.Kind, rec.Key, blob.hash, rec.TreeHash, cfgHash))
	})
}

// buildEntry builds the image of one entry with the signature sig gives
// for the record's digest ("" for none).
func buildEntry(rec record, blob *blobLayer, sig func(cfgHash v1.Hash) string) (v1.Image, error) {
	cfg, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	cfgHash := sha256Hash(cfg)
	ann := map[string]string{annKind: rec.Kind, annKey: rec.Key}
	if s := sig(cfgHash); s != "" {
		ann[annSignature] = s
	}
	return registry.NewArtifact(registry.ArtifactSpec{
		ArtifactType: artifactType(rec.Kind), Config: cfg, ConfigMediaType: recordMediaType,
		Layers: []partial.CompressedLayer{blob}, Annotations: ann, InlineMax: InlineMax,
	})
}

// rejected is an entry that was found but failed a check.
type rejected struct{ reason string }

func (r *rejected) Error() string { return r.reason }

func rejectf(format string, args ...any) error {
	return &rejected{reason: fmt.Sprintf(format, args...)}
}

// checkEntry reads an entry's manifest and record and, for signed kinds,
// verifies the signature. It returns the record and the payload blob's
// descriptor.
func checkEntry(img v1.Image, kind, key string, trust []TrustKey) (record, v1.Descriptor, error) {
	var rec record
	m, err := img.Manifest()
	if err != nil {
		return rec, v1.Descriptor{}, err
	}
	if m.Annotations[annKind] != kind || m.Annotations[annKey] != key || len(m.Layers) != 1 || m.Config.MediaType != recordMediaType {
		return rec, v1.Descriptor{}, rejectf("it is not a strata cache entry of kind %s for key %s", kind, key)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return rec, v1.Descriptor{}, err
	}
	cfgHash := sha256Hash(cfg)
	if cfgHash != m.Config.Digest {
		return rec, v1.Descriptor{}, rejectf("its record has digest %s, the manifest says %s", cfgHash, m.Config.Digest)
	}
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, v1.Descriptor{}, rejectf("its record is unreadable: %v", err)
	}
	if rec.Kind != kind || rec.Key != key {
		return rec, v1.Descriptor{}, rejectf("its record is for %s %s", rec.Kind, rec.Key)
	}
	blob := m.Layers[0]
	if kind != KindDeb {
		if err := verifySig(trust, m.Annotations[annSignature], sigPayload(kind, key, blob.Digest, rec.TreeHash, cfgHash)); err != nil {
			return rec, v1.Descriptor{}, &rejected{reason: err.Error()}
		}
	} else if blob.Digest.Hex != key {
		return rec, v1.Descriptor{}, rejectf("its blob is %s, not the .deb %s", blob.Digest, key)
	}
	return rec, blob, nil
}
