package inspect

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/imageref"
)

// Summary is the default view: what the image is, how it runs, its layers.
// For an index it lists the platform manifests instead.
type Summary struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	// ImageID is the config digest: the one digest every output of an
	// image shares (Docker shows it as the image ID).
	ImageID string `json:"imageID,omitempty"`
	// DigestComputed says the reference stores no manifest (a docker
	// archive, the Docker Engine): Digest is computed by the reader and
	// matches no output; compare ImageID instead.
	DigestComputed bool   `json:"digestComputed,omitempty"`
	MediaType      string `json:"mediaType"`
	// Manifests are an index's entries; empty for an image.
	Manifests []ManifestEntry `json:"manifests,omitempty"`

	Platform string      `json:"platform,omitempty"`
	Created  *time.Time  `json:"created,omitempty"`
	Config   *Highlights `json:"config,omitempty"`
	// Size is the sum of the compressed layer sizes.
	Size   int64        `json:"size,omitempty"`
	Layers []LayerBrief `json:"layers,omitempty"`
}

// ManifestEntry is one entry of an index.
type ManifestEntry struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Platform  string `json:"platform,omitempty"`
}

// Highlights are the runtime settings users look for first.
type Highlights struct {
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	User         string            `json:"user,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
}

// LayerBrief is a layer as the summary shows it.
type LayerBrief struct {
	Index     int    `json:"index"`
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
	CreatedBy string `json:"createdBy,omitempty"`
}

// Summarize builds the summary of a loaded reference.
func Summarize(r *imageref.Ref) (*Summary, error) {
	if r.Index != nil {
		return summarizeIndex(r)
	}
	img := r.Image
	s := &Summary{Name: r.Name}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting %s: %w", r.Name, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type of %s: %w", r.Name, err)
	}
	s.Digest, s.MediaType = d.String(), string(mt)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", r.Name, err)
	}
	s.Platform = platformOf(cf)
	if cn, err := img.ConfigName(); err == nil {
		s.ImageID = cn.String()
	}
	s.DigestComputed = r.Kind == imageref.KindArchive || r.Kind == imageref.KindDaemon
	if !cf.Created.IsZero() {
		t := cf.Created.UTC()
		s.Created = &t
	}
	s.Config = highlights(cf.Config)
	briefs, err := layerBriefs(img, cf)
	if err != nil {
		return nil, fmt.Errorf("reading layers of %s: %w", r.Name, err)
	}
	s.Layers = briefs
	for _, b := range briefs {
		s.Size += b.Size
	}
	return s, nil
}

func summarizeIndex(r *imageref.Ref) (*Summary, error) {
	d, err := r.Index.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting %s: %w", r.Name, err)
	}
	im, err := r.Index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", r.Name, err)
	}
	mt := string(im.MediaType)
	if mt == "" {
		if m, err := r.Index.MediaType(); err == nil {
			mt = string(m)
		}
	}
	s := &Summary{Name: r.Name, Digest: d.String(), MediaType: mt}
	for _, m := range im.Manifests {
		e := ManifestEntry{Digest: m.Digest.String(), MediaType: string(m.MediaType), Size: m.Size}
		if m.Platform != nil {
			e.Platform = m.Platform.String()
		}
		s.Manifests = append(s.Manifests, e)
	}
	return s, nil
}

func platformOf(cf *v1.ConfigFile) string {
	p := cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		p += "/" + cf.Variant
	}
	return p
}

func highlights(c v1.Config) *Highlights {
	h := &Highlights{
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		Env:        c.Env,
		WorkingDir: c.WorkingDir,
		User:       c.User,
		Labels:     c.Labels,
		StopSignal: c.StopSignal,
	}
	for p := range c.ExposedPorts {
		h.ExposedPorts = append(h.ExposedPorts, p)
	}
	sort.Strings(h.ExposedPorts)
	for v := range c.Volumes {
		h.Volumes = append(h.Volumes, v)
	}
	sort.Strings(h.Volumes)
	return h
}

// historyForLayers returns the non-empty history entries aligned with the
// layers; zero entries when the history is shorter.
func historyForLayers(cf *v1.ConfigFile, n int) []v1.History {
	out := make([]v1.History, n)
	i := 0
	for _, h := range cf.History {
		if h.EmptyLayer {
			continue
		}
		if i >= n {
			break
		}
		out[i] = h
		i++
	}
	return out
}

func layerBriefs(img v1.Image, cf *v1.ConfigFile) ([]LayerBrief, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	hist := historyForLayers(cf, len(layers))
	out := make([]LayerBrief, 0, len(layers))
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %d digest: %w", i, err)
		}
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d diffID: %w", i, err)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("layer %d size: %w", i, err)
		}
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("layer %d media type: %w", i, err)
		}
		out = append(out, LayerBrief{Index: i, Digest: d.String(), DiffID: diffID.String(), Size: size, MediaType: string(mt), CreatedBy: hist[i].CreatedBy})
	}
	return out, nil
}

// Manifest returns the manifest bytes exactly as stored (what `crane
// manifest` prints): an index stays an index unless the reference was
// loaded with a platform.
func Manifest(r *imageref.Ref) []byte { return r.RawManifest }

// Config returns the image's raw config JSON; an index needs a platform.
func Config(r *imageref.Ref) ([]byte, error) {
	img, err := r.SingleImage()
	if err != nil {
		return nil, err
	}
	b, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", r.Name, err)
	}
	return b, nil
}

