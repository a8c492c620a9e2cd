package deb

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
)

func TestSourceResolveGraph(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("app"), st)
	if src.Name() != "debian" {
		t.Fatalf("Name() = %q", src.Name())
	}
	var log bytes.Buffer
	res, err := src.Resolve(context.Background(), amd64Request(&log))
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	wantIDs := []string{"deb:app:amd64", "deb:hello:amd64", "deb:libc6:amd64", "deb:libgcc-s1:amd64", "deb:lynx:amd64", SystemNodeID}
	if !reflect.DeepEqual(g.IDs(), wantIDs) {
		t.Fatalf("IDs %v, want %v", g.IDs(), wantIDs)
	}
	if !reflect.DeepEqual(g.Roots, []string{"deb:app:amd64"}) {
		t.Errorf("roots %v", g.Roots)
	}
	app := g.Nodes["deb:app:amd64"]
	if app.Kind != closure.KindDeb || app.Name != "app" || app.Version != "1.0-1" || app.Arch != "amd64" {
		t.Errorf("app node %+v", app)
	}
	if !reflect.DeepEqual(app.Deps, []string{"deb:hello:amd64", "deb:lynx:amd64"}) {
		t.Errorf("app deps %v", app.Deps)
	}
	wantMeta := map[string]string{
		"sha256": a.debs["app"], "filename": "pool/main/app/app_1.0-1_amd64.deb",
		"maintainer": "Test Maintainer <m@example.invalid>", "source": "app", "homepage": "https://example.invalid/app",
		"section": "misc", "description": "the app package", "debSize": app.Meta["debSize"],
		"purl": "pkg:deb/debian/app@1.0-1?arch=amd64&distro=debian", "distro": "debian", // suite "testing" has no number
	}
	if !reflect.DeepEqual(app.Meta, wantMeta) || app.Meta["debSize"] == "0" {
		t.Errorf("app meta %v, want %v", app.Meta, wantMeta)
	}
	if want := int64(1024); app.Size != want { // Installed-Size: 1 (KiB)
		t.Errorf("app size %d, want %d", app.Size, want)
	}
	ents, err := app.Contents.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ents, func(e closure.Entry) bool { return e.Path == "usr/share/app/version" }) {
		t.Errorf("app entries lack usr/share/app/version: %v", ents)
	}
	sys := g.Nodes[SystemNodeID]
	if sys.Kind != closure.KindGenerated || sys.Contents == nil || len(sys.Deps) != 0 || sys.Size == 0 {
		t.Errorf("system node %+v", sys)
	}
	sysEnts, err := sys.Contents.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Issue 14: the dpkg status of a package travels in its own layer.
	if slices.ContainsFunc(sysEnts, func(e closure.Entry) bool { return strings.HasPrefix(e.Path, "var/lib/dpkg/status.d/") }) {
		t.Errorf("system files hold dpkg status records; they belong to the packages' own contents")
	}
	libcEnts, err := g.Nodes["deb:libc6:amd64"].Contents.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(libcEnts, func(e closure.Entry) bool { return e.Path == "var/lib/dpkg/status.d/libc6" }) {
		t.Errorf("libc6's contents lack its dpkg status")
	}
	if k := g.Nodes["deb:libc6:amd64"].Contents.Key(); !strings.HasSuffix(k, ":minimal-v1:status-v1") {
		t.Errorf("libc6's contents key %s does not name the prune rule and the status record", k)
	}
	if !strings.Contains(log.String(), "downloading 5 packages") {
		t.Errorf("log %q", log.String())
	}

	// With the lock and every .deb in the store: no network at all, the
	// same lock and the same graph.
	before := a.hitCount("")
	req := amd64Request(nil)
	req.Locked = res.Lock
	res2, err := src.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.hitCount("") - before; n != 0 {
		t.Errorf("%d requests with a lock and a warm store, want 0", n)
	}
	if !bytes.Equal(res.Lock, res2.Lock) {
		t.Errorf("locked resolution changed the lock:\n%s\n%s", res.Lock, res2.Lock)
	}
	if !reflect.DeepEqual(graphSummary(g), graphSummary(res2.Graph)) {
		t.Errorf("locked resolution changed the graph")
	}

	// With the lock and an empty store: only the .debs are fetched.
	poolBefore, distsBefore := a.hitCount("pool/"), a.hitCount("dists/")
	res3, err := New(a.spec("app"), testStore(t)).Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.hitCount("pool/") - poolBefore; n != 5 {
		t.Errorf("%d .deb downloads into an empty store, want 5", n)
	}
	if n := a.hitCount("dists/") - distsBefore; n != 0 {
		t.Errorf("%d archive metadata requests with a lock, want 0", n)
	}
	if !reflect.DeepEqual(graphSummary(g), graphSummary(res3.Graph)) {
		t.Errorf("locked resolution into an empty store changed the graph")
	}
}

