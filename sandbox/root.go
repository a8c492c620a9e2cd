package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// rootArgs lays Root out on bwrap's tmpfs "/": each entry of a folder is
// bound read-only (symlinks recreated), except the folders on the way to a
// mount point, which are made on the tmpfs and filled the same way, and
// the mount points themselves, which the mounts that follow create. So a
// read-only root needs no mount points of its own, and nothing is ever
// created inside a host folder.
func rootArgs(root string, points []string) ([]string, error) {
	points = slices.Clone(points)
	slices.Sort(points)
	isPoint := map[string]bool{}
	rebuilt := map[string]bool{"/": true} // folders made on the tmpfs
	children := map[string][]string{}     // rebuilt folder -> rebuilt children
	for _, p := range points {
		isPoint[p] = true
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if rebuilt[d] {
				break
			}
			rebuilt[d] = true
		}
	}
	for d := range rebuilt {
		if d == "/" {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, d))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("laying out the step's root: %w", err)
		case !fi.IsDir():
			return nil, fmt.Errorf("a mount point lies under %s, which is a %s in the step's root, not a folder; mount at the path it resolves to", d, kind(fi.Mode()))
		}
		children[path.Dir(d)] = append(children[path.Dir(d)], path.Base(d))
	}
	var args []string
	var fill func(dir string) error
	fill = func(dir string) error {
		names := slices.Clone(children[dir])
		ents, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("laying out the step's root: %w", err)
		}
		for _, e := range ents {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		names = slices.Compact(names)
		for _, n := range names {
			p := path.Join(dir, n)
			host := filepath.Join(root, p)
			switch {
			case isPoint[p]:
				// the mount creates it
			case rebuilt[p]:
				args = append(args, "--dir", p)
				if err := fill(p); err != nil {
					return err
				}
			default:
				fi, err := os.Lstat(host)
				if err != nil {
					return fmt.Errorf("laying out the step's root: %w", err)
				}
				if fi.Mode()&fs.ModeSymlink != 0 {
					target, err := os.Readlink(host)
					if err != nil {
						return fmt.Errorf("laying out the step's root: %w", err)
					}
					args = append(args, "--symlink", target, p)
				} else {
					args = append(args, "--ro-bind", host, p)
				}
			}
		}
		return nil
	}
	if err := fill("/"); err != nil {
		return nil, err
	}
	return args, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}
