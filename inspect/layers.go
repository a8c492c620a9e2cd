package inspect

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LayerInfo is one layer with what it holds.
type LayerInfo struct {
	LayerBrief
	// FileBytes is the sum of the regular file sizes in the layer.
	FileBytes int64 `json:"fileBytes"`
	Entries   int   `json:"entries"`
	// Packages are the Debian packages whose status file
	// (var/lib/dpkg/status.d/NAME) the layer holds (strata writes each in
	// its package's own layer).
	Packages []string `json:"packages,omitempty"`
	// StorePaths are the nix/store/* top folders the layer holds.
	StorePaths []string `json:"storePaths,omitempty"`
	// Holds is a one-line description: strata's own layer title (from the
	// history entry strata wrote), else the packages and store paths
	// found in the layer, else its history line.
	Holds string `json:"holds"`
}

const statusDir = "var/lib/dpkg/status.d/"

// statusName returns the package name of a status.d file, or "" for the
// companion files (NAME.md5sums, NAME.list...).
func statusName(p string) string {
	if !strings.HasPrefix(p, statusDir) {
		return ""
	}
	n := strings.TrimPrefix(p, statusDir)
	if n == "" || strings.Contains(n, "/") || isCompanion(n) {
		return ""
	}
	return n
}

func isCompanion(n string) bool {
	for _, s := range []string{".md5sums", ".list", ".conffiles", ".preinst", ".postinst", ".prerm", ".postrm", ".triggers", ".shlibs", ".symbols", ".templates", ".config"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// storeTop returns "nix/store/HASH-NAME" for a path under it, else "".
func storeTop(p string) string {
	if !strings.HasPrefix(p, "nix/store/") {
		return ""
	}
	rest := strings.TrimPrefix(p, "nix/store/")
	top, _, _ := strings.Cut(rest, "/")
	if top == "" || strings.HasPrefix(top, ".") {
		return ""
	}
	return "/nix/store/" + top
}

// Layers lists the image's layers with what each one holds.
func Layers(img v1.Image) ([]LayerInfo, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	briefs, err := layerBriefs(img, cf)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	hist := historyForLayers(cf, len(layers))
	out := make([]LayerInfo, 0, len(layers))
	for i, l := range layers {
		entries, err := readLayer(l, false)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		li := LayerInfo{LayerBrief: briefs[i], Entries: len(entries)}
		pk, sp := map[string]bool{}, map[string]bool{}
		for _, e := range entries {
			if e.Type == TypeFile {
				li.FileBytes += e.Size
			}
			if e.Type == TypeWhiteout || e.Type == TypeOpaque {
				continue
			}
			if n := statusName(e.Path); n != "" && e.Type == TypeFile {
				pk[n] = true
			}
			if t := storeTop(e.Path); t != "" {
				sp[t] = true
			}
		}
		li.Packages = sortedPaths(pk)
		li.StorePaths = sortedPaths(sp)
		li.Holds = holds(li, hist[i])
		out = append(out, li)
	}
	return out, nil
}

// strataComment marks the history entries strata writes; their created_by
// is "strata: " + the layer's title.
const strataComment = "strata"

func holds(li LayerInfo, h v1.History) string {
	if h.Comment == strataComment && strings.HasPrefix(h.CreatedBy, "strata: ") {
		return oneLine(strings.TrimPrefix(h.CreatedBy, "strata: "))
	}
	var parts []string
	if len(li.Packages) > 0 {
		parts = append(parts, "deb: "+listShort(li.Packages))
	}
	if len(li.StorePaths) > 0 {
		names := make([]string, len(li.StorePaths))
		for i, s := range li.StorePaths {
			names[i] = path.Base(s)
		}
		parts = append(parts, "nix: "+listShort(names))
	}
	if len(parts) == 0 {
		return oneLine(li.CreatedBy)
	}
	return strings.Join(parts, "; ")
}

func listShort(xs []string) string {
	const max = 6
	if len(xs) <= max {
		return strings.Join(xs, " ")
	}
	return strings.Join(xs[:max], " ") + fmt.Sprintf(" (+%d more)", len(xs)-max)
}

// LayersText writes the layers view for people.
func LayersText(w io.Writer, ls []LayerInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tSIZE\tFILES\tDIFFID\tHOLDS\n")
	for _, l := range ls {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", l.Index, HumanSize(l.Size), HumanSize(l.FileBytes), shortDigest(l.DiffID), l.Holds)
	}
	return tw.Flush()
}

// LayerFiles is the file tree of one layer.
type LayerFiles struct {
	Index   int         `json:"index"`
	DiffID  string      `json:"diffID"`
	Size    int64       `json:"size"`
	Entries []FileEntry `json:"entries"`
}

// Files lists each layer's entries sorted by path; layer >= 0 selects one
// layer, -1 all.
func Files(img v1.Image, layer int) ([]LayerFiles, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	if layer >= len(layers) || layer < -1 {
		return nil, fmt.Errorf("layer %d does not exist: the image has layers 0 to %d", layer, len(layers)-1)
	}
	var out []LayerFiles
	for i, l := range layers {
		if layer >= 0 && i != layer {
			continue
		}
		entries, err := readLayer(l, false)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		sort.SliceStable(entries, func(a, b int) bool { return entries[a].Path < entries[b].Path })
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d diffID: %w", i, err)
		}
		lf := LayerFiles{Index: i, DiffID: diffID.String(), Entries: entries}
		for _, e := range entries {
			lf.Size += e.Size
		}
		out = append(out, lf)
	}
	return out, nil
}

// FilesText writes the trees, indented by depth, with mode, owner and size.
func FilesText(w io.Writer, lfs []LayerFiles) error {
	for _, lf := range lfs {
		fmt.Fprintf(w, "layer %d %s (%s in %d entries)\n", lf.Index, shortDigest(lf.DiffID), HumanSize(lf.Size), len(lf.Entries))
		tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', tabwriter.AlignRight)
		for _, e := range lf.Entries {
			depth := strings.Count(e.Path, "/")
			name := strings.Repeat("  ", depth) + path.Base(e.Path)
			switch e.Type {
			case TypeDir:
				name += "/"
			case TypeSymlink:
				name += " -> " + e.Link
			case TypeHardlink:
				name += " => /" + e.Link
			case TypeWhiteout:
				name += " (deleted)"
			case TypeOpaque:
				name += "/ (opaque: lower contents hidden)"
			}
			mode := e.Mode
			if mode == "" {
				mode = "----"
			}
			fmt.Fprintf(tw, "%s\t%d:%d\t%s\t  %s\n", mode, e.UID, e.GID, HumanSize(e.Size), name)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
