package sbom

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/closure"
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

// DefaultDistro is the purl distro qualifier of Debian packages whose
// node has no Meta["distro"].
const DefaultDistro = "debian-12"

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
		return errors.New("sbom: no closure graph given: build the graph from a spec (strata sbom SPEC) or an image (sbom.FromImage)")
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
		c.purl = purlOf(n)
		if l := n.Meta["license"]; l != "" {
			c.licenses = splitLicenses(l)
		} else if n.Kind == closure.KindDeb && n.Contents != nil {
			ls, err := contentLicenses(n)
			if err != nil {
				return nil, err
			}
			c.licenses = ls
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

// contentLicenses reads the licenses of a Debian package from its own
// usr/share/doc/NAME/copyright when the source did not record them (nil
// when the file is absent, a symlink, or not machine-readable).
func contentLicenses(n *closure.Node) ([]string, error) {
	entries, err := n.Contents.Entries(context.Background())
	if err != nil {
		return nil, fmt.Errorf("listing the files of %s for its licenses: %w", n.ID, err)
	}
	want := "usr/share/doc/" + n.Name + "/copyright"
	for _, e := range entries {
		if e.Path != want || e.Type != closure.Regular || e.Open == nil {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", want, n.ID, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 4<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", want, n.ID, err)
		}
		return DebianLicenses(string(b)), nil
	}
	return nil, nil
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

// purlOf returns the node's package URL: Meta["purl"] when the source set
// one, else (qualifiers in key order, as the purl spec wants)
//
//	pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=DISTRO[&upstream=SOURCE]
//	pkg:nix/NAME@VERSION?outputhash=HASH
//
// for Debian packages (upstream when the source package is named
// differently) and Nix store paths (HASH is the store path's hash part;
// "nix" is not a registered purl type yet, this follows syft's form), and
// "" for other kinds.
func purlOf(n *closure.Node) string {
	if p := n.Meta["purl"]; p != "" {
		return p
	}
	switch n.Kind {
	case closure.KindDeb:
		distro := n.Meta["distro"]
		if distro == "" {
			distro = DefaultDistro
		}
		q := []string{}
		if n.Arch != "" {
			q = append(q, "arch="+purlEscape(n.Arch))
		}
		q = append(q, "distro="+purlEscape(distro))
		if src := n.Meta["source"]; src != "" && src != n.Name {
			q = append(q, "upstream="+purlEscape(src))
		}
		return "pkg:deb/debian/" + purlEscape(n.Name) + versionPart(n.Version) + "?" + strings.Join(q, "&")
	case closure.KindNix:
		p := "pkg:nix/" + purlEscape(n.Name) + versionPart(n.Version)
		if h := storeHash(n); h != "" {
			p += "?outputhash=" + h
		}
		return p
	}
	return ""
}

// storeHash is the hash part of a Nix node's store path (from
// Meta["storePath"], else the "nix:/nix/store/..." ID), or "".
func storeHash(n *closure.Node) string {
	p := n.Meta["storePath"]
	if p == "" {
		p = strings.TrimPrefix(n.ID, "nix:")
	}
	base := p[strings.LastIndex(p, "/")+1:]
	if len(base) < 33 || base[32] != '-' {
		return ""
	}
	for i := 0; i < 32; i++ {
		if strings.IndexByte(nixAlphabet, base[i]) < 0 {
			return ""
		}
	}
	return base[:32]
}

func versionPart(v string) string {
	if v == "" {
		return ""
	}
	return "@" + purlEscape(v)
}

// purlEscape percent-encodes everything but unreserved characters.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// imagePurl is pkg:oci/NAME@sha256%3A...?arch=..&repository_url=..&tag=..
func (in Input) imagePurl() string {
	repo := in.ImageName
	last := repo
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		last = repo[i+1:]
	}
	p := "pkg:oci/" + purlEscape(strings.ToLower(last))
	if in.ImageDigest.Hex != "" {
		p += "@" + purlEscape(in.ImageDigest.String())
	}
	var q []string
	if in.Platform.Arch != "" {
		q = append(q, "arch="+purlEscape(in.Platform.Arch))
	}
	if last != repo {
		q = append(q, "repository_url="+url.QueryEscape(repo))
	}
	q = append(q, "tag="+purlEscape(in.tag()))
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
