package sbom

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/purl"
)

// Input is what an SBOM describes: an image (name, tag, digest, platform,
// creation time) and the closure graph it was built from.
type Input struct {
	Graph     *closure.Graph
	ImageName string
	// Tag is the image's tag ("1.0"); "NAME:1.0" is read as "1.0", and
	// "" as "latest".
	Tag string
	// ImageDigest is the image manifest digest; the zero Hash is allowed
	// (an SBOM of a spec that is not built) and then the document
	// identifiers derive from the graph instead.
	ImageDigest v1.Hash
	// Created is the document time; the zero time means strata's default
	// 1970-01-01T00:00:01Z.
	Created  time.Time
	Platform closure.Platform
}

// ToolName is the creator named in the documents.
const ToolName = "strata"

// component is the format-neutral view of one graph node.
type component struct {
	id        string
	kind      closure.Kind
	name      string
	version   string
	supplier  string // "Name <email>" as Debian writes it, or ""
	purl      string
	licenses  []string // DEP-5 / free-form names
	checksums []checksum
	deps      []string
}

type checksum struct {
	alg string // "SHA256"
	hex string
}

func (in Input) validate() error {
	if in.Graph == nil {
		return errors.New("sbom: no closure graph given: build the graph from a spec (strata sbom SPEC) or an image (imagegraph.FromImage)")
	}
	if in.ImageName == "" {
		return errors.New("sbom: the image name is empty: set Input.ImageName (the spec's name)")
	}
	return in.Graph.Validate()
}

func (in Input) created() time.Time {
	if in.Created.IsZero() {
		return time.Unix(1, 0).UTC()
	}
	return in.Created.UTC()
}

// tag is the tag part of Input.Tag: a full "repository:tag" reference is
// accepted too (a tag holds neither ':' nor '/'), and a digest reference or
// an empty tag means "latest".
func (in Input) tag() string {
	t, _, digest := strings.Cut(in.Tag, "@")
	if i := strings.LastIndex(t, ":"); i >= 0 {
		t = t[i+1:]
	} else if digest {
		t = "" // NAME@sha256:... names no tag
	}
	if t == "" || strings.Contains(t, "/") {
		return "latest"
	}
	return t
}

func (in Input) components() ([]component, error) {
	out := make([]component, 0, len(in.Graph.Nodes))
	for _, id := range in.Graph.IDs() {
		n := in.Graph.Nodes[id]
		c := component{id: id, kind: n.Kind, name: n.Name, version: n.Version, deps: uniqSorted(n.Deps)}
		if c.name == "" {
			c.name = id
		}
		c.supplier = n.Meta["maintainer"]
		// The sources record these facts (closure/deb, closure/nix).
		c.purl = n.Meta["purl"]
		if l := n.Meta["license"]; l != "" {
			c.licenses = splitLicenses(l)
		}
		if s := n.Meta["sha256"]; isHex(s, 64) {
			c.checksums = append(c.checksums, checksum{"SHA256", strings.ToLower(s)})
		}
		if h := n.Meta["narHash"]; h != "" {
			if x, err := NarHashHex(h); err == nil {
				c.checksums = append(c.checksums, checksum{"SHA256", x})
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func uniqSorted(xs []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// splitLicenses splits a Meta["license"] value: names separated by commas
// or semicolons (each may itself be a DEP-5 expression like "GPL-2+ or
// Artistic").
func splitLicenses(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' })
	var out []string
	seen := map[string]bool{}
	for _, x := range f {
		x = strings.TrimSpace(x)
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// imagePurl is pkg:oci/NAME@sha256%3A...?arch=..&repository_url=..&tag=..
func (in Input) imagePurl() string {
	repo := in.ImageName
	last := repo
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		last = repo[i+1:]
	}
	p := "pkg:oci/" + purl.Escape(strings.ToLower(last))
	if in.ImageDigest.Hex != "" {
		p += "@" + purl.Escape(in.ImageDigest.String())
	}
	var q []string
	if in.Platform.Arch != "" {
		q = append(q, "arch="+purl.Escape(in.Platform.Arch))
	}
	if last != repo {
		q = append(q, "repository_url="+url.QueryEscape(repo))
	}
	q = append(q, "tag="+purl.Escape(in.tag()))
	return p + "?" + strings.Join(q, "&")
}

// uuid derives a stable RFC 4122 UUID (version 5 layout, SHA-256 based)
// from the image digest, or from the graph when there is no digest.
func (in Input) uuid(kind string) string {
	h := sha256.New()
	fmt.Fprintf(h, "strata-sbom\x00%s\x00", kind)
	if in.ImageDigest.Hex != "" {
		fmt.Fprintf(h, "%s\x00", in.ImageDigest)
	} else {
		fmt.Fprintf(h, "%s:%s\x00", in.ImageName, in.tag())
		for _, id := range in.Graph.IDs() {
			n := in.Graph.Nodes[id]
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", id, n.Version, n.Meta["sha256"], n.Meta["narHash"])
		}
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

const nixAlphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// NarHashHex turns a Nix sha256 hash in any of its spellings
// ("sha256:<nix base32>", "sha256-<base64>" (SRI), "sha256:<hex>", or a
// bare one of those) into lower-case hex.
func NarHashHex(h string) (string, error) {
	s := h
	switch {
	case strings.HasPrefix(s, "sha256-"):
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "sha256-"))
		if err != nil || len(b) != 32 {
			return "", fmt.Errorf("narHash %q: bad SRI base64", h)
		}
		return hex.EncodeToString(b), nil
	case strings.HasPrefix(s, "sha256:"):
		s = strings.TrimPrefix(s, "sha256:")
	}
	switch len(s) {
	case 64:
		if isHex(s, 64) {
			return strings.ToLower(s), nil
		}
	case 52:
		b := make([]byte, 32)
		for n := 0; n < len(s); n++ {
			c := s[len(s)-1-n]
			d := strings.IndexByte(nixAlphabet, c)
			if d < 0 {
				return "", fmt.Errorf("narHash %q: %q is not a Nix base32 digit", h, c)
			}
			bit := n * 5
			i, j := bit/8, bit%8
			b[i] |= byte(d << j)
			if i+1 < len(b) {
				b[i+1] |= byte(d >> (8 - j))
			} else if d>>(8-j) != 0 {
				return "", fmt.Errorf("narHash %q: too large for sha256", h)
			}
		}
		return hex.EncodeToString(b), nil
	}
	return "", fmt.Errorf("narHash %q is not a sha256 in hex, Nix base32 or SRI form", h)
}
