package build

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb/sysfiles"
	"github.com/stratabuild/strata/events"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/layering"
	"github.com/stratabuild/strata/lockfile"
)

func staticNode(id string, kind closure.Kind, entries ...closure.Entry) *closure.Node {
	return &closure.Node{ID: id, Kind: kind, Name: id, Meta: map[string]string{"src": id}, Contents: closure.StaticContents{ID: "test:" + id, List: entries}}
}

func file(p, content string) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Regular, Mode: 0o644, Size: int64(len(content)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

func link(p, target string) closure.Entry {
	return closure.Entry{Path: p, Type: closure.Symlink, Mode: 0o777, Link: target}
}

// graphOf puts each node in its own layer, in the order given.
func graphOf(t *testing.T, nodes ...*closure.Node) (*closure.Graph, *layering.Plan) {
	t.Helper()
	g := closure.New()
	plan := &layering.Plan{}
	for _, n := range nodes {
		if err := g.Add(n); err != nil {
			t.Fatal(err)
		}
		plan.Layers = append(plan.Layers, layering.Layer{Nodes: []string{n.ID}, Title: n.ID})
	}
	return g, plan
}

const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"

// config.user must name an account of the image's final /etc/passwd (a
// later layer's passwd wins); numbers need none. Issue 13 item 5.
func TestCheckImageUser(t *testing.T) {
	rootfs := staticNode("generated:rootfs", closure.KindGenerated, file("etc/passwd", passwd), file("etc/group", "root:x:0:\nnonroot:x:65532:\n"))
	own := staticNode("files:000", closure.KindFiles, file("etc/passwd", "svc:x:100:100::/:/bin/false\n"))
	cases := []struct {
		name  string
		user  string
		nodes []*closure.Node
		want  string // "" for no error
	}{
		{"known user", "nonroot", []*closure.Node{rootfs}, ""},
		{"known user and group", "nonroot:nonroot", []*closure.Node{rootfs}, ""},
		{"numeric", "1234:1234", nil, ""},
		{"numeric uid, no passwd", "65532", []*closure.Node{own}, ""},
		{"unknown user", "app", []*closure.Node{rootfs}, `names the user "app", which /etc/passwd of the image for linux/amd64 does not have (it has root, nobody, nonroot): add it under accounts.users`},
		{"unknown group", "nonroot:staff", []*closure.Node{rootfs}, `names the group "staff", which /etc/group`},
		{"no passwd", "nonroot", []*closure.Node{staticNode("files:000", closure.KindFiles, file("app", "x"))}, "has no /etc/passwd"},
		{"files passwd wins", "svc", []*closure.Node{rootfs, own}, ""},
		{"files passwd wins, nonroot gone", "nonroot", []*closure.Node{rootfs, own}, "(it has svc)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSpec(t, "name: app\nconfig:\n  user: \""+c.user+"\"\n")
			g, plan := graphOf(t, c.nodes...)
			err := checkImage(context.Background(), s, closure.Platform{OS: "linux", Arch: "amd64"}, g, plan, nil, nil)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatal("accepted")
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q lacks %q", err, c.want)
			}
		})
	}
}

// A files symlink whose target the image lacks is a warning naming it;
// links into other nodes, through symlinked folders, or into Nix store
// paths are fine. Issue 13 item 6.
func TestCheckImageDanglingLinks(t *testing.T) {
	system := staticNode("generated:sys", closure.KindGenerated, link("bin", "usr/bin"), file("usr/bin/sh", "sh"))
	store := &closure.Node{ID: "nix:/nix/store/abc-hello", Kind: closure.KindNix, Name: "hello"}
	files := staticNode("files:000", closure.KindFiles,
		file("app/run", "x"),
		link("app/ok", "run"),
		link("app/sh", "/bin/sh"),
		link("app/hello", "/nix/store/abc-hello/bin/hello"),
		link("app/up", "../app/run"),
		link("app/gone", "missing"),
		link("app/abs-gone", "/usr/bin/python3"),
		link("app/loop", "loop"),
	)
	g, plan := graphOf(t, system, store, files)
	var rec events.Recorder
	s := testSpec(t, "name: app\n")
	if err := checkImage(context.Background(), s, closure.Platform{OS: "linux", Arch: "amd64"}, g, plan, nil, events.New(rec.Handle)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rec.Of(events.Warning) {
		got = append(got, strings.Fields(e.Message)[1])
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "/app/abs-gone /app/gone /app/loop" {
		t.Fatalf("warnings for %v, want /app/abs-gone /app/gone /app/loop\n%+v", got, rec.Of(events.Warning))
	}
}

// --update NAME takes source names, debian.packages and locked packages;
// anything else is an error with a suggestion. Issue 13 item 7.
func TestCheckUpdateNames(t *testing.T) {
	s := testSpec(t, "name: app\ndebian:\n  suite: trixie\n  packages: [curl]\n")
	lock := &lockfile.File{}
	lock.Set("debian", "linux/amd64", json.RawMessage(`{"suite":"trixie","components":["main"],"arch":"amd64","packages":[{"name":"libc6","version":"2.41-12","filename":"pool/main/g/glibc/libc6_2.41-12_amd64.deb","sha256":"`+strings.Repeat("ab", 32)+`"}]}`))
	srcs := []closure.Source{&fakeSource{name: "debian"}, &fakeSource{name: "files"}}
	for _, ok := range []string{"curl", "libc6", "debian", "files"} {
		if err := checkUpdateNames(s, srcs, lock, []string{ok}); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	err := checkUpdateNames(s, srcs, lock, []string{"curl", "libc7"})
	var ue *UnknownNameError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--update libc7") || !strings.Contains(err.Error(), "did you mean `libc6`?") {
		t.Fatalf("err = %v", err)
	}
	err = checkUpdateNames(s, srcs, nil, []string{"zzzzzzzz"})
	if err == nil || !strings.Contains(err.Error(), "name a source (debian, files)") {
		t.Fatalf("err = %v", err)
	}
}

// A spec whose sources give nothing for any platform is an error.
func TestResolveRefusesAnEmptyImage(t *testing.T) {
	var calls []string
	_, err := Resolve(context.Background(), testSpec(t, "name: app\n"), testOptions(t, &fakeSource{name: "files", calls: &calls}), ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "the spec has no inputs") {
		t.Fatalf("err = %v", err)
	}
}

// Every image gets PATH; SSL_CERT_FILE only with a CA bundle. Issue 13
// item 15.
func TestDefaultEnvOfGraph(t *testing.T) {
	g, _ := graphOf(t, staticNode("files:000", closure.KindFiles, file("app", "x")))
	if got := strings.Join(defaultEnv(context.Background(), g), ","); got != "PATH="+image.DefaultPath {
		t.Errorf("files-only env = %s", got)
	}
	g, _ = graphOf(t, staticNode("generated:sys", closure.KindGenerated, file(sysfiles.CABundle, "cert")))
	if got := strings.Join(defaultEnv(context.Background(), g), ","); got != "PATH="+image.DefaultPath+",SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("env with a CA bundle = %s", got)
	}
}
