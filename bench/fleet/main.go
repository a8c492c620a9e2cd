package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/layering"
	"github.com/stratabuild/strata/store"
)

// fleet is the benchmark's set of images: name and requested packages.
var fleet = []struct {
	name string
	pkgs []string
}{
	{"python-flask", []string{"python3", "python3-flask"}},
	{"python-django", []string{"python3", "python3-django"}},
	{"nginx", []string{"nginx-light"}},
	{"caddy", []string{"caddy"}},
	{"curl", []string{"curl", "ca-certificates"}},
	{"postgresql-client", []string{"postgresql-client-15"}},
	{"ruby", []string{"ruby3.1"}},
	{"nodejs", []string{"nodejs"}},
}

var strategies = []string{layering.PerPackage, layering.Popularity, layering.Auto, layering.Fleet}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	suite := fs.String("suite", "bookworm", "Debian suite")
	arch := fs.String("arch", "amd64", "Debian architecture")
	budgetList := fs.String("budgets", "4,8,16,32", "comma-separated layer budgets")
	packages := fs.String("packages", "", "read this Packages file (plain or .xz) instead of the archive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var budgets []int
	for _, s := range strings.Split(*budgetList, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-budgets %q: %w (give numbers like 4,8,16,32)", *budgetList, err)
		}
		budgets = append(budgets, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	idx, err := loadIndex(ctx, *suite, *arch, *packages, stderr)
	if err != nil {
		return err
	}
	var required []string
	npkg := 0
	if err := idx.Each(func(p *deb.Package) {
		npkg++
		if p.Priority == "required" && (p.Arch == *arch || p.Arch == "all") {
			required = append(required, p.Name)
		}
	}); err != nil {
		return err
	}
	sort.Strings(required)
	required = uniq(required)
	fmt.Fprintf(stdout, "index %s: %d packages, %d with Priority: required\n\n", idx.Label, npkg, len(required))

	results := map[bool][]row{}
	for _, withBase := range []bool{false, true} {
		var gs []*closure.Graph
		for _, im := range fleet {
			roots := im.pkgs
			if withBase {
				roots = append(append([]string(nil), im.pkgs...), required...)
			}
			g, err := graphFor(idx, *arch, roots)
			if err != nil {
				return fmt.Errorf("resolving %s: %w", im.name, err)
			}
			gs = append(gs, g)
		}
		fmt.Fprintf(stdout, "fleet %s:\n", map[bool]string{false: "without base system", true: "with base system"}[withBase])
		for i, g := range gs {
			fmt.Fprintf(stdout, "  %-18s %4d packages %8.1f MiB\n", fleet[i].name, len(g.Nodes), float64(g.TotalSize())/(1<<20))
		}
		total, ideal := fleetSizes(gs)
		fmt.Fprintf(stdout, "  all images %.1f MiB, ideal stored %.1f MiB (dedup %.2f)\n\n",
			float64(total)/(1<<20), float64(ideal)/(1<<20), float64(total)/float64(ideal))
		for _, s := range strategies {
			for _, b := range budgets {
				plans, err := layering.PlanFleet(gs, layering.Options{Strategy: s, Budget: b})
				if err != nil {
					return fmt.Errorf("planning %s at budget %d: %w", s, b, err)
				}
				m := measure(gs, plans)
				results[withBase] = append(results[withBase], row{strategy: s, budget: b, m: m})
			}
		}
	}
	return printTable(stdout, results)
}

type row struct {
	strategy string
	budget   int
	m        metrics
}

// metrics is a fleet's sharing at the planning level.
type metrics struct {
	Total, Stored, Ideal int64
	MaxLayers            int
}

// Dedup is the bytes of all images over the bytes stored.
func (m metrics) Dedup() float64 { return float64(m.Total) / float64(m.Stored) }

// ShareOfIdeal is the bytes saved over the bytes saved with one layer per
// distinct package.
func (m metrics) ShareOfIdeal() float64 {
	if m.Total == m.Ideal {
		return 1
	}
	return float64(m.Total-m.Stored) / float64(m.Total-m.Ideal)
}

// measure counts every distinct layer node set once.
func measure(gs []*closure.Graph, plans []*layering.Plan) metrics {
	var m metrics
	m.Total, m.Ideal = fleetSizes(gs)
	seen := map[string]bool{}
	for i, p := range plans {
		m.MaxLayers = max(m.MaxLayers, len(p.Layers))
		for _, l := range p.Layers {
			k := strings.Join(l.Nodes, "\n")
			if seen[k] {
				continue
			}
			seen[k] = true
			for _, id := range l.Nodes {
				m.Stored += gs[i].Nodes[id].Size
			}
		}
	}
	return m
}

// fleetSizes returns the bytes of all images and of all distinct packages.
func fleetSizes(gs []*closure.Graph) (total, ideal int64) {
	seen := map[string]bool{}
	for _, g := range gs {
		for id, n := range g.Nodes {
			total += n.Size
			if !seen[id] {
				seen[id] = true
				ideal += n.Size
			}
		}
	}
	return total, ideal
}

func printTable(w io.Writer, results map[bool][]row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tbudget\tdedup\tof ideal\tlayers\t\tdedup+base\tof ideal+base\tlayers+base\t")
	for i, r := range results[false] {
		b := results[true][i]
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.1f%%\t%d\t\t%.2f\t%.1f%%\t%d\t\n", r.strategy, r.budget,
			r.m.Dedup(), 100*r.m.ShareOfIdeal(), r.m.MaxLayers, b.m.Dedup(), 100*b.m.ShareOfIdeal(), b.m.MaxLayers)
	}
	return tw.Flush()
}

