package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/closure/deb/sysfiles"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/imagefs"
	"github.com/stratabuild/strata/layering"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/spec"
)

// UnknownNameError is `lock --update NAME` for a name that is neither a
// source of the spec nor a package it asks for or has locked. The CLI
// reports it as a usage error.
type UnknownNameError struct {
	Name string
	Spec string
	// Known are the names --update takes here; Sources the source names.
	Known, Sources []string
}

func (e *UnknownNameError) Error() string {
	fix := "name a source (" + strings.Join(e.Sources, ", ") + ") or a package of debian.packages or strata.lock"
	if c := spec.Closest(e.Name, e.Known); c != "" {
		fix = fmt.Sprintf("did you mean `%s`?", c)
	}
	return fmt.Sprintf("--update %s: %s has no input or locked package of that name (%s)", e.Name, e.Spec, fix)
}

// checkUpdateNames refuses update names that nothing would re-resolve:
// the spec's source names, its debian.packages and the packages its lock
// holds are what --update NAME can mean.
func checkUpdateNames(s *spec.Spec, sources []closure.Source, lock *lockfile.File, names []string) error {
	known := map[string]bool{}
	var sourceNames []string
	for _, src := range sources {
		known[src.Name()] = true
		sourceNames = append(sourceNames, src.Name())
	}
	if s.Debian != nil {
		for _, p := range s.Debian.Packages {
			known[p] = true
		}
	}
	for name := range s.Builds { // `lock --update STEP` drops its pin
		known[name] = true
	}
	if lock != nil {
		for _, raw := range lock.Sources["debian"] {
			l, err := deb.ParseLock(raw)
			if err != nil {
				continue // a broken section is re-resolved whole; it names nothing
			}
			for _, p := range l.Packages {
				known[p.Name] = true
			}
		}
	}
	for _, n := range names {
		if known[n] {
			continue
		}
		list := make([]string, 0, len(known))
		for k := range known {
			list = append(list, k)
		}
		sort.Strings(list)
		return &UnknownNameError{Name: n, Spec: s.Path, Known: list, Sources: sourceNames}
	}
	return nil
}

// fsView is the final filesystem of an image as strata's nodes (and the
// base image under them) leave it: enough to follow symlinks and read
// /etc/passwd before any layer is written.
type fsView struct {
	entries map[string]viewEntry
	// storePaths are Nix store paths in the image: their trees are not
	// listed (listing verifies every NAR), everything under them exists.
	storePaths []string
	base       v1.Image
	baseRead   bool
	baseFS     *imagefs.FS
}

type viewEntry struct {
	typ  closure.EntryType
	link string
	// open reads a regular file strata writes; nil for the base's files.
	open func() (io.ReadCloser, error)
	base bool
}

// newView lists the entries of every node in layer order (later layers
// win); nil plan layers list nothing.
func newView(ctx context.Context, g *closure.Graph, plan *layering.Plan, base v1.Image) (*fsView, error) {
	v := &fsView{entries: map[string]viewEntry{}, base: base}
	for _, l := range plan.Layers {
		for _, id := range l.Nodes {
			n := g.Nodes[id]
			if n == nil {
				continue
			}
			if n.Kind == closure.KindNix {
				sp := strings.TrimPrefix(strings.TrimPrefix(id, "nix:"), "/")
				v.storePaths = append(v.storePaths, sp)
				v.entries[sp] = viewEntry{typ: closure.Dir}
				continue
			}
			if n.Contents == nil {
				continue
			}
			es, err := n.Contents.Entries(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the files of %s: %w", id, err)
			}
			for _, e := range es {
				v.entries[e.Path] = viewEntry{typ: e.Type, link: e.Link, open: e.Open}
			}
		}
	}
	v.addParents()
	return v, nil
}

// addParents adds the folders every path implies (a files entry at /app/x
// need not list /app).
func (v *fsView) addParents() {
	for p := range v.entries {
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := v.entries[d]; ok {
				break
			}
			v.entries[d] = viewEntry{typ: closure.Dir}
		}
	}
}

