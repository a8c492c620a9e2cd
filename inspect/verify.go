package inspect

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/imagefs"
)

// LayerCheck is one layer's verdict in a Verify report.
type LayerCheck struct {
	Index     int    `json:"index"`
	Title     string `json:"title,omitempty"`
	Want      string `json:"want"` // the rebuilt layer's diffID
	Got       string `json:"got"`  // the checked image's diffID ("" if it has fewer layers)
	Identical bool   `json:"identical"`
	// FirstDifference names the first path (in tar order) that differs.
	FirstDifference string `json:"firstDifference,omitempty"`
}

// VerifyReport compares an image against the image rebuilt from its spec.
type VerifyReport struct {
	Identical bool         `json:"identical"`
	Config    bool         `json:"configIdentical"`
	Layers    []LayerCheck `json:"layers"`
}

// Verify compares got (the image to check) with want (rebuilt from the
// spec and lock), layer by layer, naming the first differing file of
// each layer that differs.
func Verify(got, want v1.Image) (*VerifyReport, error) {
	gl, err := got.Layers()
	if err != nil {
		return nil, err
	}
	wl, err := want.Layers()
	if err != nil {
		return nil, err
	}
	titles := historyTitles(want)
	rep := &VerifyReport{Identical: true}
	gc, err := got.ConfigName()
	if err != nil {
		return nil, err
	}
	wc, err := want.ConfigName()
	if err != nil {
		return nil, err
	}
	rep.Config = gc == wc
	n := max(len(gl), len(wl))
	for i := 0; i < n; i++ {
		lc := LayerCheck{Index: i}
		if i < len(titles) {
			lc.Title = titles[i]
		}
		var gd, wd v1.Hash
		if i < len(wl) {
			if wd, err = wl[i].DiffID(); err != nil {
				return nil, err
			}
			lc.Want = wd.String()
		}
		if i < len(gl) {
			if gd, err = gl[i].DiffID(); err != nil {
				return nil, err
			}
			lc.Got = gd.String()
		}
		lc.Identical = lc.Want == lc.Got
		if !lc.Identical {
			rep.Identical = false
			switch {
			case i >= len(gl):
				lc.FirstDifference = "the image lacks this layer"
			case i >= len(wl):
				lc.FirstDifference = "the rebuilt image has no such layer"
			default:
				if lc.FirstDifference, err = firstLayerDifference(gl[i], wl[i]); err != nil {
					return nil, err
				}
			}
		}
		rep.Layers = append(rep.Layers, lc)
	}
	if !rep.Config {
		rep.Identical = false
	}
	return rep, nil
}

func historyTitles(img v1.Image) []string {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	return out
}

func firstLayerDifference(got, want v1.Layer) (string, error) {
	ge, err := imagefs.ReadLayer(got, true)
	if err != nil {
		return "", err
	}
	we, err := imagefs.ReadLayer(want, true)
	if err != nil {
		return "", err
	}
	for i := 0; i < len(ge) && i < len(we); i++ {
		g, w := ge[i], we[i]
		switch {
		case g.Path != w.Path:
			return fmt.Sprintf("/%s in the image where the rebuild has /%s", g.Path, w.Path), nil
		case g != w:
			return fmt.Sprintf("/%s: image %s %s %d bytes sha256:%.12s, rebuilt %s %s %d bytes sha256:%.12s", g.Path, g.Type, g.Mode, g.Size, g.SHA256, w.Type, w.Mode, w.Size, w.SHA256), nil
		}
	}
	switch {
	case len(ge) > len(we):
		return "/" + ge[len(we)].Path + " is only in the image", nil
	case len(we) > len(ge):
		return "/" + we[len(ge)].Path + " is only in the rebuild", nil
	}
	return "the same entries with other tar metadata (times, owners' names, headers)", nil
}

// Text writes the report for people.
func (r *VerifyReport) Text(w io.Writer) error {
	for _, l := range r.Layers {
		verdict := "identical"
		if !l.Identical {
			verdict = "DIFFERS: " + l.FirstDifference
		}
		if _, err := fmt.Fprintf(w, "%2d  %-40.40s  %s\n", l.Index, l.Title, verdict); err != nil {
			return err
		}
	}
	cfg := "identical"
	if !r.Config {
		cfg = "DIFFERS"
	}
	fmt.Fprintf(w, "config  %s\n", cfg)
	if r.Identical {
		_, err := fmt.Fprintln(w, "verified: the image is what its spec and lock build")
		return err
	}
	_, err := fmt.Fprintln(w, "not verified: the image differs from what its spec and lock build")
	return err
}
