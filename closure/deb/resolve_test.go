package deb

import (
	"bytes"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/stratabuild/strata/events"
)

// testIndex parses Packages stanzas separated by blank lines.
func testIndex(t *testing.T, text string) *Index {
	t.Helper()
	pk, err := ParsePackages(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return &Index{Label: "test/main amd64", Packages: pk}
}

// stanza writes a minimal Packages stanza; extra are "Field: value" lines.
func stanza(name, ver, arch string, extra ...string) string {
	s := "Package: " + name + "\nVersion: " + ver + "\nArchitecture: " + arch + "\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s + "\n"
}

const baseIndex = "" +
	"Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nDescription: example package\n a long description\n .\n more\n\n" +
	"Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nMulti-Arch: same\nDepends: libgcc-s1\nPriority: optional\n\n" +
	"Package: libgcc-s1\nVersion: 12.2.0-14\nArchitecture: amd64\nMulti-Arch: same\nDepends: gcc-12-base (= 12.2.0-14),\n libc6 (>= 2.35)\n\n" +
	"Package: gcc-12-base\nVersion: 12.2.0-14\nArchitecture: amd64\n\n" +
	"Package: bash\nVersion: 5.2-2\nArchitecture: amd64\nEssential: yes\nPriority: required\nPre-Depends: libc6\n\n"

// scriptIndex holds bookworm's relations of the packages whose
// dependencies only maintainer scripts use.
const scriptIndex = "" +
	"Package: ca-certificates\nVersion: 20230311\nArchitecture: all\nDepends: openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0\n\n" +
	"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nDepends: debconf (>= 0.5) | debconf-2.0\nProvides: tzdata-bookworm\n\n" +
	"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\nEssential: yes\nPriority: required\nPre-Depends: awk\nProvides: base\n\n" +
	"Package: mawk\nVersion: 1.3.4.20200120-3.1\nArchitecture: amd64\nPriority: required\nProvides: awk\n\n" +
	"Package: gawk\nVersion: 1:5.2.1-2\nArchitecture: amd64\nPriority: optional\nProvides: awk\n\n" +
	"Package: openssl\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\n" +
	"Package: debconf\nVersion: 1.5.82\nArchitecture: all\nProvides: debconf-2.0\n\n" +
	"Package: cdebconf\nVersion: 0.270\nArchitecture: amd64\nProvides: debconf-2.0\n\n" +
	"Package: debconf-utils\nVersion: 1.5.82\nArchitecture: all\nDepends: debconf (>= 1.5.82)\n\n" +
	"Package: curl-like\nVersion: 1\nArchitecture: amd64\nDepends: openssl, awk\n\n"

func TestResolve(t *testing.T) {
	type deps map[string][]string
	cases := []struct {
		name     string
		index    string
		roots    []string
		exclude  []string
		prefer   map[string]string
		exact    []string
		exactAll bool
		want     []string // names in the closure
		deps     deps     // some packages' chosen deps
		dropped  []string
		log      string // substring of the log
		err      string // substring of the error; want ignored
	}{
		{
			name: "chain and cycle, essential not implied", index: baseIndex, roots: []string{"hello"},
			want: []string{"gcc-12-base", "hello", "libc6", "libgcc-s1"},
			deps: deps{"hello": {"libc6"}, "libc6": {"libgcc-s1"}, "libgcc-s1": {"gcc-12-base", "libc6"}, "gcc-12-base": nil},
		},
		{
			name:  "pre-depends followed",
			index: baseIndex, roots: []string{"bash"},
			want: []string{"bash", "gcc-12-base", "libc6", "libgcc-s1"},
			deps: deps{"bash": {"libc6"}},
		},
		{
			name:  "alternative: first satisfiable",
			index: stanza("a", "1", "amd64", "Depends: missing | b | c") + stanza("b", "1", "all") + stanza("c", "1", "amd64"),
			roots: []string{"a"}, want: []string{"a", "b"}, deps: deps{"a": {"b"}},
		},
		{
			name:  "alternative: one already in the closure wins",
			index: stanza("a", "1", "amd64", "Depends: b | c") + stanza("b", "1", "all") + stanza("c", "1", "amd64"),
			roots: []string{"a", "c"}, want: []string{"a", "c"}, deps: deps{"a": {"c"}},
		},
		{
			name: "alternative: decided after plain dependencies pull one in",
			index: stanza("a", "1", "amd64", "Depends: x | y, d") + stanza("d", "1", "amd64", "Depends: y") +
				stanza("x", "1", "amd64") + stanza("y", "1", "amd64"),
			roots: []string{"a"}, want: []string{"a", "d", "y"}, deps: deps{"a": {"d", "y"}},
		},
		{
			name: "virtual package: several providers, deterministic choice logged",
			index: stanza("app", "1", "amd64", "Depends: mail-transport-agent") +
				stanza("postfix", "3", "amd64", "Provides: mail-transport-agent", "Priority: optional") +
				stanza("exim4", "4", "amd64", "Provides: mail-transport-agent", "Priority: optional") +
				stanza("dma", "1", "amd64", "Provides: mail-transport-agent", "Priority: extra"),
			roots: []string{"app"}, want: []string{"app", "exim4"}, deps: deps{"app": {"exim4"}},
			log: "provided by exim4, postfix, dma; chose exim4",
		},
		{
			name: "virtual package: a provider named as a root wins",
			index: stanza("app", "1", "amd64", "Depends: mail-transport-agent") +
				stanza("postfix", "3", "amd64", "Provides: mail-transport-agent") +
				stanza("exim4", "4", "amd64", "Provides: mail-transport-agent"),
			roots: []string{"app", "postfix"}, want: []string{"app", "postfix"}, deps: deps{"app": {"postfix"}},
		},
		{
			name: "virtual package: waits for a provider a plain dependency pulls in",
			index: stanza("app", "1", "amd64", "Depends: www-browser, wrapper") + stanza("wrapper", "1", "all", "Depends: lynx") +
				stanza("elinks", "1", "amd64", "Provides: www-browser") + stanza("lynx", "1", "amd64", "Provides: www-browser"),
			roots: []string{"app"}, want: []string{"app", "lynx", "wrapper"}, deps: deps{"app": {"lynx", "wrapper"}},
		},
		{
			name: "versioned provides",
			index: stanza("app", "1", "amd64", "Depends: libfoo-abi (>= 2)") +
				stanza("foo1", "1", "amd64", "Provides: libfoo-abi (= 1)") +
				stanza("foo-unversioned", "1", "amd64", "Provides: libfoo-abi") +
				stanza("foo2", "1", "amd64", "Provides: libfoo-abi (= 2)"),
			roots: []string{"app"}, want: []string{"app", "foo2"},
		},
		{
			name: "unversioned provides does not satisfy a versioned dependency",
			index: stanza("app", "1", "amd64", "Depends: libfoo-abi (>= 2)") +
				stanza("foo-unversioned", "1", "amd64", "Provides: libfoo-abi"),
			roots: []string{"app"}, err: "app -> libfoo-abi (>= 2): no provider of libfoo-abi satisfies it in test/main amd64",
		},
		{
			name: "highest version wins",
			index: stanza("app", "1", "amd64", "Depends: lib") + stanza("lib", "1.10", "amd64") +
				stanza("lib", "1:0.5", "amd64") + stanza("lib", "1.9", "amd64"),
			roots: []string{"app"}, want: []string{"app", "lib=1:0.5"},
		},
		{
			name:  "version relation picks the highest that satisfies",
			index: stanza("app", "1", "amd64", "Depends: lib (<< 1.10~)") + stanza("lib", "1.10", "amd64") + stanza("lib", "1.9", "amd64"),
			roots: []string{"app"}, want: []string{"app", "lib=1.9"},
		},
		{
			name:  "preferred (locked) version kept",
			index: stanza("app", "1", "amd64", "Depends: lib") + stanza("lib", "2", "amd64") + stanza("lib", "1", "amd64"),
			roots: []string{"app"}, prefer: map[string]string{"lib": "1"}, want: []string{"app", "lib=1"},
		},
		{
			name:  "root pinned with =",
			index: stanza("lib", "2", "amd64") + stanza("lib", "1", "amd64"),
			roots: []string{"lib=1"}, want: []string{"lib=1"},
		},
		{
			name: "Multi-Arch: :any satisfied by allowed and foreign, :native and :amd64 by any",
			index: stanza("app", "1", "amd64", "Depends: python3:any, perl:any (>= 5), tool:native, lib:amd64") +
				stanza("python3", "3.11", "amd64", "Multi-Arch: allowed") + stanza("perl", "5.36", "all", "Multi-Arch: foreign") +
				stanza("tool", "1", "amd64") + stanza("lib", "1", "amd64", "Multi-Arch: same"),
			roots: []string{"app"}, want: []string{"app", "lib", "perl", "python3", "tool"},
		},
		{
			name:  "Multi-Arch: :any not satisfied without allowed or foreign",
			index: stanza("app", "1", "amd64", "Depends: tool:any") + stanza("tool", "1", "amd64", "Multi-Arch: same"),
			roots: []string{"app"}, err: "app -> tool:any: no version of tool satisfies it in test/main amd64 (available: 1 Multi-Arch: same); :any needs Multi-Arch",
		},
		{
			name:  "Multi-Arch: a foreign architecture qualifier needs Multi-Arch: foreign",
			index: stanza("app", "1", "amd64", "Depends: lib:i386, tool:i386") + stanza("lib", "1", "amd64", "Multi-Arch: same") + stanza("tool", "1", "amd64", "Multi-Arch: foreign"),
			roots: []string{"app"}, err: "app -> lib:i386: lib:i386 is for architecture i386",
		},
		{
			name:  "arch restriction lists",
			index: stanza("app", "1", "amd64", "Depends: a [amd64], b [!amd64], c [i386 arm64]") + stanza("a", "1", "amd64"),
			roots: []string{"app"}, want: []string{"a", "app"},
		},
		{
			name: "missing package names the chain", index: baseIndex + stanza("top", "1", "all", "Depends: hello, nosuch"),
			roots: []string{"top"}, err: "top -> nosuch: no package named nosuch in test/main amd64",
		},
		{
			name:  "unknown root",
			index: baseIndex, roots: []string{"nosuch"}, err: "nosuch: no package named nosuch in test/main amd64",
		},
		{
			name: "unsatisfiable version names the chain",
			index: stanza("top", "1", "all", "Depends: hello") + stanza("hello", "2.10-3", "amd64", "Depends: libc6 (>= 2.34)") +
				stanza("libc6", "2.31-13", "amd64"),
			roots: []string{"top"},
			err:   "top -> hello -> libc6 (>= 2.34): no version of libc6 satisfies it in test/main amd64 (available: 2.31-13)",
		},
		{
			name: "version already chosen does not satisfy a later relation",
			index: stanza("a", "1", "amd64", "Depends: lib (= 1)") + stanza("b", "1", "amd64", "Depends: lib (>= 2)") +
				stanza("lib", "2", "amd64") + stanza("lib", "1", "amd64"),
			roots: []string{"a", "b"}, err: "b -> lib (>= 2): lib 1 is already in the closure (needed by a)",
		},
		{
			name:  "alternatives all unsatisfiable",
			index: stanza("a", "1", "amd64", "Depends: x (>= 2) | y") + stanza("x", "1", "amd64"),
			roots: []string{"a"}, err: "a -> x (>= 2) | y: no alternative can be installed (no version of x satisfies it",
		},
		{
			name:  "conflicts inside the closure",
			index: stanza("a", "1", "amd64", "Conflicts: b") + stanza("b", "1", "amd64"),
			roots: []string{"a", "b"}, err: "a 1 conflicts b 1 (Conflicts: b)",
		},
		{
			name:  "breaks with a version, via the dependency graph",
			index: stanza("a", "1", "amd64", "Depends: c", "Breaks: b (<< 2)") + stanza("b", "1", "amd64") + stanza("c", "1", "amd64", "Depends: b"),
			roots: []string{"a"}, err: "a 1 breaks b 1 (Breaks: b (<< 2))",
		},
		{
			name:  "breaks not matching the version is fine",
			index: stanza("a", "1", "amd64", "Depends: b", "Breaks: b (<< 1)") + stanza("b", "1", "amd64"),
			roots: []string{"a"}, want: []string{"a", "b"},
		},
		{
			name:  "conflict with a virtual package another package provides",
			index: stanza("a", "1", "amd64", "Provides: mta", "Conflicts: mta") + stanza("b", "1", "amd64", "Provides: mta", "Conflicts: mta"),
			roots: []string{"a", "b"}, err: "a 1 conflicts b 1 (provides mta)",
		},
		{
			name:  "conflict with a virtual package it provides itself is fine",
			index: stanza("a", "1", "amd64", "Provides: mta", "Conflicts: mta"),
			roots: []string{"a"}, want: []string{"a"},
		},
		{
			name: "exclude drops a dependency and what only it pulled in",
			index: stanza("a", "1", "amd64", "Depends: b, d") + stanza("b", "1", "amd64", "Depends: c, d") + stanza("c", "1", "amd64") +
				stanza("d", "1", "amd64"),
			roots: []string{"a"}, exclude: []string{"b"}, want: []string{"a", "d"}, deps: deps{"a": {"d"}},
			dropped: []string{"a -> b"}, log: "dropped dependency a -> b (excluded by debian.exclude)",
		},
		{
			// Issue 13 item 16: this used to take e instead.
			name:  "exclude: an excluded alternative counts as satisfied, no other is taken",
			index: stanza("a", "1", "amd64", "Depends: b | e") + stanza("b", "1", "amd64") + stanza("e", "1", "amd64"),
			roots: []string{"a"}, exclude: []string{"b"}, want: []string{"a"}, dropped: []string{"a -> b | e"},
			log: "dropped dependency a -> b | e (excluded by debian.exclude: b counts as satisfying it, so e is not pulled in)",
		},
		{
			name: "exclude: debconf excluded does not pull cdebconf in through debconf-2.0",
			index: stanza("cert-tool", "1", "all", "Depends: openssl, debconf (>= 0.5) | debconf-2.0") + stanza("openssl", "1", "amd64") +
				stanza("debconf", "1.5", "all", "Provides: debconf-2.0") + stanza("cdebconf", "0.2", "amd64", "Provides: debconf-2.0", "Depends: libnewt0.52") +
				stanza("libnewt0.52", "1", "amd64"),
			roots: []string{"cert-tool"}, exclude: []string{"debconf"}, want: []string{"cert-tool", "openssl"},
			dropped: []string{"cert-tool -> debconf (>= 0.5) | debconf-2.0"},
			log:     "debconf counts as satisfying it, so cdebconf is not pulled in",
		},
		{
			name:  "exclude: a virtual package another provider could give is dropped too",
			index: stanza("a", "1", "amd64", "Depends: v") + stanza("b", "1", "amd64", "Provides: v") + stanza("c", "1", "amd64", "Provides: v"),
			roots: []string{"a"}, exclude: []string{"b"}, want: []string{"a"}, dropped: []string{"a -> v"},
			log: "b counts as satisfying it, so c is not pulled in",
		},
		{
			name:  "exclude: an alternative already in the closure still wins",
			index: stanza("a", "1", "amd64", "Depends: b | e") + stanza("b", "1", "amd64") + stanza("e", "1", "amd64"),
			roots: []string{"a", "e"}, exclude: []string{"b"}, want: []string{"a", "e"}, deps: deps{"a": {"e"}},
		},
		{
			name:  "exclude: a virtual package only an excluded package provides",
			index: stanza("a", "1", "amd64", "Depends: v") + stanza("b", "1", "amd64", "Provides: v"),
			roots: []string{"a"}, exclude: []string{"b"}, want: []string{"a"}, dropped: []string{"a -> v"},
		},
		{
			name:  "exclude: a root is an error",
			index: stanza("a", "1", "amd64"), roots: []string{"a"}, exclude: []string{"a"},
			err: "a is both in debian.packages and debian.exclude",
		},
		{
			// Issue 14: bookworm's real edges (see scriptonly.go).
			name:  "script-only: ca-certificates without openssl and debconf",
			index: scriptIndex, roots: []string{"ca-certificates"}, want: []string{"ca-certificates"},
			dropped: []string{"ca-certificates -> openssl (>= 1.1.1)", "ca-certificates -> debconf (>= 0.5) | debconf-2.0"},
			log:     "dropped dependency ca-certificates -> openssl (>= 1.1.1): only maintainer scripts use it (update-ca-certificates",
		},
		{
			name:  "script-only: base-files' Pre-Depends awk takes no awk",
			index: scriptIndex, roots: []string{"base-files", "tzdata"}, want: []string{"base-files", "tzdata"},
			dropped: []string{"base-files -> awk", "tzdata -> debconf (>= 0.5) | debconf-2.0"},
		},
		{
			name:  "script-only: a script-only dependency named in debian.packages is installed and kept as an edge",
			index: scriptIndex, roots: []string{"ca-certificates", "debconf"}, want: []string{"ca-certificates", "debconf"},
			deps: deps{"ca-certificates": {"debconf"}}, dropped: []string{"ca-certificates -> openssl (>= 1.1.1)"},
		},
		{
			name:  "script-only: a package that runs openssl keeps it",
			index: scriptIndex, roots: []string{"ca-certificates", "curl-like"}, want: []string{"ca-certificates", "curl-like", "mawk", "openssl"},
			deps:    deps{"curl-like": {"mawk", "openssl"}, "ca-certificates": {"openssl"}},
			dropped: []string{"ca-certificates -> debconf (>= 0.5) | debconf-2.0"},
		},
		{
			name:  "script-only: debconf's own family keeps debconf",
			index: scriptIndex, roots: []string{"debconf-utils"}, want: []string{"debconf", "debconf-utils"},
		},
		{
			name:  "exact: true takes the roots alone",
			index: baseIndex, roots: []string{"hello"}, exactAll: true, want: []string{"hello"}, deps: deps{"hello": nil},
		},
		{
			name:  "exact: a named package comes without its dependencies, the others with theirs",
			index: baseIndex, roots: []string{"hello"}, exact: []string{"libc6"}, want: []string{"hello", "libc6"},
			deps: deps{"hello": {"libc6"}, "libc6": nil},
		},
		{
			name:  "exact: a name outside the closure is an error",
			index: baseIndex, roots: []string{"hello"}, exact: []string{"libcc6"},
			err: "debian.exact names libcc6, which is not in the closure",
		},
		{
			name:  "virtual root resolves to its provider",
			index: stanza("b", "1", "amd64", "Provides: v"),
			roots: []string{"v"}, want: []string{"b"},
		},
		{
			name:  "other architectures in the index are ignored",
			index: stanza("a", "1", "amd64", "Depends: b") + stanza("b", "2", "i386") + stanza("b", "1", "all"),
			roots: []string{"a"}, want: []string{"a", "b=1"},
		},
	}
	for _, tc := range cases {
		// every case in memory and through the cached form LoadIndex reads
		for _, cached := range []bool{false, true} {
			name := tc.name
			if cached {
				name += " (cached form)"
			}
			t.Run(name, func(t *testing.T) {
				var log bytes.Buffer
				idx := testIndex(t, tc.index)
				if cached {
					idx = cachedIndex(t, idx)
				}
				res, err := Resolve(idx, ResolveOptions{Arch: "amd64", Roots: tc.roots, Exclude: tc.exclude, Prefer: tc.prefer, Exact: tc.exact, ExactAll: tc.exactAll, Log: events.New(events.WriterHandler(&log))})
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("error = %v, want one containing %q", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range res.Packages {
					got = append(got, p.Pkg.Name)
				}
				var want []string
				for _, w := range tc.want {
					name, ver, pinned := strings.Cut(w, "=")
					want = append(want, name)
					if pinned {
						for _, p := range res.Packages {
							if p.Pkg.Name == name && p.Pkg.Version != ver {
								t.Errorf("%s: version %s, want %s", name, p.Pkg.Version, ver)
							}
						}
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("closure = %v, want %v", got, want)
				}
				for name, wd := range tc.deps {
					for _, p := range res.Packages {
						if p.Pkg.Name == name && !reflect.DeepEqual(p.Deps, wd) {
							t.Errorf("%s deps = %v, want %v", name, p.Deps, wd)
						}
					}
				}
				if !reflect.DeepEqual(res.Dropped, tc.dropped) {
					t.Errorf("dropped = %q, want %q", res.Dropped, tc.dropped)
				}
				if !strings.Contains(log.String(), tc.log) {
					t.Errorf("log %q does not contain %q", log.String(), tc.log)
				}
			})
		}
	}
}

// TestResolveDeterministic shuffles the index: the closure, the chosen
// versions and the dependency lists must not change.
func TestResolveDeterministic(t *testing.T) {
	text := baseIndex +
		stanza("app", "1", "amd64", "Depends: hello, mta, x | y, z", "Pre-Depends: bash") +
		stanza("postfix", "3", "amd64", "Provides: mta", "Depends: libc6") +
		stanza("exim4", "4", "amd64", "Provides: mta") +
		stanza("x", "1", "amd64") + stanza("y", "1", "amd64") +
		stanza("z", "2", "amd64", "Depends: y") + stanza("z", "1", "amd64")
	base := testIndex(t, text)
	first, err := Resolve(base, ResolveOptions{Arch: "amd64", Roots: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	want := summary(first)
	if !strings.Contains(want, "app=1:bash,exim4,hello,y,z") {
		t.Fatalf("unexpected closure %s", want)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		idx := &Index{Label: base.Label, Packages: append([]Package(nil), base.Packages...)}
		rng.Shuffle(len(idx.Packages), func(a, b int) { idx.Packages[a], idx.Packages[b] = idx.Packages[b], idx.Packages[a] })
		res, err := Resolve(idx, ResolveOptions{Arch: "amd64", Roots: []string{"app"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(res); got != want {
			t.Fatalf("shuffle %d: %s, want %s", i, got, want)
		}
	}
}

func summary(r *Resolution) string {
	var b strings.Builder
	for _, p := range r.Packages {
		b.WriteString(p.Pkg.Name + "=" + p.Pkg.Version + ":" + strings.Join(p.Deps, ",") + " ")
	}
	return b.String()
}

func TestParsePackages(t *testing.T) {
	idx := testIndex(t, baseIndex+"Package: big\nVersion: 1\nArchitecture: all\nSize: 1234\nInstalled-Size: 56\nSHA256: ABCDEF\nFilename: pool/b/big.deb\nEssential: yes\nSource: bigsrc (0.9)\nUnknown-Field: x\n folded\n")
	if len(idx.Packages) != 6 {
		t.Fatalf("%d packages, want 6", len(idx.Packages))
	}
	h := idx.Packages[0]
	if h.Description != "example package" || h.Depends != "libc6 (>= 2.34)" {
		t.Errorf("hello = %+v", h)
	}
	if g := idx.Packages[2]; g.Depends != "gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)" {
		t.Errorf("folded Depends = %q", g.Depends)
	}
	b := idx.Packages[5]
	if b.Size != 1234 || b.InstalledSize != 56 || b.SHA256 != "abcdef" || !b.Essential || b.Source != "bigsrc (0.9)" || b.Filename != "pool/b/big.deb" {
		t.Errorf("big = %+v", b)
	}
	if _, err := ParsePackages(strings.NewReader("Version: 1\n\n")); err == nil {
		t.Error("a stanza without Package parsed")
	}
}

func TestParseRelations(t *testing.T) {
	rels, err := parseRelations("a, b:any (>= 1.0) | c (<< 2:3), d [!amd64], e (>= 1) [amd64] <!nocheck>, f (> 1)", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rels))
	for i, r := range rels {
		got[i] = r.String()
	}
	want := []string{"a", "b:any (>= 1.0) | c (<< 2:3)", "e (>= 1)", "f (>= 1)"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"a (>= 1", "a (1.0)", "(>= 1)", "a b"} {
		if _, err := parseRelations(bad, "amd64"); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