// readBase merges the base image's final entries under strata's, once.
func (v *fsView) readBase() error {
	if v.base == nil || v.baseRead {
		return nil
	}
	v.baseRead = true
	fs, err := imagefs.Flatten(v.base, false)
	if err != nil {
		return fmt.Errorf("reading the base image's files: %w", err)
	}
	v.baseFS = fs
	for p, e := range fs.Entries {
		if _, ok := v.entries[p]; ok {
			continue
		}
		ve := viewEntry{typ: closure.Regular, link: e.Link, base: true}
		switch e.Type {
		case imagefs.TypeDir:
			ve.typ = closure.Dir
		case imagefs.TypeSymlink:
			ve.typ = closure.Symlink
		case imagefs.TypeHardlink:
			ve.typ = closure.Hardlink
		}
		v.entries[p] = ve
	}
	v.addParents()
	return nil
}

func (v *fsView) inStore(p string) bool {
	for _, sp := range v.storePaths {
		if p == sp || strings.HasPrefix(p, sp+"/") {
			return true
		}
	}
	return false
}

// resolve follows symlinks in p (relative to the root, clean) and returns
// the path it ends at, or ok false when some part of it does not exist
// (or the links loop).
func (v *fsView) resolve(p string) (string, bool) {
	for hops := 0; hops < 40; hops++ {
		parts := strings.Split(p, "/")
		cur := ""
		restarted := false
		for i, part := range parts {
			next := path.Join(cur, part)
			if v.inStore(next) {
				return path.Join(append([]string{next}, parts[i+1:]...)...), true
			}
			e, ok := v.entries[next]
			if !ok {
				return "", false
			}
			if e.typ == closure.Symlink {
				target := e.link
				if strings.HasPrefix(target, "/") {
					target = path.Clean(target)
				} else {
					target = path.Join("/", cur, target)
				}
				rest := append([]string{strings.TrimPrefix(target, "/")}, parts[i+1:]...)
				p = strings.TrimPrefix(path.Join(rest...), "/")
				if p == "" {
					return "", true // the root
				}
				restarted = true
				break
			}
			cur = next
		}
		if !restarted {
			return p, true
		}
	}
	return "", false
}