// graphFor resolves roots and builds a planning-only graph: every package
// a node with its installed size and a Contents keyed by name and version.
func graphFor(idx *deb.Index, arch string, roots []string) (*closure.Graph, error) {
	res, err := deb.Resolve(idx, deb.ResolveOptions{Arch: arch, Roots: roots})
	if err != nil {
		return nil, err
	}
	id := func(name string) string { return "deb:" + name }
	g := closure.New()
	for _, rp := range res.Packages {
		p := rp.Pkg
		deps := make([]string, len(rp.Deps))
		for i, d := range rp.Deps {
			deps[i] = id(d)
		}
		n := &closure.Node{
			ID: id(p.Name), Kind: closure.KindDeb, Name: p.Name, Version: p.Version, Arch: p.Arch,
			Size: p.InstalledSize * 1024, Deps: deps,
			Contents: closure.StaticContents{ID: p.Name + "=" + p.Version},
		}
		if err := g.Add(n); err != nil {
			return nil, err
		}
	}
	for _, r := range roots {
		g.Roots = append(g.Roots, id(r))
	}
	return g, g.Validate()
}

// loadIndex reads the suite's main Packages index: from file when given,
// else from the signed archive of the host's apt sources, verified against
// the InRelease signature and cached in strata's store.
func loadIndex(ctx context.Context, suite, arch, file string, log io.Writer) (*deb.Index, error) {
	idx := &deb.Index{Label: suite + "/main " + arch}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading -packages: %w", err)
		}
		pk, err := parse(file, raw)
		if err != nil {
			return nil, fmt.Errorf("reading -packages %s: %w", file, err)
		}
		idx.Packages = pk
		return idx, nil
	}
	root, err := store.DefaultRoot()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(root)
	if err != nil {
		return nil, err
	}
	idx, _, err = deb.LoadIndex(ctx, st, deb.IndexOptions{Suite: suite, Arch: arch, Log: events.New(events.WriterHandler(log))})
	return idx, err
}

func parse(name string, raw []byte) ([]deb.Package, error) {
	var r io.Reader = bytes.NewReader(raw)
	if strings.HasSuffix(name, ".xz") {
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("decompressing %s: %w", name, err)
		}
		r = xr
	}
	return deb.ParsePackages(r)
}

func uniq(xs []string) []string {
	var out []string
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