// Text writes the summary for people.
func (s *Summary) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", s.Name)
	if s.DigestComputed {
		fmt.Fprintf(tw, "Digest:\t%s (computed: this form stores no manifest; compare the image ID)\n", s.Digest)
	} else {
		fmt.Fprintf(tw, "Digest:\t%s\n", s.Digest)
	}
	if s.ImageID != "" {
		fmt.Fprintf(tw, "Image ID:\t%s\n", s.ImageID)
	}
	fmt.Fprintf(tw, "Media type:\t%s\n", s.MediaType)
	if len(s.Manifests) > 0 || s.Config == nil {
		fmt.Fprintf(tw, "Manifests:\t%d\n", len(s.Manifests))
		for _, m := range s.Manifests {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", orDash(m.Platform), m.Digest, HumanSize(m.Size))
		}
		return tw.Flush()
	}
	fmt.Fprintf(tw, "Platform:\t%s\n", s.Platform)
	if s.Created != nil {
		fmt.Fprintf(tw, "Created:\t%s\n", s.Created.Format(time.RFC3339))
	}
	c := s.Config
	if len(c.Entrypoint) > 0 {
		fmt.Fprintf(tw, "Entrypoint:\t%q\n", c.Entrypoint)
	}
	if len(c.Cmd) > 0 {
		fmt.Fprintf(tw, "Cmd:\t%q\n", c.Cmd)
	}
	if c.User != "" {
		fmt.Fprintf(tw, "User:\t%s\n", c.User)
	}
	if c.WorkingDir != "" {
		fmt.Fprintf(tw, "WorkingDir:\t%s\n", c.WorkingDir)
	}
	for _, e := range c.Env {
		fmt.Fprintf(tw, "Env:\t%s\n", e)
	}
	if len(c.ExposedPorts) > 0 {
		fmt.Fprintf(tw, "Ports:\t%s\n", strings.Join(c.ExposedPorts, " "))
	}
	for _, k := range sortedPaths(c.Labels) {
		fmt.Fprintf(tw, "Label:\t%s=%s\n", k, c.Labels[k])
	}
	fmt.Fprintf(tw, "Size:\t%s in %d layers\n", HumanSize(s.Size), len(s.Layers))
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\n#\tSIZE\tDIGEST\tCREATED BY\n")
	for _, l := range s.Layers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", l.Index, HumanSize(l.Size), shortDigest(l.Digest), oneLine(l.CreatedBy))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// HumanSize formats bytes with binary units: "512 B", "1.5 KiB".
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit || m <= -unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
