package inspect

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Efficiency follows dive's definitions so numbers can be compared with
// `dive --ci`:
//
//   - every layer is a file tree; only its leaves (entries with no entry
//     below them in the same layer) are counted;
//   - for each path, the cumulative size is the sum of its sizes over the
//     layers it appears in, the minimum size the smallest of those; a
//     whiteout counts the size of the folder tree it deletes (0 for a file);
//   - efficiency = sum of minimum sizes / sum of cumulative sizes (1 when
//     there are no bytes);
//   - wasted bytes = sum of cumulative sizes of the paths that appear in
//     more than one layer;
//   - a layer's size is the sum of its entries' sizes, and the user size is
//     that sum over every layer but the first; user wasted percent =
//     wasted bytes / user size (reported as 0 when the user size is 0).
//
// Opaque markers (.wh..wh..opq) are not counted (dive has no notion of them).
type Efficiency struct {
	Efficiency        float64 `json:"efficiency"`
	SizeBytes         int64   `json:"sizeBytes"`
	UserSizeBytes     int64   `json:"userSizeBytes"`
	WastedBytes       int64   `json:"wastedBytes"`
	WastedUserPercent float64 `json:"wastedUserPercent"`
	// Inefficiencies are the paths found in more than one layer, largest
	// cumulative size first (paths with no bytes are left out).
	Inefficiencies []Inefficiency `json:"inefficiencies"`
}

// Inefficiency is one path repeated across layers.
type Inefficiency struct {
	Path           string `json:"path"`
	Count          int    `json:"count"`
	CumulativeSize int64  `json:"cumulativeSize"`
	Layers         []int  `json:"layers"`
}

// Thresholds are the CI limits; DefaultThresholds are dive's defaults.
type Thresholds struct {
	// LowestEfficiency fails the check when efficiency is below it.
	LowestEfficiency float64 `json:"lowestEfficiency"`
	// HighestUserWastedPercent fails it when the user wasted ratio
	// (0..1) is above it.
	HighestUserWastedPercent float64 `json:"highestUserWastedPercent"`
	// HighestWastedBytes fails it when wasted bytes are above it; 0
	// disables the rule (dive's default).
	HighestWastedBytes int64 `json:"highestWastedBytes,omitempty"`
}

// DefaultThresholds are dive's CI defaults.
var DefaultThresholds = Thresholds{LowestEfficiency: 0.9, HighestUserWastedPercent: 0.1}

// ErrCI marks a failed efficiency check.
var ErrCI = errors.New("efficiency check failed")

// CI checks e against t and returns an error wrapping ErrCI that names
// every failed rule, or nil.
func (e *Efficiency) CI(t Thresholds) error {
	var fails []string
	if e.Efficiency < t.LowestEfficiency {
		fails = append(fails, fmt.Sprintf("image efficiency is too low (efficiency=%.4f < lowestEfficiency=%v)", e.Efficiency, t.LowestEfficiency))
	}
	if e.WastedUserPercent > t.HighestUserWastedPercent {
		fails = append(fails, fmt.Sprintf("too many bytes wasted relative to the bytes added over the first layer (user wasted=%.4f > highestUserWastedPercent=%v)", e.WastedUserPercent, t.HighestUserWastedPercent))
	}
	if t.HighestWastedBytes > 0 && e.WastedBytes > t.HighestWastedBytes {
		fails = append(fails, fmt.Sprintf("too many bytes wasted (wasted=%d > highestWastedBytes=%d)", e.WastedBytes, t.HighestWastedBytes))
	}
	if len(fails) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s; remove files that later layers overwrite or delete", ErrCI, strings.Join(fails, "; "))
}

type effData struct {
	cum, min int64
	layers   []int
}

// ComputeEfficiency reads every layer once and computes the figures.
func ComputeEfficiency(img v1.Image) (*Efficiency, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	perLayer := make([][]FileEntry, len(layers))
	for i, l := range layers {
		es, err := readLayer(l, false)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		perLayer[i] = es
	}
	return efficiencyOf(perLayer), nil
}

func efficiencyOf(perLayer [][]FileEntry) *Efficiency {
	res := &Efficiency{Inefficiencies: []Inefficiency{}}
	data := map[string]*effData{}
	stacked := map[string]FileEntry{} // layers 0..i-1 merged
	for i, entries := range perLayer {
		var layerSize int64
		// The layer's tree: its entries plus implied parent folders.
		parents := map[string]bool{}
		for _, e := range entries {
			layerSize += e.Size
			if e.Type == TypeOpaque {
				continue
			}
			for d := parentOf(e.Path); d != ""; d = parentOf(d) {
				parents[d] = true
			}
		}
		res.SizeBytes += layerSize
		if i > 0 {
			res.UserSizeBytes += layerSize
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if e.Type == TypeOpaque || parents[e.Path] || seen[e.Path] {
				continue
			}
			seen[e.Path] = true
			size := e.Size
			if e.Type == TypeWhiteout {
				size = 0
				if prev, ok := stacked[e.Path]; ok && prev.Type == TypeDir {
					prefix := e.Path + "/"
					for p, pe := range stacked {
						if strings.HasPrefix(p, prefix) {
							size += pe.Size
						}
					}
				}
			}
			d := data[e.Path]
			if d == nil {
				d = &effData{min: -1}
				data[e.Path] = d
			}
			d.cum += size
			if d.min < 0 || size < d.min {
				d.min = size
			}
			d.layers = append(d.layers, i)
		}
		applyLayer(stacked, entries)
	}
	var minSum, cumSum int64
	for p, d := range data {
		minSum += d.min
		cumSum += d.cum
		if len(d.layers) > 1 {
			res.WastedBytes += d.cum
			if d.cum > 0 {
				res.Inefficiencies = append(res.Inefficiencies, Inefficiency{Path: "/" + p, Count: len(d.layers), CumulativeSize: d.cum, Layers: d.layers})
			}
		}
	}
	res.Efficiency = 1
	if cumSum > 0 {
		res.Efficiency = float64(minSum) / float64(cumSum)
	}
	if res.UserSizeBytes > 0 {
		res.WastedUserPercent = float64(res.WastedBytes) / float64(res.UserSizeBytes)
	}
	sort.Slice(res.Inefficiencies, func(a, b int) bool {
		x, y := res.Inefficiencies[a], res.Inefficiencies[b]
		if x.CumulativeSize != y.CumulativeSize {
			return x.CumulativeSize > y.CumulativeSize
		}
		return x.Path < y.Path
	})
	return res
}

func parentOf(p string) string {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Text writes the figures and the largest inefficiencies.
func (e *Efficiency) Text(w io.Writer) error {
	fmt.Fprintf(w, "Efficiency:          %.4f %%\n", e.Efficiency*100)
	fmt.Fprintf(w, "Wasted bytes:        %d (%s)\n", e.WastedBytes, HumanSize(e.WastedBytes))
	fmt.Fprintf(w, "User wasted percent: %.4f %%\n", e.WastedUserPercent*100)
	if len(e.Inefficiencies) == 0 {
		_, err := fmt.Fprintln(w, "No file appears in more than one layer.")
		return err
	}
	fmt.Fprintf(w, "\nCOUNT  TOTAL SPACE  PATH\n")
	for i, in := range e.Inefficiencies {
		if i == 20 {
			fmt.Fprintf(w, "... %d more\n", len(e.Inefficiencies)-20)
			break
		}
		fmt.Fprintf(w, "%5d  %11s  %s\n", in.Count, HumanSize(in.CumulativeSize), in.Path)
	}
	return nil
}
