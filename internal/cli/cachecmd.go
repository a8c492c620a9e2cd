package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stratabuild/strata/closure/deb/debfile"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/remotecache"
	"github.com/stratabuild/strata/step"
	"github.com/stratabuild/strata/store"
)

// strata cache ls | gc | verify | push | pull: the local cache's upkeep,
// and warming a remote cache from it and back.

type kindSummary struct {
	Kind    string `json:"kind"`
	Entries int    `json:"entries"`
	Bytes   int64  `json:"bytes"`
}

type lsSummary struct {
	Root    string        `json:"root"`
	Kinds   []kindSummary `json:"kinds"`
	Entries int           `json:"entries"`
	Bytes   int64         `json:"bytes"`
	// All lists every entry (with --all).
	All []store.Entry `json:"all,omitempty"`
}

func summarizeEntries(ents []store.Entry) ([]kindSummary, int64) {
	by := map[string]*kindSummary{}
	var total int64
	for _, e := range ents {
		k := by[e.Kind]
		if k == nil {
			k = &kindSummary{Kind: e.Kind}
			by[e.Kind] = k
		}
		k.Entries++
		k.Bytes += e.Size
		total += e.Size
	}
	out := make([]kindSummary, 0, len(by))
	for _, k := range by {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, total
}

func newCacheLsCmd(g *globals) *cobra.Command {
	var asJSON, all bool
	c := &cobra.Command{
		Use:   "ls",
		Short: "Show what the local cache holds: entries and bytes per kind (--all: every entry, least recently used first)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			ents, err := st.List()
			if err != nil {
				return err
			}
			kinds, total := summarizeEntries(ents)
			s := lsSummary{Root: st.Root(), Kinds: kinds, Entries: len(ents), Bytes: total}
			if all {
				sort.SliceStable(ents, func(i, j int) bool { return ents[i].Used.Before(ents[j].Used) })
				s.All = ents
			}
			if asJSON {
				return printJSON(g.stdout, s)
			}
			fmt.Fprintf(g.stdout, "%s: %d entries, %s\n", s.Root, s.Entries, humanBytes(s.Bytes))
			for _, k := range s.Kinds {
				fmt.Fprintf(g.stdout, "  %-14s %7d %10s\n", k.Kind, k.Entries, humanBytes(k.Bytes))
			}
			for _, e := range s.All {
				fmt.Fprintf(g.stdout, "%s %s/%s %s %s\n", e.Used.Format(time.RFC3339), e.Kind, e.Key, e.Type, humanBytes(e.Size))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&all, "all", false, "list every entry, least recently used first")
	return c
}

func newCacheGCCmd(g *globals) *cobra.Command {
	var maxSize, olderThan string
	var dry, asJSON bool
	c := &cobra.Command{
		Use:   "gc",
		Short: "Remove least recently used cache entries: those unused for --older-than (default 720h), then down to --max-size",
		Long: `gc removes entries unused for longer than --older-than, then the least recently
used until the cache is at most --max-size. It waits for running builds to finish
(each holds the cache open) and no build starts while it runs, so it never removes
what a build is using. Without either flag it removes what was unused for 30 days.`,
		Example: `  strata cache gc --max-size 20G
  strata cache gc --older-than 168h --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opt := store.GCOptions{DryRun: dry}
			if maxSize != "" {
				n, err := parseSize(maxSize)
				if err != nil {
					return usageError{err}
				}
				opt.MaxSize = n
			}
			if olderThan == "" && maxSize == "" {
				olderThan = "720h"
			}
			if olderThan != "" {
				d, err := parseAge(olderThan)
				if err != nil {
					return usageError{err}
				}
				opt.OlderThan = d
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			opt.Waiting = func() { fmt.Fprintln(g.stderr, "strata: waiting for the builds using the cache to finish") }
			res, err := st.GC(opt)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, res)
			}
			verb := "removed"
			if dry {
				verb = "would remove"
			}
			fmt.Fprintf(g.stdout, "%s %d entries (%s); %d entries (%s) kept\n", verb, len(res.Removed), humanBytes(res.RemovedBytes), res.Kept, humanBytes(res.KeptBytes))
			return nil
		},
	}
	c.Flags().StringVar(&maxSize, "max-size", "", "shrink the cache to at most SIZE (bytes, or with K, M, G, T: powers of 1024)")
	c.Flags().StringVar(&olderThan, "older-than", "", "remove entries unused for longer than AGE (Go duration such as 168h, or days such as 30d)")
	c.Flags().BoolVar(&dry, "dry-run", false, "say what would be removed and remove nothing")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

type verifySummary struct {
	Root    string          `json:"root"`
	Checked int             `json:"checked"`
	Corrupt []store.Problem `json:"corrupt"`
	Removed bool            `json:"removed"`
}

func newCacheVerifyCmd(g *globals) *cobra.Command {
	var repair, asJSON bool
	c := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash the local cache's blobs and trees and report corrupt entries (exit 1), or remove them with --repair",
		Long: `verify re-hashes every blob against its name, every unpacked .deb against the
file hashes recorded when it was unpacked, every build step output against its
recorded tree hash, and checks that every layer record names a blob that is there.
It exits 1 when it finds a corrupt entry; with --repair it removes them (the next
build makes them anew) and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			ents, err := st.List()
			if err != nil {
				return err
			}
			s := verifySummary{Root: st.Root(), Corrupt: st.VerifyBlobs(ents)}
			bad := map[string]bool{}
			for _, p := range s.Corrupt {
				bad[p.Key] = true
			}
			for _, e := range ents {
				if e.Type == store.TypeBlob {
					s.Checked++
					continue
				}
				checked, reason := verifyEntry(c, st, e, bad)
				if checked {
					s.Checked++
				}
				if reason != "" {
					s.Corrupt = append(s.Corrupt, store.Problem{Entry: e, Reason: reason})
				}
			}
			if repair && len(s.Corrupt) > 0 {
				var es []store.Entry
				for _, p := range s.Corrupt {
					es = append(es, p.Entry)
				}
				if err := st.Remove(es, func() { fmt.Fprintln(g.stderr, "strata: waiting for the builds using the cache to finish") }); err != nil {
					return err
				}
				s.Removed = true
			}
			if asJSON {
				if err := printJSON(g.stdout, s); err != nil {
					return err
				}
			} else {
				for _, p := range s.Corrupt {
					fmt.Fprintf(g.stdout, "corrupt %s/%s: %s\n", p.Kind, p.Key, p.Reason)
				}
				switch {
				case len(s.Corrupt) == 0:
					fmt.Fprintf(g.stdout, "checked %d entries: all sound\n", s.Checked)
				case s.Removed:
					fmt.Fprintf(g.stdout, "checked %d entries: removed %d corrupt ones (the next build makes them anew)\n", s.Checked, len(s.Corrupt))
				default:
					fmt.Fprintf(g.stdout, "checked %d entries: %d corrupt (remove them with strata cache verify --repair)\n", s.Checked, len(s.Corrupt))
				}
			}
			if len(s.Corrupt) > 0 && !s.Removed {
				return exitError{ExitFailure}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&repair, "repair", false, "remove the corrupt entries")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// verifyEntry checks one record or tree; checked is false for kinds that
// carry nothing to check against.
func verifyEntry(c *cobra.Command, st *store.Store, e store.Entry, badBlobs map[string]bool) (checked bool, reason string) {
	path := st.Path(e)
	switch {
	case e.Kind == "layers" && e.Type == store.TypeRecord:
		b, err := os.ReadFile(path) // not Get: verifying is no use
		if err != nil {
			return true, err.Error()
		}
		var info layer.Info
		if err := json.Unmarshal(b, &info); err != nil {
			return true, "its record is unreadable: " + err.Error()
		}
		h := info.Digest.Hex
		if info.Digest.Algorithm != "sha256" {
			return true, "it names blob " + info.Digest.String() + ", which the cache does not hold"
		}
		f, err := os.Open(st.Path(store.Entry{Type: store.TypeBlob, Key: h}))
		if err != nil {
			return true, "it names blob " + info.Digest.String() + ", which the cache does not hold"
		}
		defer f.Close()
		if badBlobs[h] {
			return true, "it names the corrupt blob " + info.Digest.String()
		}
		// The tar's diffID too: a layer read from a remote cache carries
		// its signer's diffID, taken on trust when it was fetched.
		if err := layer.VerifyDiffID(f, info); err != nil {
			return true, err.Error()
		}
		return true, ""
	case e.Kind == debfile.CacheKind && e.Type == store.TypeTree:
		checked, err := debfile.Verify(path, e.Key)
		if err != nil {
			return checked, err.Error()
		}
		return checked, ""
	case e.Kind == "step-out" && e.Type == store.TypeTree:
		want := ""
		if h, ok := strings.CutPrefix(e.Key, "fo-"); ok {
			want = h
		} else if b, err := os.ReadFile(st.Path(store.Entry{Kind: "step-info", Key: e.Key})); err == nil {
			want = string(b)
		} else {
			return false, ""
		}
		got, err := step.TreeHash(c.Context(), path)
		if err != nil {
			return true, err.Error()
		}
		if got != want {
			return true, fmt.Sprintf("its tree hash is %s, the build recorded %s", got, want)
		}
		return true, ""
	}
	return false, ""
}

func newCachePushCmd(g *globals) *cobra.Command {
	var f cacheFlags
	var insecure bool
	c := &cobra.Command{
		Use:   "push REF",
		Short: "Write the local cache's layers, step outputs, .debs and unpacked .debs to the remote cache REF (signed with --cache-sign-key)",
		Args:  oneRepoArg("push"),
		RunE: func(c *cobra.Command, args []string) error {
			f.to = args[0]
			if f.signKey == "" {
				fmt.Fprintln(g.stderr, "strata: no --cache-sign-key: only .debs are pushed (layers, step outputs and unpacked .debs must be signed)")
			}
			st, tier, err := g.remoteCache(c, f, insecure, "push-history.json")
			if err != nil {
				return err
			}
			ents, err := st.List()
			if err != nil {
				return err
			}
			for _, e := range ents {
				switch {
				case e.Type == store.TypeBlob:
					tier.NoteBlob(e.Key)
				case e.Kind == "layers" && e.Type == store.TypeRecord:
					if k, ok := strings.CutSuffix(e.Key, ".json"); ok {
						tier.NoteLayer(k)
					}
				case e.Type == store.TypeTree:
					tier.NoteTree(e.Kind, e.Key, st.Path(e))
				}
			}
			tier.Flush(c.Context())
			g.render.finish()
			s := tier.Stats()
			fmt.Fprintf(g.stdout, "pushed to %s: %d layers, %d step outputs, %d .debs, %d unpacked .debs (entries it had already are skipped)\n",
				args[0], s.Pushed["layer"], s.Pushed["step"], s.Pushed["deb"], s.Pushed["unpacked"])
			return nil
		},
	}
	c.Flags().StringVar(&f.signKey, "cache-sign-key", "", "sign layers, step outputs and unpacked .debs with this NAME.key")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	return c
}

func newCachePullCmd(g *globals) *cobra.Command {
	var f cacheFlags
	var insecure bool
	c := &cobra.Command{
		Use:   "pull REF",
		Short: "Copy every entry of the remote cache REF that passes its checks into the local cache (layers and step outputs need --cache-trust)",
		Args:  oneRepoArg("pull"),
		RunE: func(c *cobra.Command, args []string) error {
			f.from = args
			_, tier, err := g.remoteCache(c, f, insecure, "")
			if err != nil {
				return err
			}
			seen, err := tier.PullAll(c.Context())
			g.render.finish()
			if err != nil {
				return err
			}
			s := tier.Stats()
			fmt.Fprintf(g.stdout, "pulled from %s: %d of %d layers, %d of %d step outputs, %d of %d .debs, %d of %d unpacked .debs (the rest were local already, or rejected)\n", args[0],
				s.Fetched["layer"], seen["layer"], s.Fetched["step"], seen["step"], s.Fetched["deb"], seen["deb"], s.Fetched["unpacked"], seen["unpacked"])
			return nil
		},
	}
	c.Flags().StringArrayVar(&f.trust, "cache-trust", nil, "accept layers, step outputs and unpacked .debs signed by this NAME.pub (repeatable)")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to non-loopback registries")
	return c
}

// oneRepoArg accepts exactly one repository REF for cache VERB.
func oneRepoArg(verb string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s takes one repository REF (HOST/REPO)", verb)
		}
		return nil
	}
}

// remoteCache opens the local cache and the remote tier f names for
// cache push and pull; history, when set, is the state file that records
// what was pushed.
func (g *globals) remoteCache(c *cobra.Command, f cacheFlags, insecure bool, history string) (*store.Store, *remotecache.Cache, error) {
	st, err := g.store()
	if err != nil {
		return nil, nil, err
	}
	opts := registry.Options{Insecure: insecure}
	if history != "" {
		opts.History = st.StateFile(history)
	}
	tier, err := remoteTier(c.Context(), st, f, nil, opts, g.events())
	return st, tier, err
}

// parseSize reads 123, 10K, 512M, 20G, 1T (powers of 1024; a trailing B
// or iB is allowed).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("--max-size %q: write a size such as 500M or 20G", s)
	}
	return int64(v * float64(mult)), nil
}

// parseAge reads a Go duration or a number of days ("30d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--older-than %q: write an age such as 168h or 30d", s)
	}
	return d, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
