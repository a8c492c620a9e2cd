package spec

// Spec is one image description, as read from strata.yaml.
type Spec struct {
	// Name of the image; the repository part of the tag written by sinks. Required.
	Name string `yaml:"name" json:"name" jsonschema:"required,description=Image name (repository part of name:tag)."`
	// Tag defaults to "latest".
	Tag string `yaml:"tag,omitempty" json:"tag,omitempty" jsonschema:"description=Image tag; default latest."`
	// Platforms in os/arch[/variant] form; default the host's.
	Platforms []string `yaml:"platforms,omitempty" json:"platforms,omitempty" jsonschema:"description=Target platforms like linux/amd64; default the host's."`
	// Created is an RFC 3339 time, or "now" (not reproducible). Default
	// 1970-01-01T00:00:01Z; SOURCE_DATE_EPOCH wins over the default.
	Created string `yaml:"created,omitempty" json:"created,omitempty" jsonschema:"description=RFC 3339 creation time or 'now'; default 1970-01-01T00:00:01Z or SOURCE_DATE_EPOCH."`
	// Include names other specs (files, or folders holding strata.yaml,
	// relative to this one) merged in under this spec; see merge.
	Include []string `yaml:"include,omitempty" json:"include,omitempty" jsonschema:"description=Specs (relative paths to files or folders holding strata.yaml) merged in under this one: their debian packages\\, excludes\\, keeps\\, accounts\\, osRelease and config come first and this spec's settings win. Their build steps and the files taken from those steps' outputs are added too; an included spec may not set nix\\, base\\, local files or a step's src."`
	// Base is an image strata's layers go on top of: a registry reference,
	// oci:DIR[:TAG] or docker-archive:FILE.
	Base string `yaml:"base,omitempty" json:"base,omitempty" jsonschema:"description=Base image: registry ref or oci:DIR[:TAG] or docker-archive:FILE."`
	// Files are local files and folders copied into the image.
	Files []File `yaml:"files,omitempty" json:"files,omitempty" jsonschema:"description=Local files and folders to copy into the image."`
	// Debian package inputs.
	Debian *Debian `yaml:"debian,omitempty" json:"debian,omitempty" jsonschema:"description=Debian packages whose runtime closure goes into the image."`
	// Accounts written to /etc/passwd and /etc/group, with any inputs.
	Accounts *Accounts `yaml:"accounts,omitempty" json:"accounts,omitempty" jsonschema:"description=Extra users and groups for the generated /etc/passwd and /etc/group (root\\, nobody and nonroot are always there); a user without a home gets /home/NAME. Without debian inputs\\, setting it adds a layer with the accounts\\, their homes\\, /tmp\\, nsswitch.conf and a neutral os-release."`
	// OSRelease fields written to the image's os-release files.
	OSRelease map[string]string `yaml:"osRelease,omitempty" json:"osRelease,omitempty" jsonschema:"description=os-release(5) fields like PRETTY_NAME: Distroless; they replace or add to the distribution's (a value may name the distribution's own PRETTY_NAME\\, NAME\\, VERSION_ID\\, VERSION\\, VERSION_CODENAME or ID as ${FIELD}\\, like VERSION: Debian GNU/Linux ${VERSION}) and are written to /usr/lib/os-release with /etc/os-release linking to it (a package's os-release files are left out)."`
	// Nsswitch replaces the generated /etc/nsswitch.conf: database ->
	// services, like passwd: files, hosts: "files dns".
	Nsswitch map[string]string `yaml:"nsswitch,omitempty" json:"nsswitch,omitempty" jsonschema:"description=The whole /etc/nsswitch.conf as database: services (passwd: files\\, hosts: files dns); the databases are written in nsswitch.conf(5)'s order (passwd group shadow gshadow hosts networks protocols services ethers rpc netgroup) then any others sorted. Default: files for every database and files dns for hosts. A package's nsswitch.conf is left out when set."`
	// Nix store inputs.
	Nix *Nix `yaml:"nix,omitempty" json:"nix,omitempty" jsonschema:"description=Nix store paths whose runtime closure goes into the image."`
	// Builds are build steps: sandboxed, cached commands whose outputs
	// become image inputs through files entries with `build:`.
	Builds map[string]*Build `yaml:"builds,omitempty" json:"builds,omitempty" jsonschema:"description=Build steps by name: sandboxed commands run in a build closure; their outputs go into the image through files entries with build: NAME."`
	// Config is the image's runtime configuration.
	Config Config `yaml:"config,omitempty" json:"config,omitempty" jsonschema:"description=Runtime configuration of the image."`
	// Layering decides how the closure is cut into layers.
	Layering Layering `yaml:"layering,omitempty" json:"layering,omitempty" jsonschema:"description=How the closure is grouped into layers."`
	// Cache names remote caches (registry repositories); flags and
	// STRATA_CACHE_FROM/STRATA_CACHE_TO win over it.
	Cache *Cache `yaml:"cache,omitempty" json:"cache,omitempty" jsonschema:"description=Remote caches in OCI registries: from is read on a local miss (in order)\\, to is written after the build. --cache-from/--cache-to and STRATA_CACHE_FROM/STRATA_CACHE_TO win."`

	// Path is the spec file's absolute path; Dir its folder. Set by Load.
	Path string `yaml:"-" json:"-"`
	Dir  string `yaml:"-" json:"-"`
}

