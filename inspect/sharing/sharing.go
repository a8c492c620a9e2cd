package sharing

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// NamedImage is one image of the fleet.
type NamedImage struct {
	Name  string
	Image v1.Image
}

// ImageSharing is one image's figures. Sizes are compressed blob sizes as
// a registry stores them: the layers plus the config. A blob an image
// lists twice counts once.
type ImageSharing struct {
	Name   string `json:"name"`
	Layers int    `json:"layers"`
	// Size is the sum of the image's distinct layer and config blob sizes.
	Size int64 `json:"size"`
	// Unique is the bytes of blobs no other image of the fleet has.
	Unique int64 `json:"unique"`
	// Shared is Size-Unique: bytes of blobs at least one other image has.
	Shared int64 `json:"shared"`
}

// Report is the fleet's sharing.
type Report struct {
	Images []ImageSharing `json:"images"`
	// TotalSize is the sum of the images' sizes.
	TotalSize int64 `json:"totalSize"`
	// StoredSize is what a registry stores: every distinct blob once.
	StoredSize int64 `json:"storedSize"`
	// DedupRatio is TotalSize/StoredSize (1 when nothing is shared).
	DedupRatio float64 `json:"dedupRatio"`
	// Blobs is the number of distinct blobs; SharedBlobs those in more
	// than one image.
	Blobs       int `json:"blobs"`
	SharedBlobs int `json:"sharedBlobs"`
	// Pairs[i][j] is the bytes images i and j have in common; Pairs[i][i]
	// is image i's size.
	Pairs [][]int64 `json:"pairs"`
}

// Measure computes the sharing of images from their manifests.
func Measure(images []NamedImage) (*Report, error) {
	type blob struct {
		size  int64
		users []int
	}
	blobs := map[v1.Hash]*blob{}
	var order []v1.Hash
	r := &Report{Images: make([]ImageSharing, len(images))}
	perImage := make([][]v1.Hash, len(images))
	names := map[string]bool{}
	for i, ni := range images {
		if ni.Name == "" {
			return nil, fmt.Errorf("sharing: image %d has no name; give every image a name", i)
		}
		if names[ni.Name] {
			return nil, fmt.Errorf("sharing: two images named %q; give every image a distinct name", ni.Name)
		}
		names[ni.Name] = true
		if ni.Image == nil {
			return nil, fmt.Errorf("sharing: image %q is nil", ni.Name)
		}
		m, err := ni.Image.Manifest()
		if err != nil {
			return nil, fmt.Errorf("sharing: reading the manifest of %s: %w", ni.Name, err)
		}
		r.Images[i] = ImageSharing{Name: ni.Name, Layers: len(m.Layers)}
		seen := map[v1.Hash]bool{}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if seen[d.Digest] {
				continue
			}
			seen[d.Digest] = true
			b := blobs[d.Digest]
			if b == nil {
				b = &blob{size: d.Size}
				blobs[d.Digest] = b
				order = append(order, d.Digest)
			} else if b.size != d.Size {
				return nil, fmt.Errorf("sharing: blob %s is %d bytes in %s but %d bytes in %s; the manifests disagree",
					d.Digest, d.Size, ni.Name, b.size, images[b.users[0]].Name)
			}
			b.users = append(b.users, i)
			perImage[i] = append(perImage[i], d.Digest)
			r.Images[i].Size += d.Size
		}
	}
	r.Pairs = make([][]int64, len(images))
	for i := range r.Pairs {
		r.Pairs[i] = make([]int64, len(images))
	}
	for _, h := range order {
		b := blobs[h]
		r.StoredSize += b.size
		r.Blobs++
		if len(b.users) > 1 {
			r.SharedBlobs++
		}
		for _, i := range b.users {
			for _, j := range b.users {
				r.Pairs[i][j] += b.size
			}
		}
	}
	for i := range r.Images {
		for _, h := range perImage[i] {
			if len(blobs[h].users) == 1 {
				r.Images[i].Unique += blobs[h].size
			}
		}
		r.Images[i].Shared = r.Images[i].Size - r.Images[i].Unique
		r.TotalSize += r.Images[i].Size
	}
	r.DedupRatio = 1
	if r.StoredSize > 0 {
		r.DedupRatio = float64(r.TotalSize) / float64(r.StoredSize)
	}
	return r, nil
}

// Text writes the report as a table.
func (r *Report) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "IMAGE\tLAYERS\tSIZE\tUNIQUE\tSHARED\t")
	imgs := append([]ImageSharing(nil), r.Images...)
	sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Name < imgs[j].Name })
	for _, im := range imgs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", im.Name, im.Layers, human(im.Size), human(im.Unique), human(im.Shared))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\nfleet: %s in %d images, registry stores %s in %d blobs (%d shared); dedup ratio %.2f\n",
		strings.Repeat("-", 40), human(r.TotalSize), len(r.Images), human(r.StoredSize), r.Blobs, r.SharedBlobs, r.DedupRatio)
	return err
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