func graphSummary(g *closure.Graph) []string {
	var out []string
	for _, id := range g.IDs() {
		n := g.Nodes[id]
		key := ""
		if n.Contents != nil {
			key = n.Contents.Key()
		}
		b, _ := json.Marshal(n.Meta)
		out = append(out, strings.Join([]string{id, n.Version, strings.Join(n.Deps, ","), key, string(b)}, " "))
	}
	return append(out, g.Roots...)
}

func TestLockDoesNotFitSpec(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	l, err := New(a.spec("hello"), st).ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := l.Marshal()
	// The archive moves on and the spec asks for one more package: the
	// locked versions stay, the new package comes in.
	a.publish(t, append(standardPackages(), pkgOf("libc6", "2.37-1", "amd64", "Multi-Arch: same", "Depends: libgcc-s1")), true)
	var log bytes.Buffer
	req := amd64Request(&log)
	req.Locked = raw
	l2, err := New(a.spec("hello", "lynx"), st).ResolveLock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range l2.Packages {
		got = append(got, p.Name+"="+p.Version)
	}
	if strings.Join(got, " ") != "hello=2.10-3 libc6=2.36-9 libgcc-s1=12.2.0-14 lynx=2.9-1" {
		t.Errorf("re-resolved lock %v", got)
	}
	if !strings.Contains(log.String(), "strata.lock has packages [hello], the spec asks for [hello lynx]; resolving again") {
		t.Errorf("log %q", log.String())
	}
	// Another suite keeps nothing.
	old := *l
	old.Suite = "oldrelease"
	old.Packages = slices.Clone(old.Packages)
	for i := range old.Packages {
		old.Packages[i].Suite = "oldrelease"
	}
	raw2, _ := old.Marshal()
	req.Locked = raw2
	l3, err := New(a.spec("hello"), st).ResolveLock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if l3.Packages[1].Name != "libc6" || l3.Packages[1].Version != "2.37-1" {
		t.Errorf("after a suite change: %+v", l3.Packages[1])
	}
	req.Locked = json.RawMessage(`{"suite":"testing"}`)
	if _, err := New(a.spec("hello"), st).ResolveLock(context.Background(), req); err == nil || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("error %v, want an incomplete-lock error", err)
	}
}

func TestLockUpdate(t *testing.T) {
	a := newTestArchive(t, standardPackages())
	st := testStore(t)
	src := New(a.spec("hello"), st)
	l1, err := src.ResolveLock(context.Background(), amd64Request(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := l1.Marshal()
	// The archive moves on: newer hello and libc6, the old ones still there.
	newer := append(standardPackages(),
		pkgOf("hello", "2.12-1", "amd64", "Depends: libc6 (>= 2.34)"),
		pkgOf("libc6", "2.37-1", "amd64", "Multi-Arch: same", "Depends: libgcc-s1"))
	a.publish(t, newer, true)

	versions := func(l *Lock) string {
		var s []string
		for _, p := range l.Packages {
			s = append(s, p.Name+"="+p.Version)
		}
		return strings.Join(s, " ")
	}
	req := amd64Request(nil)
	req.Locked = raw
	kept, err := src.ResolveLock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(kept); got != "hello=2.10-3 libc6=2.36-9 libgcc-s1=12.2.0-14" {
		t.Errorf("without update: %s", got)
	}
	req.Update, req.UpdateNames = true, []string{"hello"}
	partial, err := src.ResolveLock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(partial); got != "hello=2.12-1 libc6=2.36-9 libgcc-s1=12.2.0-14" {
		t.Errorf("update hello: %s", got)
	}
	req.UpdateNames = nil
	full, err := src.ResolveLock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(full); got != "hello=2.12-1 libc6=2.37-1 libgcc-s1=12.2.0-14" {
		t.Errorf("update all: %s", got)
	}
}
