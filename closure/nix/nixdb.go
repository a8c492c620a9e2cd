package nix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
)

// NixDBNodeID is the ID of the generated node holding the Nix database.
const NixDBNodeID = "generated:nix-db"

// nixDBVersion changes when the generated database's layout changes, so
// old cache entries are not reused.
const nixDBVersion = "1"

// nixStateDir is where the image's Nix looks for its state (the default of
// Nix builds; NIX_STATE_DIR is not consulted because the image's Nix is
// not the host's).
const nixStateDir = "nix/var/nix"

// registrationTime is what every registered path's registrationTime is
// set to so the database is byte-reproducible: 1970-01-01T00:00:01Z, the
// default image creation time.
const registrationTime = 1

// buildNixDB generates (or takes from the cache) a Nix database that
// registers infos as valid, as `nix-store --load-db` does for nixpkgs'
// dockerTools includeNixDB, and returns the node holding it. Nix stamps
// each path with the current time; strata resets those stamps with the
// sqlite3 program so the file's bytes depend only on the closure (and on
// the sqlite and Nix versions that wrote it).
func buildNixDB(ctx context.Context, st cache.Trees, infos []PathInfo, roots []string) (*closure.Node, error) {
	reg, err := FormatRegistration(infos)
	if err != nil {
		return nil, fmt.Errorf("generating the Nix database: %w", err)
	}
	ns, err := lookTool("nix-store", "registerClosure")
	if err != nil {
		return nil, err
	}
	sqlite, err := exec.LookPath("sqlite3")
	if err != nil {
		return nil, fmt.Errorf("registerClosure needs sqlite3, which is not on PATH, to make the Nix database reproducible: install it (Debian and Ubuntu: apt-get install sqlite3) or set nix.registerClosure to false")
	}
	sum := sha256.Sum256(append([]byte("strata-nix-db-"+nixDBVersion+"\n"), reg...))
	key := hex.EncodeToString(sum[:])
	dir, err := st.PutDir("nix-db", key, func(tmp string) error {
		root := filepath.Join(tmp, "root")
		cmd := exec.CommandContext(ctx, ns, "--load-db")
		cmd.Stdin = bytes.NewReader(reg)
		cmd.Env = append(cleanEnv(os.Environ(), "NIX_REMOTE", "NIX_STATE_DIR", "NIX_DB_DIR"),
			"NIX_REMOTE=local?root="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("generating the Nix database: nix-store --load-db: %w: %s", err, strings.TrimSpace(string(out)))
		}
		db := filepath.Join(root, filepath.FromSlash(nixStateDir), "db")
		sqlCmd := exec.CommandContext(ctx, sqlite, filepath.Join(db, "db.sqlite"),
			fmt.Sprintf("UPDATE ValidPaths SET registrationTime = %d;", registrationTime))
		if out, err := sqlCmd.CombinedOutput(); err != nil {
			return fmt.Errorf("generating the Nix database: normalising registration times with sqlite3: %w: %s", err, strings.TrimSpace(string(out)))
		}
		for _, f := range []string{"db.sqlite", "schema"} {
			if err := os.Rename(filepath.Join(db, f), filepath.Join(tmp, f)); err != nil {
				return fmt.Errorf("generating the Nix database: %w", err)
			}
		}
		return os.RemoveAll(root)
	})
	if err != nil {
		return nil, err
	}
	var entries []closure.Entry
	for _, d := range []string{"nix", "nix/var", "nix/var/nix", "nix/var/nix/db", "nix/var/nix/gcroots", "nix/var/nix/gcroots/strata"} {
		entries = append(entries, closure.Entry{Path: d, Type: closure.Dir, Mode: 0o755})
	}
	for _, f := range []string{"db.sqlite", "schema"} {
		p := filepath.Join(dir, f)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading the cached Nix database: %w", err)
		}
		size := fi.Size()
		entries = append(entries, closure.Entry{
			Path: nixStateDir + "/db/" + f, Type: closure.Regular, Mode: 0o644, Size: size,
			Open: func() (io.ReadCloser, error) { return openSized(p, size) },
		})
	}
	deps := make([]string, 0, len(roots))
	for _, r := range roots {
		// A garbage-collector root per requested path keeps `nix-collect-garbage`
		// in the container from deleting the image's closure.
		entries = append(entries, closure.Entry{Path: nixStateDir + "/gcroots/strata/" + path.Base(r), Type: closure.Symlink, Mode: 0o777, Link: r})
		deps = append(deps, "nix:"+r)
	}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	return &closure.Node{
		ID:       NixDBNodeID,
		Kind:     closure.KindGenerated,
		Name:     "nix-db",
		Size:     total,
		Deps:     deps,
		Meta:     map[string]string{"registration": "sha256:" + key, "paths": fmt.Sprint(len(infos))},
		Contents: closure.StaticContents{ID: "nix-db:" + key + ":" + strings.Join(roots, ","), List: entries},
	}, nil
}

// cleanEnv drops the named variables from env.
func cleanEnv(env []string, names ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
