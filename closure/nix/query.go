package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// installHint tells the user how to get Nix.
const installHint = "install Nix (Debian and Ubuntu: apt-get install nix-bin; elsewhere the Nix installer from the Nix website), or remove the nix: section from the spec"

// storeDir is the Nix store folder: $NIX_STORE_DIR, else /nix/store.
func storeDir() string {
	if d := os.Getenv("NIX_STORE_DIR"); d != "" {
		return filepath.Clean(d)
	}
	return "/nix/store"
}

// lookTool finds a Nix program or explains how to install it.
func lookTool(name, why string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s needs %s, which is not on PATH: %s", why, name, installHint)
	}
	return p, nil
}

// run runs a program and returns its stdout; a failure carries stderr.
func run(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		return nil, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(shortArgs(args), " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// shortArgs keeps error messages readable when a command got many paths.
func shortArgs(args []string) []string {
	if len(args) <= 8 {
		return args
	}
	return append(append([]string(nil), args[:8]...), fmt.Sprintf("(and %d more)", len(args)-8))
}

// resolveRoot maps a user-given path (a store path, a path inside one, or
// a symlink to one such as ./result) to its store path.
func resolveRoot(p, dir string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	sd := storeDir()
	if checkStorePath(p) == nil && filepath.Dir(p) == sd {
		if _, err := os.Lstat(p); err != nil {
			return "", fmt.Errorf("nix path %s is not in the store: build or fetch it first (nix-store --realise %s)", p, p)
		}
		return p, nil
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("nix path %s: %w (build it first, e.g. nix-build or nix build, or fix the path)", p, err)
	}
	rel, err := filepath.Rel(sd, real)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("nix path %s resolves to %s, which is not in the Nix store %s: give a store path or a result symlink", p, real, sd)
	}
	sp := filepath.Join(sd, strings.SplitN(rel, string(filepath.Separator), 2)[0])
	if err := checkStorePath(sp); err != nil {
		return "", fmt.Errorf("nix path %s: %w", p, err)
	}
	return sp, nil
}

// buildInstallables runs `nix build --no-link --json` on the
// installables (flake references like .#app, store paths, .drv paths) and
// returns their output paths. --json rather than --print-out-paths keeps
// Nix 2.8 (Debian 12's nix-bin) working.
func buildInstallables(ctx context.Context, dir string, installables []string) ([]string, error) {
	nixBin, err := lookTool("nix", "building nix.installables")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--extra-experimental-features", "nix-command flakes", "build", "--no-link", "--json"}, installables...)
	out, err := run(ctx, dir, nixBin, args...)
	if err != nil {
		return nil, fmt.Errorf("building nix installables: %w", err)
	}
	return parseBuildJSON(out)
}

// parseBuildJSON reads `nix build --json` output: a list of objects with
// either "path" (a store path installable) or "outputs" (name -> path).
func parseBuildJSON(out []byte) ([]string, error) {
	var results []struct {
		Path    string            `json:"path"`
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("building nix installables: reading nix build --json output: %w", err)
	}
	var paths []string
	for _, r := range results {
		ps := []string{}
		if r.Path != "" {
			ps = append(ps, r.Path)
		}
		names := make([]string, 0, len(r.Outputs))
		for n := range r.Outputs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ps = append(ps, r.Outputs[n])
		}
		for _, p := range ps {
			if err := checkStorePath(p); err != nil {
				return nil, fmt.Errorf("building nix installables: nix build printed %q: %w", p, err)
			}
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, errors.New("building nix installables: nix build printed no output paths")
	}
	return paths, nil
}

// queryClosure asks the local store for the closure of roots: with
// `nix path-info --json --recursive` when nix is on PATH (and viaNixStore
// is false), else with `nix-store --query --requisites` and
// `nix-store --dump-db`.
func queryClosure(ctx context.Context, roots []string, viaNixStore bool) ([]PathInfo, error) {
	if !viaNixStore {
		if nixBin, err := exec.LookPath("nix"); err == nil {
			args := append([]string{"--extra-experimental-features", "nix-command", "path-info", "--json", "--recursive"}, roots...)
			out, err := run(ctx, "", nixBin, args...)
			if err != nil {
				return nil, fmt.Errorf("querying the closure of %s: %w (are the paths built? try nix-store --realise)", strings.Join(shortArgs(roots), " "), err)
			}
			return parsePathInfoJSON(out)
		}
	}
	ns, err := lookTool("nix-store", "resolving nix.paths")
	if err != nil {
		return nil, err
	}
	out, err := run(ctx, "", ns, append([]string{"--query", "--requisites"}, roots...)...)
	if err != nil {
		return nil, fmt.Errorf("querying the closure of %s: %w (are the paths built? try nix-store --realise)", strings.Join(shortArgs(roots), " "), err)
	}
	closure := strings.Fields(string(out))
	out, err = run(ctx, "", ns, append([]string{"--dump-db"}, closure...)...)
	if err != nil {
		return nil, fmt.Errorf("reading the store's registration of %d paths: %w", len(closure), err)
	}
	return ParseRegistration(bytes.NewReader(out))
}
