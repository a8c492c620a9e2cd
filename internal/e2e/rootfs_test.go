package e2e

import (
	"archive/tar"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/internal/testutil"
)

// accountsSpec is a files-only image (a static busybox) with accounts; it
// runs as nonroot.
const accountsSpec = `name: accounts
files:
  - src: busybox
    dst: /bin/busybox
accounts:
  users:
    - {name: app, uid: 1000, gid: 1000}
    - {name: svc, uid: 1001, gid: 1000, home: /srv, shell: /bin/busybox}
  groups:
    - {name: app, gid: 1000}
config:
  entrypoint: [/bin/busybox]
  user: nonroot
`

// accountsImage builds accountsSpec into a docker-archive with the given tag.
func accountsImage(t *testing.T, tag string) string {
	t.Helper()
	bb := testutil.RequireTool(t, "busybox")
	dir := writeSpecDir(t, accountsSpec)
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "accounts.tar")
	MustRun(t, nil, "build", dir, "--cache", t.TempDir(), "--tag", tag, "-o", out)
	return out
}

type flatEntry struct {
	hdr  *tar.Header
	body string
}

// flatten returns every entry of a docker-archive's flattened file system.
func flatten(t *testing.T, tarPath string) map[string]flatEntry {
	t.Helper()
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatalf("reading %s: %v", tarPath, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]flatEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the layers of %s: %v", tarPath, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(path.Clean(h.Name), "/")] = flatEntry{h, string(b)}
	}
}

// TestFilesOnlyAccounts checks that a files-only spec with accounts gets
// /etc/passwd and /etc/group with the defaults and its accounts, a home
// for each account strata assigns one, /tmp and os-release.
func TestFilesOnlyAccounts(t *testing.T) {
	fs := flatten(t, accountsImage(t, "strata-e2e-accounts:files"))
	if got, want := fs["etc/passwd"].body, "root:x:0:0:root:/root:/sbin/nologin\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"+
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"+
		"app:x:1000:1000:app:/home/app:/sbin/nologin\n"+
		"svc:x:1001:1000:svc:/srv:/bin/busybox\n"; got != want {
		t.Errorf("/etc/passwd:\n%s\nwant:\n%s", got, want)
	}
	if got, want := fs["etc/group"].body, "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\napp:x:1000:\n"; got != want {
		t.Errorf("/etc/group:\n%s\nwant:\n%s", got, want)
	}
	if got := fs["etc/os-release"].body; !strings.Contains(got, "\nID=linux\n") {
		t.Errorf("/etc/os-release:\n%s", got)
	}
	if !strings.Contains(fs["etc/nsswitch.conf"].body, "passwd:         files\n") {
		t.Errorf("/etc/nsswitch.conf:\n%s", fs["etc/nsswitch.conf"].body)
	}
	for p, w := range map[string]struct {
		mode     int64
		uid, gid int
	}{
		"tmp":          {0o1777, 0, 0},
		"root":         {0o700, 0, 0},
		"home":         {0o755, 0, 0},
		"home/nonroot": {0o700, 65532, 65532},
		"home/app":     {0o700, 1000, 1000},
	} {
		e, ok := fs[p]
		if !ok {
			t.Errorf("/%s is missing", p)
			continue
		}
		if e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode&0o7777 != w.mode || e.hdr.Uid != w.uid || e.hdr.Gid != w.gid {
			t.Errorf("/%s: type %c mode %o %d:%d, want a folder %o %d:%d", p, e.hdr.Typeflag, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid, w.mode, w.uid, w.gid)
		}
	}
	for _, absent := range []string{"srv", "nonexistent", "bin/sh", "var/lib/dpkg"} {
		if _, ok := fs[absent]; ok {
			t.Errorf("/%s should not be in the image", absent)
		}
	}
}

// TestFilesOnlyRunsAsNonroot runs the files-only image with accounts in
// Docker: `user: nonroot` resolves through the generated /etc/passwd, and
// the home folder exists, is owned by nonroot and is writable.
func TestFilesOnlyRunsAsNonroot(t *testing.T) {
	testutil.RequireDocker(t)
	tag := UniqueTag(t, "accounts")
	Cmd(t, "docker", "load", "-i", accountsImage(t, tag))
	if got := Cmd(t, "docker", "run", "--rm", tag, "id"); strings.TrimSpace(got) != "uid=65532(nonroot) gid=65532(nonroot) groups=65532(nonroot)" &&
		strings.TrimSpace(got) != "uid=65532(nonroot) gid=65532(nonroot)" {
		t.Errorf("id printed %q, want nonroot 65532", got)
	}
	if got := strings.Fields(Cmd(t, "docker", "run", "--rm", tag, "ls", "-ldn", "/home/nonroot")); len(got) < 4 || got[0] != "drwx------" || got[2] != "65532" || got[3] != "65532" {
		t.Errorf("ls -ldn /home/nonroot printed %q", got)
	}
	if got := Cmd(t, "docker", "run", "--rm", tag, "sh", "-c", `echo ok > "$HOME/probe" && cat "$HOME/probe" && echo "$HOME"`); got != "ok\n/home/nonroot\n" {
		t.Errorf("writing to $HOME printed %q", got)
	}
	// A spec account gets its home too.
	if got := strings.Fields(Cmd(t, "docker", "run", "--rm", "-u", "app", tag, "sh", "-c", `id -un && ls -ldn "$HOME"`)); len(got) < 5 || got[0] != "app" || got[1] != "drwx------" || got[3] != "1000" || got[4] != "1000" {
		t.Errorf("as app: %q", got)
	}
	// /tmp is writable by anyone, as on every system.
	if got := Cmd(t, "docker", "run", "--rm", tag, "sh", "-c", "echo t > /tmp/x && cat /tmp/x"); got != "t\n" {
		t.Errorf("writing /tmp printed %q", got)
	}
}

// TestNixAccountsRunAsNonroot: a Nix-only image with `accounts: {}` (the
// defaults only) runs as nonroot with its home; os-release is neutral.
func TestNixAccountsRunAsNonroot(t *testing.T) {
	testutil.RequireDocker(t)
	d := demoClosure(t)
	dir := specDir(t, nixSpecYAML("nixaccounts", "  paths: "+yamlList(d.busybox), d.bb(), "  user: nonroot\naccounts: {}\n"))
	tag := UniqueTag(t, "nixaccounts")
	_, tarPath := buildLoad(t, dir, tag)
	fs := flatten(t, tarPath)
	if got := fs["etc/passwd"].body; !strings.HasPrefix(got, "root:x:0:0:") || !strings.HasSuffix(got, "\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n") {
		t.Errorf("/etc/passwd:\n%s", got)
	}
	got := strings.Fields(Cmd(t, "docker", "run", "--rm", tag, "sh", "-c", `id -un; . /etc/os-release; echo "$ID"; ls -ldn "$HOME"`))
	if len(got) < 6 || got[0] != "nonroot" || got[1] != "linux" || got[2] != "drwx------" || got[4] != "65532" || got[5] != "65532" {
		t.Errorf("as nonroot in the Nix image: %q", got)
	}
}
