package spec

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
)

// Defaults.
const (
	DefaultTag     = "latest"
	DefaultBudget  = 100
	MaxLayers      = 127
	DefaultCreated = "1970-01-01T00:00:01Z"
)

var (
	nameRe     = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRe      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	platformRe = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	envKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	modeRe     = regexp.MustCompile(`^(0|0o|0O)?[0-7]{3,4}$`)
	// debName is a Debian package name (Policy 5.6.7).
	debName = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`)
	// nssDatabase is an nsswitch.conf(5) database name.
	nssDatabase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Strategies are the layering strategies a spec may name.
var Strategies = []string{"per-package", "popularity", "auto", "fleet"}

func validate(s *Spec) Errors {
	var errs Errors
	add := func(key, msg, fix string) { errs = append(errs, &Error{Key: key, Msg: msg, Fix: fix}) }
	switch {
	case s.Name == "":
		add("name", "missing", "add `name: my-image`")
	case !nameRe.MatchString(s.Name):
		add("name", fmt.Sprintf("%q is not a valid image name", s.Name), "use lowercase letters, digits and . _ - /")
	}
	if s.Tag != "" && !tagRe.MatchString(s.Tag) {
		add("tag", fmt.Sprintf("%q is not a valid tag", s.Tag), "use letters, digits, _ . - (at most 128)")
	}
	for i, p := range s.Platforms {
		if !platformRe.MatchString(p) {
			add(fmt.Sprintf("platforms[%d]", i), fmt.Sprintf("%q is not a platform", p), "write os/arch like linux/amd64 or linux/arm64")
		}
		if j := slices.Index(s.Platforms[:i], p); j >= 0 {
			add(fmt.Sprintf("platforms[%d]", i), fmt.Sprintf("%q is listed twice (also platforms[%d])", p, j), "list each platform once")
		}
	}
	if s.Created != "" && s.Created != "now" {
		if _, err := time.Parse(time.RFC3339, s.Created); err != nil {
			add("created", fmt.Sprintf("%q is not an RFC 3339 time", s.Created), "write it like 2024-01-31T12:00:00Z, or `now` (not reproducible)")
		}
	}
	errs = append(errs, validateBuilds(s)...)
	for i, f := range s.Files {
		key := fmt.Sprintf("files[%d]", i)
		switch {
		case f.Build != "":
			if _, ok := s.Builds[f.Build]; !ok {
				fix := "name a step of `builds`"
				if c := closestOf(f.Build, buildNames(s)); c != "" {
					fix = fmt.Sprintf("did you mean `%s`?", c)
				}
				add(key+".build", fmt.Sprintf("no build step %q", f.Build), fix)
			}
			if f.Src != "" && (path.IsAbs(f.Src) || escapes(f.Src)) {
				add(key+".src", fmt.Sprintf("%q is not a path inside the step's output", f.Src), "write it relative to the output, like bin/server")
			}
		case f.Src == "":
			add(key+".src", "missing", "name a file or folder relative to the spec")
		case filepath.IsAbs(f.Src):
			add(key+".src", fmt.Sprintf("%q is absolute", f.Src), "write it relative to the spec's folder")
		case escapes(f.Src):
			add(key+".src", fmt.Sprintf("%q leaves the spec's folder through ..", f.Src), "move the input under the spec's folder")
		default:
			if _, err := os.Lstat(filepath.Join(s.Dir, filepath.FromSlash(f.Src))); err != nil {
				add(key+".src", fmt.Sprintf("%s does not exist", filepath.Join(s.Dir, filepath.FromSlash(f.Src))), "create it or fix the path (relative to the spec's folder)")
			}
		}
		switch {
		case f.Dst == "":
			add(key+".dst", "missing", "name an absolute path in the image, like /app")
		case !strings.HasPrefix(f.Dst, "/"):
			add(key+".dst", fmt.Sprintf("%q is relative", f.Dst), fmt.Sprintf("write an absolute path like /%s", f.Dst))
		case path.Clean(f.Dst) == "/":
			add(key+".dst", "cannot be / itself", "copy into a folder like /app")
		case strings.Contains(f.Dst, ".."):
			add(key+".dst", fmt.Sprintf("%q contains ..", f.Dst), "write a clean absolute path")
		}
		if f.Mode != "" && !modeRe.MatchString(f.Mode) {
			add(key+".mode", fmt.Sprintf("%q is not an octal mode", f.Mode), "write it like 0755, 0o755 or \"0755\"")
		}
		for j, prev := range s.Files[:i] {
			if f.Dst != "" && path.Clean(prev.Dst) == path.Clean(f.Dst) && !sameFile(prev, f) {
				add(key+".dst", fmt.Sprintf("%q is also the dst of files[%d] (src %s), with another src, mode or owner", f.Dst, j, prev.Src), "give each entry its own dst, or copy a folder that holds both")
				break
			}
		}
		if f.UID != nil && *f.UID < 0 {
			add(key+".uid", "negative", "use 0 or more")
		}
		if f.GID != nil && *f.GID < 0 {
			add(key+".gid", "negative", "use 0 or more")
		}
	}
	for i, p := range s.Config.ExposedPorts {
		if err := checkPort(p); err != nil {
			add(fmt.Sprintf("config.exposedPorts[%d]", i), err.Error(), "write a port like 80/tcp, 53/udp or 8080")
		}
	}
	for k := range s.Config.Env {
		if !envKeyRe.MatchString(k) {
			add("config.env."+k, fmt.Sprintf("%q is not a valid variable name", k), "use letters, digits and _ and start with a letter or _")
		}
	}
	if s.Config.WorkingDir != "" && !strings.HasPrefix(s.Config.WorkingDir, "/") {
		add("config.workingDir", "must be absolute", "write it like /app")
	}
	for i, v := range s.Config.Volumes {
		if !strings.HasPrefix(v, "/") {
			add(fmt.Sprintf("config.volumes[%d]", i), "must be absolute", "write it like /data")
		}
	}
	if b := s.Layering.Budget; b != 0 && (b < 1 || b > MaxLayers) {
		add("layering.budget", fmt.Sprintf("%d is out of range", b), fmt.Sprintf("use 1 to %d (Docker's limit is %d layers)", MaxLayers, MaxLayers))
	}
	if st := s.Layering.Strategy; st != "" && !slices.Contains(Strategies, st) {
		fix := "use one of " + strings.Join(Strategies, ", ")
		if c := closestOf(st, Strategies); c != "" {
			fix = fmt.Sprintf("did you mean `%s`?", c)
		}
		add("layering.strategy", fmt.Sprintf("unknown strategy %q", st), fix)
	}
	if d := s.Debian; d != nil {
		if len(d.Packages) == 0 {
			add("debian.packages", "no packages", "list at least one package, like [hello]")
		}
		if d.Exact != nil {
			for i, n := range d.Exact.Packages {
				if !debName.MatchString(n) {
					add(fmt.Sprintf("debian.exact[%d]", i), fmt.Sprintf("%q is not a Debian package name", n), "write package names like libc6, or exact: true for every package")
				}
			}
		}
		for i, k := range d.Keep {
			if k != "docs" && k != "man" && k != "locales" && k != "certs" {
				add(fmt.Sprintf("debian.keep[%d]", i), fmt.Sprintf("unknown kind %q", k), "keep takes docs, man, locales and certs")
			}
		}
		validFilter("debian.paths", d.Paths, add)
		for _, name := range slices.Sorted(maps.Keys(d.PackagePaths)) {
			key := "debian.packagePaths." + name
			if !debName.MatchString(name) {
				add(key, fmt.Sprintf("%q is not a Debian package name", name), "key packagePaths by package names like tzdata")
			}
			if d.PackagePaths[name] == nil {
				add(key, "empty", "give it exclude: [GLOB] and/or include: [GLOB], or remove it")
			}
			validFilter(key, d.PackagePaths[name], add)
		}
		if d.Updates != nil && !*d.Updates && d.SecurityMirror != "" {
			add("debian.securityMirror", "set while debian.updates is false, so it would never be read", "remove securityMirror or set updates: true")
		}
	}
	for _, db := range slices.Sorted(maps.Keys(s.Nsswitch)) {
		switch v := s.Nsswitch[db]; {
		case !nssDatabase.MatchString(db):
			add("nsswitch."+db, fmt.Sprintf("%q is not an nsswitch database name", db), "use lowercase names like passwd, group, hosts")
		case strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\n\r\x00#"):
			add("nsswitch."+db, fmt.Sprintf("services %q are empty or hold a newline or #", v), `write services on one line, like "files dns"`)
		}
	}
	if n := s.Nix; n != nil && len(n.Paths) == 0 && len(n.Installables) == 0 && n.ClosureFile == "" {
		add("nix", "no inputs", "set nix.paths, nix.installables or nix.closureFile")
	}
	return errs
}

// mergedTops are the top-level folders merged /usr makes links to /usr/….
var mergedTops = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// validFilter checks a path filter's globs: absolute, well-formed.
func validFilter(key string, f *PathFilter, add func(key, msg, fix string)) {
	if f == nil {
		return
	}
	for _, l := range []struct {
		name  string
		globs []string
	}{{"exclude", f.Exclude}, {"include", f.Include}} {
		for i, g := range l.globs {
			k := fmt.Sprintf("%s.%s[%d]", key, l.name, i)
			switch {
			case !strings.HasPrefix(g, "/"):
				add(k, fmt.Sprintf("%q is not an absolute image path", g), "start the glob with /, like /usr/share/zoneinfo/right/**")
			case !doublestar.ValidatePattern(g):
				add(k, fmt.Sprintf("%q is not a valid glob", g), "close every [ and {, and escape a literal one with \\")
			default:
				if top, _, _ := strings.Cut(g[1:], "/"); slices.Contains(mergedTops, top) {
					add(k, fmt.Sprintf("%q matches nothing: with merged /usr the packages' /%s is /usr/%s", g, top, top), fmt.Sprintf("write /usr/%s", g[1:]))
				}
			}
		}
	}
}

// sameFile reports whether two files entries write the same thing: the
// same source, mode and owner (the dst already compared).
func sameFile(a, b File) bool {
	eqInt := func(x, y *int) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return path.Clean(filepath.ToSlash(a.Src)) == path.Clean(filepath.ToSlash(b.Src)) &&
		normalMode(a.Mode) == normalMode(b.Mode) && eqInt(a.UID, b.UID) && eqInt(a.GID, b.GID)
}

// normalMode writes an octal mode literal ("0o755", "755", "0755") as "0755".
func normalMode(m string) string {
	if m == "" {
		return ""
	}
	m = strings.TrimPrefix(strings.TrimPrefix(m, "0o"), "0O")
	return "0" + strings.TrimLeft(m, "0")
}

func checkPort(p string) error {
	num, proto, found := strings.Cut(p, "/")
	if found && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return fmt.Errorf("%q has protocol %q", p, proto)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q is not a port number from 1 to 65535", p)
	}
	return nil
}

func escapes(src string) bool {
	c := path.Clean(filepath.ToSlash(src))
	return c == ".." || strings.HasPrefix(c, "../")
}

func closestOf(s string, list []string) string { return closest(s, list) }

// Closest returns the entry of list within a small edit distance of s
// ("" when none is close): for "did you mean" hints outside the spec too.
func Closest(s string, list []string) string { return closest(s, list) }

func (s *Spec) applyDefaults() {
	if s.Tag == "" {
		s.Tag = DefaultTag
	}
	if len(s.Platforms) == 0 {
		s.Platforms = []string{HostPlatform()}
	}
	if s.Layering.Budget == 0 {
		s.Layering.Budget = DefaultBudget
	}
	if s.Layering.Strategy == "" {
		s.Layering.Strategy = "per-package"
	}
	for i := range s.Files {
		s.Files[i].Mode = normalMode(s.Files[i].Mode)
	}
	if s.Debian != nil && len(s.Debian.Components) == 0 {
		s.Debian.Components = []string{"main"}
	}
	for i, p := range s.Config.ExposedPorts {
		if !strings.Contains(p, "/") {
			s.Config.ExposedPorts[i] = p + "/tcp"
		}
	}
}

// HostPlatform is the running machine's platform in os/arch form.
func HostPlatform() string {
	p := "linux/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		p += "/v7"
	}
	return p
}

// Created resolves the image creation time: the spec's value, else
// SOURCE_DATE_EPOCH (getenv), else 1970-01-01T00:00:01Z. The bool is false
// when the time is "now", which makes the build not reproducible.
func (s *Spec) CreatedTime(getenv func(string) string, now func() time.Time) (time.Time, bool, error) {
	switch {
	case s.Created == "now":
		return now().UTC().Truncate(time.Second), false, nil
	case s.Created != "":
		t, err := time.Parse(time.RFC3339, s.Created)
		return t.UTC(), true, err
	}
	if e := getenv("SOURCE_DATE_EPOCH"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", e)
		}
		return time.Unix(n, 0).UTC(), true, nil
	}
	t, _ := time.Parse(time.RFC3339, DefaultCreated)
	return t, true, nil
}