// File copies Src (relative to the spec's folder; a folder copies its tree)
// to the absolute path Dst in the image.
type File struct {
	// Build names a build step whose output is the source; Src is then a
	// path inside that output (default: all of it).
	Build string `yaml:"build,omitempty" json:"build,omitempty" jsonschema:"description=A build step whose output is copied; src is then a path inside the output (default all of it)."`
	Src   string `yaml:"src,omitempty" json:"src,omitempty" jsonschema:"description=Source path relative to the spec file's folder (or inside the build step's output with build:)."`
	Dst   string `yaml:"dst" json:"dst" jsonschema:"required,description=Absolute destination path in the image."`
	// Mode is octal, like 0755, 0o755 or "0755" (unquoted numbers are read
	// from their digits, so 0755 is not the decimal 493); Load writes it as
	// "0755". Default: the source's executable bit decides 0755 or 0644,
	// folders 0755.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty" jsonschema:"description=Octal permission bits like 0755 or 0o755 (quoted or not); default keeps only the executable bit."`
	UID  *int   `yaml:"uid,omitempty" json:"uid,omitempty" jsonschema:"minimum=0,description=Owner uid; default 0."`
	GID  *int   `yaml:"gid,omitempty" json:"gid,omitempty" jsonschema:"minimum=0,description=Owner gid; default 0."`
}

// Config mirrors the OCI image config fields a user sets.
type Config struct {
	Entrypoint   []string          `yaml:"entrypoint,omitempty" json:"entrypoint,omitempty"`
	Cmd          []string          `yaml:"cmd,omitempty" json:"cmd,omitempty"`
	Env          map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	WorkingDir   string            `yaml:"workingDir,omitempty" json:"workingDir,omitempty"`
	User         string            `yaml:"user,omitempty" json:"user,omitempty"`
	ExposedPorts []string          `yaml:"exposedPorts,omitempty" json:"exposedPorts,omitempty" jsonschema:"description=Ports like 80/tcp or 53/udp."`
	Labels       map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Volumes      []string          `yaml:"volumes,omitempty" json:"volumes,omitempty"`
	StopSignal   string            `yaml:"stopSignal,omitempty" json:"stopSignal,omitempty"`
}

// Cache names the registry repositories of a remote cache.
type Cache struct {
	// From are read on a local miss, in order.
	From []string `yaml:"from,omitempty" json:"from,omitempty" jsonschema:"description=Registry repositories read on a local miss\\, in order (HOST/REPO)."`
	// To is written after the build.
	To string `yaml:"to,omitempty" json:"to,omitempty" jsonschema:"description=Registry repository written after the build (HOST/REPO)."`
}

// Layering selects the layering strategy and the layer budget.
type Layering struct {
	// Strategy is one of per-package, popularity, auto, fleet. Default per-package.
	Strategy string `yaml:"strategy,omitempty" json:"strategy,omitempty" jsonschema:"enum=per-package,enum=popularity,enum=auto,enum=fleet"`
	// Budget is the maximum number of layers, base layers included. Default 100.
	Budget int `yaml:"budget,omitempty" json:"budget,omitempty" jsonschema:"minimum=1,maximum=127"`
}