// read returns a file's final content (found false when it is missing).
func (v *fsView) read(p string) ([]byte, bool, error) {
	final, ok := v.resolve(p)
	if !ok {
		return nil, false, nil
	}
	e := v.entries[final]
	if e.typ != closure.Regular {
		return nil, false, nil
	}
	if !e.base {
		if e.open == nil {
			return nil, false, nil
		}
		rc, err := e.open()
		if err != nil {
			return nil, false, fmt.Errorf("reading /%s: %w", final, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		return b, true, err
	}
	files, err := v.baseFS.ReadFiles(func(q string) bool { return q == final }, 16<<20)
	if err != nil {
		return nil, false, fmt.Errorf("reading /%s of the base image: %w", final, err)
	}
	b, ok := files[final]
	return b, ok, nil
}

// checkImage checks what only the whole image shows, before its layers are
// written: that no files entry crosses or replaces another input's symlink
// or folder (checkBreakers), that config.user names an account of its /etc/passwd (and a
// group of /etc/group), and that every symlink a files entry brings points
// at something (a warning naming each one that dangles).
func checkImage(ctx context.Context, s *spec.Spec, p closure.Platform, g *closure.Graph, plan *layering.Plan, base v1.Image, log *events.Log) error {
	if err := checkBreakers(ctx, g, plan); err != nil {
		return fmt.Errorf("%s: the image for %s: %w", s.Path, p, err)
	}
	userName, groupName := accountNames(s.Config.User)
	var links []closure.Entry
	var linkNodes []string
	for _, id := range g.IDs() {
		n := g.Nodes[id]
		if n.Kind != closure.KindFiles || n.Contents == nil {
			continue
		}
		es, err := n.Contents.Entries(ctx)
		if err != nil {
			return fmt.Errorf("listing the files of %s: %w", id, err)
		}
		for _, e := range es {
			if e.Type == closure.Symlink {
				links = append(links, e)
				linkNodes = append(linkNodes, n.Meta["src"])
			}
		}
	}
	if userName == "" && groupName == "" && len(links) == 0 {
		return nil
	}
	v, err := newView(ctx, g, plan, base)
	if err != nil {
		return err
	}
	if len(links) > 0 {
		if err := v.readBase(); err != nil {
			return err
		}
	}
	for i, e := range links {
		target := e.Link
		if !strings.HasPrefix(target, "/") {
			target = path.Join(path.Dir(e.Path), target)
		}
		target = strings.TrimPrefix(path.Clean("/"+target), "/")
		if target == "" {
			continue
		}
		if _, ok := v.resolve(target); !ok {
			log.Warnf("%s: /%s -> %s points at nothing in the image for %s (from files src %s): add what it names, or fix the link", s.Name, e.Path, e.Link, p, linkNodes[i])
		}
	}
	check := func(file, name, key, fix string) error {
		b, found, err := v.read(file)
		if err == nil && !found && v.base != nil {
			if err = v.readBase(); err == nil {
				b, found, err = v.read(file)
			}
		}
		if err != nil {
			return fmt.Errorf("checking config.user of %s: %w", s.Name, err)
		}
		if !found {
			return fmt.Errorf("%s: config.user %q names %s %q, but the image for %s has no /%s (%s)", s.Path, s.Config.User, key, name, p, file, fix)
		}
		names := accountsIn(b)
		if slices.Contains(names, name) {
			return nil
		}
		return fmt.Errorf("%s: config.user %q names %s %q, which /%s of the image for %s does not have (it has %s): %s", s.Path, s.Config.User, key, name, file, p, strings.Join(names, ", "), fix)
	}
	if userName != "" {
		if err := check("etc/passwd", userName, "the user", "add it under accounts.users, or write a numeric uid like \"65532\""); err != nil {
			return err
		}
	}
	if groupName != "" {
		if err := check("etc/group", groupName, "the group", "add it under accounts.groups, or write a numeric gid like \"65532:65532\""); err != nil {
			return err
		}
	}
	return nil
}

// accountNames splits config.user (user, user:group, uid, uid:gid) into
// the parts that are names; numeric parts need no account.
func accountNames(user string) (string, string) {
	if user == "" {
		return "", ""
	}
	u, grp, _ := strings.Cut(user, ":")
	if isNumber(u) {
		u = ""
	}
	if isNumber(grp) {
		grp = ""
	}
	return u, grp
}

func isNumber(s string) bool {
	if s == "" {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// accountsIn lists the names of a passwd or group file, in file order.
func accountsIn(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, _, ok := strings.Cut(line, ":"); ok && name != "" {
			out = append(out, name)
		}
	}
	return out
}

// defaultEnv is the environment every image gets unless its base or spec
// sets it: PATH always (files-only images too, as distroless static has
// it), SSL_CERT_FILE when the image holds a generated CA bundle.
func defaultEnv(ctx context.Context, g *closure.Graph) []string {
	env := []string{"PATH=" + image.DefaultPath}
	for _, id := range g.IDs() {
		n := g.Nodes[id]
		if n.Contents == nil || (n.Kind != closure.KindGenerated && n.Kind != closure.KindFiles) {
			continue
		}
		es, err := n.Contents.Entries(ctx)
		if err != nil {
			continue // the layer writer reports it
		}
		for _, e := range es {
			if e.Path == sysfiles.CABundle && e.Type == closure.Regular {
				return append(env, "SSL_CERT_FILE=/"+sysfiles.CABundle)
			}
		}
	}
	return env
}

// checkNotEmpty refuses a spec that gives an image nothing: no source
// produced a node, a lock section or a base image for any platform.
func checkNotEmpty(s *spec.Spec, r *Resolved) error {
	if len(r.Lock.Sources) > 0 {
		return nil
	}
	for i, g := range r.Graphs {
		if len(g.Nodes) > 0 || r.Bases[i] != nil {
			return nil
		}
	}
	return fmt.Errorf("%s: the spec has no inputs, so the image would hold nothing to run: add files, debian, nix or base (see examples/)", s.Path)
}
