package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// RepoRoot is the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Strata returns the path of a strata binary built from this tree (once
// per process).
func Strata(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "strata")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/strata")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Result is one run of a command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs strata with args (and extra environment) and returns its output.
func Run(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(Strata(t), args...)
	cmd.Env = append(os.Environ(), env...)
	return RunCmd(t, cmd)
}

// RunCmd runs cmd and returns its output and exit code; a command that
// cannot start at all fails the test.
func RunCmd(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// MustRun is Run that fails the test unless strata exits 0.
func MustRun(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	r := Run(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("strata %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	return r
}

// Cmd runs an external command and returns its combined output, failing
// the test on error.
func Cmd(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// UniqueTag returns a Docker tag no other test uses, and removes the image
// when the test ends.
func UniqueTag(t testing.TB, name string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	tag := fmt.Sprintf("strata-e2e-%s:%s", name, hex.EncodeToString(b))
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// StaticHello compiles examples/hello-go statically into dir/bin/hello.
func StaticHello(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "bin", "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./examples/hello-go")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building hello: %v\n%s", err, b)
	}
	return out
}

// eachEntry calls fn for every entry of a layer's tar stream, with the
// entry's content as r, until fn returns false.
func eachEntry(t testing.TB, l v1.Layer, fn func(h *tar.Header, r io.Reader) bool) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("reading a layer: %v", err)
		}
		if !fn(h, tr) {
			return
		}
	}
}