// Debian selects packages from a signed Debian archive.
type Debian struct {
	// Suite is the suite or codename; default DefaultSuite (trixie), or
	// the suite the command line asks for (see WithSuite).
	Suite      string   `yaml:"suite,omitempty" json:"suite,omitempty" jsonschema:"description=Debian suite or codename like trixie or bookworm; default trixie (Debian 13)\\, or the suite given by strata's --suite flag or STRATA_DEBIAN_SUITE."`
	Components []string `yaml:"components,omitempty" json:"components,omitempty"`
	Packages   []string `yaml:"packages" json:"packages" jsonschema:"required"`
	Exclude    []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// Exact takes packages without their dependencies (true: all of
	// them; a list: the ones named).
	Exact *Exact `yaml:"exact,omitempty" json:"exact,omitempty"`
	// Keep lists what the image keeps that strata prunes by default:
	// docs (other than copyright files), man, locales.
	Keep []string `yaml:"keep,omitempty" json:"keep,omitempty" jsonschema:"description=Keep what strata prunes from packages by default: docs (besides copyright files; also info and lintian overrides)\\, man\\, locales (other than C and C.UTF-8)\\, certs (ca-certificates' own files and the NAME.pem and hash links in /etc/ssl/certs; by default only the generated bundle and the copyright file stay).,uniqueItems=true"`
	// Paths filters every package's files by glob; PackagePaths one
	// package's.
	Paths        *PathFilter            `yaml:"paths,omitempty" json:"paths,omitempty" jsonschema:"description=Path filters for every package's files: a file is left out when it matches an exclude glob (or strata's default pruning) and no include glob. Globs are absolute image paths with * ? [...] {a\\,b} and ** for any number of folders."`
	PackagePaths map[string]*PathFilter `yaml:"packagePaths,omitempty" json:"packagePaths,omitempty" jsonschema:"description=Path filters for one package's files by package name\\, applied together with paths (an exclude of either drops\\, an include of either re-admits)."`
	// LDCache writes /etc/ld.so.cache from the image's libraries.
	LDCache bool   `yaml:"ldCache,omitempty" json:"ldCache,omitempty" jsonschema:"description=Write /etc/ld.so.cache as ldconfig would (the libraries in the folders of /etc/ld.so.conf or /etc/ld.so.conf.d/*.conf and the system folders\\, by DT_SONAME); needs libc6 in the image. Default false: glibc then searches only its system folders."`
	Mirror  string `yaml:"mirror,omitempty" json:"mirror,omitempty"`
	Keyring string `yaml:"keyring,omitempty" json:"keyring,omitempty"`
	// Updates also reads SUITE-updates and SUITE-security and takes, per
	// package, the highest version across the suites. Default true; an
	// explicit true makes a suite that cannot be read an error.
	Updates *bool `yaml:"updates,omitempty" json:"updates,omitempty" jsonschema:"description=Also read SUITE-updates and SUITE-security and take the highest version of each package; default true."`
	// SecurityMirror is the archive serving SUITE-security; default
	// STRATA_DEBIAN_SECURITY_MIRROR, then the host's apt sources.
	SecurityMirror string `yaml:"securityMirror,omitempty" json:"securityMirror,omitempty" jsonschema:"description=Base URL of the archive serving SUITE-security; default STRATA_DEBIAN_SECURITY_MIRROR, then the host's apt sources."`
	// PerSuite adds packages, excludes and exact names when the suite the
	// spec is built on is the key: for names that exist in one release
	// only. Load folds the entry of the chosen suite in and clears it.
	PerSuite map[string]*SuiteDebian `yaml:"perSuite,omitempty" json:"perSuite,omitempty" jsonschema:"description=Additions by suite: when the image is built on the suite named by a key\\, that entry's packages\\, exclude and exact are added to this block's (for packages that exist in one release only\\, like bookworm's python3-distutils)."`
}

// SuiteDebian is one entry of debian.perSuite.
type SuiteDebian struct {
	Packages []string `yaml:"packages,omitempty" json:"packages,omitempty"`
	Exclude  []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	Exact    *Exact   `yaml:"exact,omitempty" json:"exact,omitempty"`
}

// PathFilter drops package files by glob: a file matching an exclude is
// left out unless it matches an include.
type PathFilter struct {
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty" jsonschema:"description=Globs of image paths to leave out\\, like /usr/share/zoneinfo/right/**."`
	Include []string `yaml:"include,omitempty" json:"include,omitempty" jsonschema:"description=Globs of image paths kept even when an exclude (or the default pruning) matches them\\, like /usr/share/doc/*/README*."`
}

// Accounts adds users and groups to the generated /etc/passwd and /etc/group.
type Accounts struct {
	Users  []User  `yaml:"users,omitempty" json:"users,omitempty"`
	Groups []Group `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Exact makes Users and Groups the whole files, in their order,
	// without strata's root, nobody and nonroot.
	Exact bool `yaml:"exact,omitempty" json:"exact,omitempty" jsonschema:"description=users and groups are the whole /etc/passwd and /etc/group\\, in this order\\, instead of being added after root\\, nobody and nonroot."`
}

// User is one /etc/passwd entry.
type User struct {
	Name  string `yaml:"name" json:"name" jsonschema:"required"`
	UID   int    `yaml:"uid" json:"uid" jsonschema:"required"`
	GID   int    `yaml:"gid" json:"gid" jsonschema:"required"`
	Home  string `yaml:"home,omitempty" json:"home,omitempty"`
	Shell string `yaml:"shell,omitempty" json:"shell,omitempty"`
}

// Group is one /etc/group entry.
type Group struct {
	Name string `yaml:"name" json:"name" jsonschema:"required"`
	GID  int    `yaml:"gid" json:"gid" jsonschema:"required"`
}

// Nix selects Nix store paths.
type Nix struct {
	Paths           []string `yaml:"paths,omitempty" json:"paths,omitempty"`
	Installables    []string `yaml:"installables,omitempty" json:"installables,omitempty"`
	ClosureFile     string   `yaml:"closureFile,omitempty" json:"closureFile,omitempty"`
	RegisterClosure bool     `yaml:"registerClosure,omitempty" json:"registerClosure,omitempty"`
}
