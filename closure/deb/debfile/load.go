package debfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/deb822"
)

// parseControl parses the control file's paragraph and checks the fields
// strata relies on.
func parseControl(text string) (map[string]string, error) {
	f, err := ParseParagraph(text)
	if err != nil {
		return nil, fmt.Errorf("parsing the control paragraph: %w", err)
	}
	if !ValidName(f["Package"]) {
		return nil, fmt.Errorf("Package field %q is not a valid Debian package name", f["Package"])
	}
	if f["Version"] == "" || f["Architecture"] == "" {
		return nil, errors.New("the Version or Architecture field is missing")
	}
	return f, nil
}

// ParseParagraph parses the first deb822 paragraph of text: field names
// map to values; a multi-line value keeps its continuation lines, each
// without its leading space, joined by "\n" (" ." lines become "").
func ParseParagraph(text string) (map[string]string, error) {
	p, err := deb822.ReadFirst(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	return p.Map()
}

// load reads an unpacked entry's manifest and control files.
func load(dir, sha string) (*Package, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", manifestName, err)
	}
	if m.Format != manifestForm || m.SHA256 != sha {
		return nil, fmt.Errorf("%s has format %q for %s, expected %q for %s", manifestName, m.Format, m.SHA256, manifestForm, sha)
	}
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, controlDirNam, name))
		return string(b), err
	}
	p := &Package{SHA256: sha, Dir: filepath.Join(dir, rootDirName), Scripts: m.Scripts, InstalledBytes: m.InstalledBytes}
	if p.Control, err = read("control"); err != nil {
		return nil, err
	}
	if p.MD5Sums, err = read("md5sums"); err != nil {
		return nil, err
	}
	if p.Conffiles, err = read("conffiles"); err != nil {
		return nil, err
	}
	if p.Fields, err = parseControl(p.Control); err != nil {
		return nil, err
	}
	p.Name, p.Version, p.Arch = p.Fields["Package"], p.Fields["Version"], p.Fields["Architecture"]
	p.Entries = make([]closure.Entry, 0, len(m.Entries))
	for _, me := range m.Entries {
		if !validPath(me.Path) {
			return nil, fmt.Errorf("%s lists a bad path %q", manifestName, me.Path)
		}
		e := closure.Entry{Path: me.Path, Mode: closure.ModeFromUnix(me.Mode), UID: me.UID, GID: me.GID, Size: me.Size, Link: me.Link}
		switch me.Type {
		case "file":
			e.Type = closure.Regular
			e.Open = opener(p.Dir, me.Path, me.Size)
		case "dir":
			e.Type = closure.Dir
		case "symlink":
			e.Type = closure.Symlink
		case "hardlink":
			e.Type = closure.Hardlink
		default:
			return nil, fmt.Errorf("%s lists an entry of unknown type %q", manifestName, me.Type)
		}
		p.Entries = append(p.Entries, e)
	}
	return p, nil
}

// Script returns the text of one of the package's maintainer scripts
// (preinst, postinst, prerm, postrm, config), "" when it has none.
// strata never runs them; sysfiles reads a few well-known effects from
// them.
func (p *Package) Script(name string) (string, error) {
	if !maintainerScripts[name] {
		return "", fmt.Errorf("%q is not a maintainer script name", name)
	}
	if !slices.Contains(p.Scripts, name) {
		return "", nil
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(p.Dir), controlDirNam, name))
	if err != nil {
		return "", fmt.Errorf("reading the %s script of %s: %w", name, p.Name, err)
	}
	return string(b), nil
}

func validPath(p string) bool {
	return p != "" && p != "." && !strings.HasPrefix(p, "/") && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".."
}

// opener reads an unpacked file inside root (never following a symlink out
// of it) and checks its size against the manifest.
func opener(root, rel string, size int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		f, err := os.OpenInRoot(root, filepath.FromSlash(rel))
		if err != nil {
			return nil, fmt.Errorf("opening unpacked %s: %w", rel, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening unpacked %s: %w", rel, err)
		}
		if !st.Mode().IsRegular() || st.Size() != size {
			f.Close()
			return nil, fmt.Errorf("unpacked %s in %s is %d bytes (%v), the manifest says a %d-byte file: the cache entry is damaged; delete %s and run again", rel, root, st.Size(), st.Mode().Type(), size, filepath.Dir(root))
		}
		return f, nil
	}
}
